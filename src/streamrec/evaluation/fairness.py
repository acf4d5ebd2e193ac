"""Who a recommender serves well, and what it shows: group metrics and item exposure.

Pure numpy. Per scored interaction the replay records who was served (their
prior interactions, their cluster) and what they chose (the target's
popularity so far, its decile); :func:`group_metrics` breaks NDCG@k and HR@k
down by any such grouping. Exposure is how often each catalogue item appears
in the top-k lists: :func:`gini` of those counts (0: every item shown equally,
1: one item takes everything) and :func:`long_tail` coverage.

>>> activity_bucket(0), activity_bucket(2), activity_bucket(9), activity_bucket(10)
('0', '1-2', '3-9', '10+')
>>> gini(np.array([1.0, 1.0, 1.0])), gini(np.array([0.0, 0.0, 3.0]))
(0.0, 0.6667)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

ACTIVITY_BUCKETS = ("0", "1-2", "3-9", "10+")
HEAD_SHARE = 0.2  # the head: the most popular items that take this share of interactions


@dataclass
class ServeContext:
    """Per scored interaction: the user's prior interactions and cluster (-1: none), the
    target item's prior interactions and its popularity decile (1: tail ... 10: head)."""

    prior: list[int] = field(default_factory=list)
    cluster: list[int] = field(default_factory=list)
    popularity: list[int] = field(default_factory=list)
    decile: list[int] = field(default_factory=list)

    def record(self, prior: int, cluster: int | None, counts: Sequence[int], target: int) -> None:
        """One scored interaction: the user's ``prior`` interactions and ``cluster``, and
        the ``target`` row among the interactions per item row so far (``counts``)."""
        self.prior.append(prior)
        self.cluster.append(-1 if cluster is None else cluster)
        self.popularity.append(int(counts[target]))
        self.decile.append(popularity_decile(np.asarray(counts, dtype=np.float64), counts[target]))


def activity_bucket(prior: int) -> str:
    """The activity group of a user with ``prior`` interactions before this one."""
    if prior < 0:
        raise ValueError(f"prior interactions must be >= 0, got {prior}")
    return "0" if prior == 0 else "1-2" if prior <= 2 else "3-9" if prior <= 9 else "10+"


def popularity_decile(counts: np.ndarray, value: float) -> int:
    """The decile (1: least popular ... 10: most) of an item with ``value`` interactions
    among items with ``counts``; ties take their mid-rank, so equal items share a decile.

    >>> popularity_decile(np.arange(1.0, 11.0), 1.0), popularity_decile(np.arange(1.0, 11.0), 10.0)
    (1, 10)
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        raise ValueError("no items to rank against")
    share = (np.sum(counts < value) + 0.5 * np.sum(counts == value)) / counts.size
    return int(min(9, np.floor(10 * share))) + 1


def gini(exposure: np.ndarray) -> float:
    """Gini coefficient of non-negative exposure counts (0 when nothing is shown)."""
    x = np.sort(np.asarray(exposure, dtype=np.float64))
    if x.size == 0 or np.any(x < 0):
        raise ValueError("exposure must be a non-empty array of counts >= 0")
    total = x.sum()
    if total == 0:
        return 0.0
    n = x.size
    ranks = np.arange(1, n + 1)
    return round(float(2 * np.sum(ranks * x) / (n * total) - (n + 1) / n), 4)


def long_tail(counts: dict[str, int], head_share: float = HEAD_SHARE) -> set[str]:
    """The long-tail items: all but the most popular ones that together take
    ``head_share`` of the interactions (ties by id, so the split is deterministic)."""
    order = sorted(counts, key=lambda item: (-counts[item], item))
    total, running, head = sum(counts.values()), 0, 0
    while head < len(order) and running < head_share * total:
        running += counts[order[head]]
        head += 1
    return set(order[head:])


def rank_metrics(ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """NDCG@k and HR@k of each rank (one relevant item: RecBole's definitions)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks <= k
    return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0), hit.astype(np.float64)


def group_metrics(
    ranks: Sequence[int], groups: Sequence[str], k: int, digits: int = 5
) -> dict[str, dict[str, float]]:
    """Mean NDCG@k and HR@k per group (activity buckets in order, then numeric labels)."""
    if len(ranks) != len(groups):
        raise ValueError(f"{len(ranks)} ranks but {len(groups)} group labels")
    ndcg, hit = rank_metrics(np.asarray(ranks), k)
    labels = np.asarray(groups, dtype=object)
    out = {}
    for group in sorted(set(groups), key=_group_order):
        mask = labels == group
        out[group] = {
            f"hr@{k}": round(float(hit[mask].mean()), digits),
            f"ndcg@{k}": round(float(ndcg[mask].mean()), digits),
        }
    return out


def group_sizes(groups: Sequence[str], users: Sequence[str]) -> dict[str, dict[str, int]]:
    """Scored interactions and distinct users per group."""
    out: dict[str, dict[str, int]] = {}
    for group in sorted(set(groups), key=_group_order):
        members = [u for g, u in zip(groups, users, strict=True) if g == group]
        out[group] = {"events": len(members), "users": len(set(members))}
    return out


def exposure(
    tops: Iterable[Sequence[str]], catalogue: Sequence[str], tail: set[str]
) -> dict[str, float]:
    """Exposure Gini over the whole catalogue, the share of long-tail items ever shown
    (coverage) and the share of list slots given to them."""
    shown: dict[str, int] = dict.fromkeys(catalogue, 0)
    slots = tail_slots = 0
    for top in tops:
        for item in top:
            shown[item] = shown.get(item, 0) + 1
            slots += 1
            tail_slots += item in tail
    tail_shown = sum(1 for item in tail if shown.get(item, 0) > 0)
    return {
        "exposure_gini": gini(np.fromiter(shown.values(), dtype=np.float64, count=len(shown))),
        "long_tail_coverage": round(tail_shown / max(1, len(tail)), 4),
        "long_tail_share": round(tail_slots / max(1, slots), 4),
    }


def _group_order(group: str) -> tuple[float, str]:
    """Activity buckets in order, numbers as numbers (clusters, deciles)."""
    if group in ACTIVITY_BUCKETS:
        return float(ACTIVITY_BUCKETS.index(group)), group
    try:
        return float(group), group
    except ValueError:
        return float("inf"), group
