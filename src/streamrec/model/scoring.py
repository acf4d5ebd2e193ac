"""Turning scores into lists: normalising, top-k with exclusions, MMR diversity.

Shared by the strategies, the ranker's features and the engine.

>>> unit_max(np.array([1.0, 4.0, 2.0])).tolist()
[0.25, 1.0, 0.5]
>>> rows, scores = top_items(np.array([0.2, 0.9, 0.9, 0.5]), k=2, exclude=np.array([1]))
>>> rows.tolist(), scores.tolist()
([2, 3], [0.9, 0.5])
"""

from __future__ import annotations

import numpy as np


def unit_max(values: np.ndarray) -> np.ndarray:
    """Scaled so the largest is 1 (all zeros when nothing is positive)."""
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest value (1 <= k <= size).

    Partitions only the positive values when there are at least ``k`` of them: decayed
    counts are mostly exactly zero over a large catalogue, and numpy's selection is
    about 8x slower on such tie-heavy arrays than on distinct values.

    >>> kth_largest(np.array([0.0, 3.0, 0.0, 1.0, 2.0]), 2)
    2.0
    >>> kth_largest(np.array([0.0, 3.0, 0.0, -1.0]), 3)
    0.0
    """
    positive = values[values > 0]
    pool = positive if positive.size >= k else values
    return float(np.partition(pool, pool.size - k)[pool.size - k])


def top_items(
    scores: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
    diversity: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the best ``k`` items; ``diversity`` > 0 reranks by MMR.

    Ties break toward the lower row (the item seen first), so results are
    deterministic.
    """
    scores = scores.astype(np.float64, copy=True)
    if exclude is not None and exclude.size:
        scores[exclude[exclude < scores.size]] = -np.inf
    valid = np.flatnonzero(np.isfinite(scores))
    if valid.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    pool = min(valid.size, k if diversity <= 0 else 4 * k)
    if valid.size > 4 * pool:  # keep only rows that can make the pool (ties at the cut too)
        cut = kth_largest(scores[valid], pool)
        valid = valid[scores[valid] >= cut]
    order = valid[np.lexsort((valid, -scores[valid]))][:pool]
    if diversity > 0 and vectors is not None and pool > 1:
        order = _mmr(order, scores, vectors, k, diversity)
    order = order[:k]
    return order, scores[order]


def _mmr(
    order: np.ndarray, scores: np.ndarray, vectors: np.ndarray, k: int, diversity: float
) -> np.ndarray:
    """Maximal marginal relevance: trade relevance for distance to what is already chosen."""
    relevance = unit_max(scores[order] - scores[order].min() + 1e-9)
    candidate_vectors = vectors[order]
    chosen: list[int] = [0]
    redundancy = candidate_vectors @ candidate_vectors[0]
    while len(chosen) < min(k, len(order)):
        gain = (1 - diversity) * relevance - diversity * redundancy
        gain[chosen] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        redundancy = np.maximum(redundancy, candidate_vectors @ candidate_vectors[pick])
    return order[chosen]
