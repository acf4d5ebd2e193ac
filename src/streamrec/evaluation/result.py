"""What a replay measured: per strategy, the rank of the chosen item at every scored
interaction, and the summaries built from those ranks (:class:`ReplayResult`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from streamrec.evaluation.fairness import ServeContext
from streamrec.evaluation.metrics import metrics_from_rank
from streamrec.serving.fallback import Answer

SERVED = "streamrec-served"


@dataclass
class ReplayResult:
    """Per strategy, the rank of the chosen item at every scored interaction."""

    k: int
    tuning_cut: int  # interactions before this index form the tuning slice
    catalogue: int = 0
    with_tops: bool = True  # each strategy's top k kept (for coverage)
    index: list[int] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    users: list[str] = field(default_factory=list)  # who was served, per scored interaction
    delivered: int = 0  # events delivered to every model
    ranks: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    tops: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))
    context: ServeContext = field(default_factory=ServeContext)  # per scored interaction
    # strategies measured beside the others but kept out of metrics.json (the debias sweep)
    extra_ranks: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    extra_tops: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))
    item_counts: dict[str, int] = field(default_factory=dict)  # interactions per item, at the end
    # wall seconds per model (:func:`model_label`): its scoring and ranking, learning, serving
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add_served(self, answer: Answer, target_id: str, name: str = SERVED) -> None:
        """Rank and top k of a list as served (after :meth:`add_scored` or on its own)."""
        ids = answer.item_ids()
        self.ranks[name].append(served_rank(ids, target_id))
        self.tops[name].append(ids[: self.k])

    def add_scored(self, n: int, ts: float, user_id: str) -> None:
        self.index.append(n)
        self.ts.append(ts)
        self.users.append(user_id)

    def mask(self, part: str) -> np.ndarray:
        """Which scored interactions belong to ``tuning``, ``evaluation`` or ``all``."""
        index = np.array(self.index, dtype=np.int64)
        return {
            "tuning": index < self.tuning_cut,
            "evaluation": index >= self.tuning_cut,
            "all": np.ones(len(index), dtype=bool),
        }[part]

    def summary(self, part: str = "evaluation") -> dict[str, dict[str, float]]:
        """Mean metrics per strategy on the ``tuning`` slice, the ``evaluation`` rest or ``all``."""
        mask = self.mask(part)
        out: dict[str, dict[str, float]] = {}
        for strategy, ranks in self.ranks.items():
            chosen = [r for r, keep in zip(ranks, mask, strict=True) if keep]
            if not chosen:
                continue
            totals: dict[str, float] = defaultdict(float)
            for rank in chosen:
                for name, value in metrics_from_rank(rank, self.k).items():
                    totals[name] += value
            metrics = {name: total / len(chosen) for name, total in totals.items()}
            if self.with_tops:
                tops = [t for t, keep in zip(self.tops[strategy], mask, strict=True) if keep]
                metrics["coverage"] = len({i for t in tops for i in t}) / max(1, self.catalogue)
            metrics["events"] = float(len(chosen))
            out[strategy] = metrics
        return out

    def rolling(
        self, strategy: str, metric: str = "ndcg@10", window: int = 500
    ) -> tuple[np.ndarray, np.ndarray]:
        """Event times and the rolling mean of a metric over the last ``window`` events."""
        values = np.array([metrics_from_rank(r, self.k)[metric] for r in self.ranks[strategy]])
        if len(values) < window:
            return np.array(self.ts), np.cumsum(values) / np.arange(1, len(values) + 1)
        kernel = np.ones(window) / window
        smooth = np.convolve(values, kernel, mode="valid")
        return np.array(self.ts[window - 1 :]), smooth


def served_rank(ids: list[str], target: str) -> int:
    """Rank of ``target`` in a served list; one past the list when it is not there."""
    return ids.index(target) + 1 if target in ids else max(len(ids), 1) * 10**6
