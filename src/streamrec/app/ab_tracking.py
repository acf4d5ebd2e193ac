"""Per-arm totals of A/B experiments, fed by the metrics sidecar.

An impression that carries ``experiment`` and ``arm`` counts once for its
arm; the first click that answers it marks it clicked and adds its NDCG@10.
Every impression also counts for its strategy in the built-in comparison
``strategies`` (not randomised: served strategies side by side, with intervals).
Impressions are remembered (bounded, oldest first out) to credit late clicks.
"""

from __future__ import annotations

from collections import OrderedDict

from streamrec.core.events import ClickEvent, ImpressionEvent
from streamrec.evaluation.ab import ArmTotals, experiment_report
from streamrec.evaluation.metrics import rank_metrics

STRATEGIES = "strategies"  # the built-in comparison of every served strategy


class ArmScores:
    def __init__(self, max_open: int = 200_000) -> None:
        self.max_open = max_open
        self.totals: dict[str, dict[str, ArmTotals]] = {}
        # impression id -> the (experiment, arm) pairs it counts for, until its first click
        self.open: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()

    def observe_impression(self, impression: ImpressionEvent) -> None:
        if impression.impression_id in self.open:
            return  # a redelivered impression
        pairs = [(STRATEGIES, impression.strategy)]
        if impression.experiment is not None and impression.arm is not None:
            pairs.append((impression.experiment, impression.arm))
        for experiment, arm in pairs:
            arms = self.totals.setdefault(experiment, {})
            arms.setdefault(arm, ArmTotals()).impressions += 1
        self.open[impression.impression_id] = pairs
        while len(self.open) > self.max_open:
            self.open.popitem(last=False)

    def observe_click(self, impression: ImpressionEvent, click: ClickEvent) -> None:
        pairs = self.open.pop(impression.impression_id, None)
        if pairs is None:
            return  # unknown, or already clicked
        ndcg = rank_metrics(impression.items, {click.item_id}, k=10)["ndcg@10"]
        for experiment, name in pairs:
            arm = self.totals[experiment][name]
            arm.clicked += 1
            arm.ndcg_sum += ndcg
            arm.ndcg_sq += ndcg * ndcg

    def report(self, alpha: float, min_impressions: int, order: dict[str, list[str]]) -> dict:
        """Reports per experiment; ``order`` puts each experiment's configured arms first
        (the first is the control)."""
        out = {}
        for name, arms in self.totals.items():
            ranked = sorted(arms, key=lambda a: _position(order.get(name, []), a))
            out[name] = experiment_report({a: arms[a] for a in ranked}, alpha, min_impressions)
        return out

    def state(self) -> dict:
        return {
            "totals": {e: {a: vars(t) for a, t in arms.items()} for e, arms in self.totals.items()},
            "open": [[i, [list(p) for p in pairs]] for i, pairs in self.open.items()],
        }

    def load(self, state: dict) -> None:
        self.totals = {
            e: {a: ArmTotals(**t) for a, t in arms.items()}
            for e, arms in state.get("totals", {}).items()
        }
        self.open = OrderedDict(
            (i, [(e, a) for e, a in pairs]) for i, pairs in state.get("open", [])
        )


def _position(order: list[str], arm: str) -> tuple[int, str]:
    return (order.index(arm) if arm in order else len(order), arm)
