"""Per-arm totals of A/B experiments, fed by the metrics sidecar.

An impression that carries ``experiment`` and ``arm`` counts once for its
arm; the first click that answers it marks it clicked and adds its NDCG@10.
Impressions are remembered (bounded, oldest first out) to credit late clicks.
"""

from __future__ import annotations

from collections import OrderedDict

from streamrec.core.events import ClickEvent, ImpressionEvent
from streamrec.evaluation.ab import ArmTotals, experiment_report
from streamrec.evaluation.metrics import rank_metrics


class ArmScores:
    def __init__(self, max_open: int = 200_000) -> None:
        self.max_open = max_open
        self.totals: dict[str, dict[str, ArmTotals]] = {}
        self.open: OrderedDict[str, tuple[str, str]] = OrderedDict()  # id -> (experiment, arm)

    def observe_impression(self, impression: ImpressionEvent) -> None:
        if impression.experiment is None or impression.arm is None:
            return
        if impression.impression_id in self.open:
            return  # a redelivered impression
        arms = self.totals.setdefault(impression.experiment, {})
        arms.setdefault(impression.arm, ArmTotals()).impressions += 1
        self.open[impression.impression_id] = (impression.experiment, impression.arm)
        while len(self.open) > self.max_open:
            self.open.popitem(last=False)

    def observe_click(self, impression: ImpressionEvent, click: ClickEvent) -> None:
        where = self.open.pop(impression.impression_id, None)
        if where is None:
            return  # not in an experiment, or already clicked
        arm = self.totals[where[0]][where[1]]
        ndcg = rank_metrics(impression.items, {click.item_id}, k=10)["ndcg@10"]
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
            "open": [[i, e, a] for i, (e, a) in self.open.items()],
        }

    def load(self, state: dict) -> None:
        self.totals = {
            e: {a: ArmTotals(**t) for a, t in arms.items()}
            for e, arms in state.get("totals", {}).items()
        }
        self.open = OrderedDict((i, (e, a)) for i, e, a in state.get("open", []))


def _position(order: list[str], arm: str) -> tuple[int, str]:
    return (order.index(arm) if arm in order else len(order), arm)
