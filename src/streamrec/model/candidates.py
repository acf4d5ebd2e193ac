"""Candidate generation: the first stage of the two-stage ``user`` list.

The learned ranker featurises only a bounded set of at most ``size`` (C)
candidate rows per user, drawn from four sources with a quarter of C each:

* the items nearest to the user's profile
  (:class:`~streamrec.model.item_index.ItemIndex`: an exact scan while the
  catalogue has at most ``exact_below`` items, an hnswlib HNSW index with
  incremental inserts above),
* co-occurrence neighbours of the user's recent items and transitions from
  their last ones,
* the head of the user's first and second clusters by cluster engagement,
* the trending head.

While the catalogue has at most C items every item is a candidate, so small
catalogues are scored exactly as by full scoring.

Full-ranking evaluation scores every item: outside the candidates an item gets
the **fallback score** ``min(candidate scores) - 1 + 0.5 * unit_max(trending)``,
so every non-candidate ranks below every candidate, and among themselves by
trending (:func:`with_fallback`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from streamrec.core.arrays import member_of, unique_rows
from streamrec.model.item_index import ItemIndex
from streamrec.model.items import ItemStats
from streamrec.model.kernels import COMPILED, union_rows
from streamrec.model.profiles import UserProfiles
from streamrec.model.scoring import kth_largest, unit_max
from streamrec.model.signals import ItemSignals

NEAREST = 64  # items nearest to the profile or centroid (HNSW's ef follows it)


class CandidateSource(Protocol):
    """The parts of the model candidate generation reads (the engine has them)."""

    items: ItemStats
    profiles: UserProfiles
    signals: ItemSignals
    clock: int


class CandidateGenerator:
    """At most ``size`` candidate rows per user (see the module docstring)."""

    def __init__(
        self, dim: int, size: int = 1000, exact_below: int = 5000, threads: int = 1
    ) -> None:
        if size < 4:
            raise ValueError(f"candidates must be >= 4, got {size}")
        self.size = size
        self.index = ItemIndex(dim, exact_below, threads=threads)
        self._heads: dict[str, np.ndarray] = {}  # sorted best rows per source, this clock
        self._complete: dict[str, bool] = {}  # whether a cached head holds every ranked row
        self._cluster_rows: dict[tuple[int, bool], np.ndarray] = {}
        self._heads_at = -1

    def reset(self, keep_index: bool = False) -> None:
        """Forget the cached heads and, unless ``keep_index``, the index (after a
        checkpoint was loaded)."""
        old = self.index
        if not keep_index:
            self.index = ItemIndex(
                old.dim, old.exact_below, old.m, old.ef, old.keep_log, old.threads
            )
        self._heads, self._complete, self._cluster_rows, self._heads_at = {}, {}, {}, -1

    def _new_clock(self, clock: int) -> None:
        """Heads and cluster candidates change only when the model learns."""
        if self._heads_at != clock:
            self._heads, self._complete, self._cluster_rows = {}, {}, {}
            self._heads_at = clock

    def rows(self, model: CandidateSource, user_id: str) -> np.ndarray:
        """Sorted candidate rows of a known user: every row while the catalogue <= C,
        otherwise at most C rows and none the user has seen."""
        n = model.items.n_items
        if n <= self.size:
            return np.arange(n, dtype=np.int64)
        self._new_clock(model.clock)
        row = model.profiles.index[user_id]
        seen = model.profiles.seen_items(user_id)
        quota = self.size // 4
        parts = [self._trending(model, quota + seen.size), *self._neighbours(model, seen, quota)]
        vector = model.profiles.vectors(np.array([row]))[0]
        if vector.any():
            parts.append(self.index.nearest(model.items, vector, self._near_k(seen.size)))
        first, second = int(model.profiles.cluster[row]), int(model.profiles.cluster2[row])
        for cluster, share in ((first, quota - quota // 3), (second, quota // 3)):
            if cluster >= 0:
                parts.append(self._cluster_head(model, cluster, share + seen.size))
        cut = [quota] * len(parts)
        return _union(parts, cut, seen, self.size)

    def sync(self, model: CandidateSource) -> None:
        """Bring the index up to the model's items (:meth:`ItemIndex.sync`) while it is
        queried at all (the catalogue has more than C items)."""
        if model.items.n_items > self.size:
            self.index.sync(model.items)

    def _near_k(self, seen: int) -> int:
        """How many nearest items a user with ``seen`` items asks the index for."""
        near = min(self.size // 4, NEAREST)
        return near + min(seen, near)

    def prefetch(
        self, model: CandidateSource, user_ids: list[str], centroids: list[np.ndarray]
    ) -> None:
        """Ask the index for the nearest items of these users' lists and these clusters'
        lists together (:meth:`ItemIndex.prefetch`: the same answers, on the index's
        threads); :meth:`rows` and :meth:`cluster_rows` then find them."""
        if model.items.n_items <= self.size:
            return  # every item is a candidate: no query
        rows = np.array([model.profiles.index[u] for u in user_ids], dtype=np.int64)
        vectors = model.profiles.vectors(rows)
        wanted = vectors.any(axis=1)
        ks = [
            self._near_k(model.profiles.seen_items(u).size)
            for u, want in zip(user_ids, wanted.tolist(), strict=True)
            if want
        ]
        queries = [vectors[wanted], *(c[None, :] for c in centroids)]
        ks += [min(self.size // 4, NEAREST)] * len(centroids)
        self.index.prefetch(model.items, np.concatenate(queries), ks)

    def cluster_rows(
        self, model: CandidateSource, cluster_id: int, centroid: np.ndarray | None
    ) -> np.ndarray:
        """Sorted candidates of a cluster's list: half its engagement head, a quarter
        each the trending head and the items nearest its centroid (all rows while <= C)."""
        n = model.items.n_items
        if n <= self.size:
            return np.arange(n, dtype=np.int64)
        self._new_clock(model.clock)
        key = (cluster_id, centroid is not None)  # a cluster's list and its group's share them
        if key not in self._cluster_rows:
            quota = self.size // 4
            parts = [self._cluster_head(model, cluster_id, 2 * quota), self._trending(model, quota)]
            if centroid is not None:
                parts.append(self.index.nearest(model.items, centroid, min(quota, NEAREST)))
            self._cluster_rows[key] = unique_rows(np.concatenate(parts)).astype(np.int64)
        return self._cluster_rows[key]

    def _trending(self, model: CandidateSource, k: int) -> np.ndarray:
        return self._ranked("trending", k, lambda: model.items.trending_scores(model.clock))

    def _cluster_head(self, model: CandidateSource, cluster: int, k: int) -> np.ndarray:
        def engagement() -> np.ndarray:
            return model.items.cluster_engagement(cluster, model.clock)

        return self._ranked(f"cluster:{cluster}", k, engagement, positive=True)

    def _ranked(
        self, key: str, k: int, scores: Callable[[], np.ndarray], positive: bool = False
    ) -> np.ndarray:
        """The ``k`` best rows of a score vector that changes only when the model learns.

        Heads are cached as sorted prefixes (best first, ties by row), so users who need
        different lengths (their quota plus what they have seen) share one partial sort
        per model clock; a longer request re-sorts a head twice as long."""
        head = self._heads.get(key)
        if head is None or (k > head.size and not self._complete.get(key, False)):
            values = scores()
            length = min(max(k, 2 * (head.size if head is not None else 0)), values.size)
            head = _sorted_head(values, length, positive)
            self._heads[key] = head
            self._complete[key] = length == values.size or (positive and head.size < length)
        return head[:k]

    def _neighbours(self, model: CandidateSource, seen: np.ndarray, quota: int) -> list[np.ndarray]:
        """Co-occurrence neighbours of the recent items, transitions of the last ones
        (from the sums the user's features read too)."""
        if not seen.size:
            return []
        sums = model.signals.history_sums(seen.tolist())
        near, t_near = sums.near > 0, sums.t_near > 0  # columns the rows hold
        return [
            _by_value(sums.cols[near], sums.near[near], quota + seen.size),
            _by_value(sums.t_cols[t_near], sums.t_near[t_near], quota // 2 + seen.size),
        ]


def _sorted_head(scores: np.ndarray, k: int, positive: bool = False) -> np.ndarray:
    """Rows of the ``k`` largest scores, best first, ties by row (only positive scores
    when ``positive``: a cluster engages with few items, so only those are ranked)."""
    pool = np.flatnonzero(scores > 0) if positive else None
    values = scores if pool is None else scores[pool]
    k = min(k, values.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < values.size:  # what beats the k-th score, then the lowest rows tied with it
        kth = kth_largest(values, k)
        above = np.flatnonzero(values > kth)
        local = np.concatenate([above, np.flatnonzero(values == kth)[: k - above.size]])
    else:
        local = np.arange(values.size)
    rows = local if pool is None else pool[local]
    return rows[np.lexsort((rows, -scores[rows]))].astype(np.int64)


def _by_value(cols: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    if cols.size <= k:
        return cols
    return cols[np.argpartition(-values, k - 1)[:k]]


def _union(parts: list[np.ndarray], cut: list[int], seen: np.ndarray, size: int) -> np.ndarray:
    """Each part without seen rows, cut to its quota; their sorted union, at most ``size``."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if COMPILED:  # one pass, no sort (kernels.py): the same rows
        return union_rows(parts, cut, seen, size)
    rows = np.concatenate(parts)
    fresh = ~member_of(rows, seen)  # one membership test for every part
    ends = np.cumsum([p.size for p in parts])
    kept = [
        rows[end - p.size : end][fresh[end - p.size : end]][:c]
        for p, c, end in zip(parts, cut, ends.tolist(), strict=True)
    ]
    return unique_rows(np.concatenate(kept))[:size].astype(np.int64)


def with_fallback(
    rows: np.ndarray, scores: np.ndarray, n_items: int, trending: np.ndarray
) -> np.ndarray:
    """Full-ranking scores: candidates keep theirs, every other item gets the fallback
    ``min(candidate scores) - 1 + 0.5 * unit_max(trending)`` (below every candidate)."""
    if rows.size == n_items:  # every item is a candidate (rows in order)
        return scores
    floor = float(scores.min()) if scores.size else 0.0
    full = floor - 1.0 + 0.5 * unit_max(trending[:n_items].astype(np.float64))
    full[rows] = scores
    return full
