"""Ranking metrics with binary relevance, following RecBole's ``metrics.py`` definitions.

For a ranked list ``r`` (best first), the set of relevant items ``R`` and a
cut-off ``k`` (``rel_i`` is 1 when the item at rank ``i`` is in ``R``):

- ``hit@k``       = 1 if any of the top k is relevant
- ``precision@k`` = sum_{i<=k} rel_i / k
- ``recall@k``    = sum_{i<=k} rel_i / |R|
- ``ndcg@k``      = DCG / IDCG, DCG = sum_{i<=k} rel_i / log2(i + 1),
  IDCG = sum_{i<=min(|R|,k)} 1 / log2(i + 1)
- ``map@k``       = sum_{i<=k} rel_i * precision@i / min(|R|, k)
- ``mrr``         = 1 / rank of the first relevant item (0 if none in the list;
  with ``k`` only the top k count, as RecBole's MRR@k)

Averages are over evaluation events (one per served list), as RecBole
averages over users. Coverage is the share of the catalogue that appeared in
any top-k list; CTR is clicks per impression.

>>> m = rank_metrics(["a", "b", "c"], {"b"}, k=2)
>>> m["hit@2"], round(m["ndcg@2"], 4), m["mrr"]
(1.0, 0.6309, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2))


def rank_metrics(
    ranked: Sequence[str], relevant: set[str], k: int = 10, mrr_cutoff: int | None = None
) -> dict[str, float]:
    """All ranking metrics of one list at cut-off ``k``."""
    if not relevant:
        raise ValueError("at least one relevant item is needed")
    hits = np.array([item in relevant for item in ranked[:k]], dtype=np.float64)
    n_hits = float(hits.sum())
    ideal = min(len(relevant), k)
    dcg = float(hits @ _discounts(len(hits))) if len(hits) else 0.0
    idcg = float(_discounts(ideal).sum())
    precision_at_i = np.cumsum(hits) / np.arange(1, len(hits) + 1) if len(hits) else hits
    first = next((i for i, item in enumerate(ranked) if item in relevant), None)
    if first is not None and mrr_cutoff is not None and first >= mrr_cutoff:
        first = None
    return {
        f"hit@{k}": 1.0 if n_hits > 0 else 0.0,
        f"precision@{k}": n_hits / k,
        f"recall@{k}": n_hits / len(relevant),
        f"ndcg@{k}": dcg / idcg,
        f"map@{k}": float((hits * precision_at_i).sum()) / ideal,
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
    }


def rank_of(scores: np.ndarray, target: int) -> int:
    """1-based rank of ``target`` under ``scores`` (higher first); ties count against it.

    Counting every item with an equal score as ranked above the target is the
    pessimistic tie-break: a strategy cannot gain from constant scores.
    """
    value = scores[target]
    if not math.isfinite(value):
        return scores.size
    return int(np.count_nonzero(scores >= value))


def metrics_from_rank(rank: int, k: int = 10) -> dict[str, float]:
    """The metrics of a list with one relevant item at ``rank`` (1-based), full ranking."""
    hit = 1.0 if rank <= k else 0.0
    return {
        f"hit@{k}": hit,
        f"precision@{k}": hit / k,
        f"recall@{k}": hit,
        f"ndcg@{k}": hit / math.log2(rank + 1),
        f"map@{k}": hit / rank,
        "mrr": 1.0 / rank,
    }


@dataclass
class MetricMeans:
    """Running means of metric dictionaries, plus catalogue coverage."""

    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0
    recommended: set[str] = field(default_factory=set)

    def add(self, values: dict[str, float], top_items: Iterable[str] = ()) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1
        self.recommended.update(top_items)

    def means(self, catalogue: int | None = None) -> dict[str, float]:
        out = {name: total / self.count for name, total in self.sums.items()} if self.count else {}
        if catalogue:
            out["coverage"] = len(self.recommended) / catalogue
        out["events"] = float(self.count)
        return out
