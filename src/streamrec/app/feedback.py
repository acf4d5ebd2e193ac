"""What was served against what was clicked: the pure core of the metrics sidecar.

:class:`ClickJoiner` pairs each click with the impressions it answers: the one
named by ``impression_id`` when the click carries it, else, for every strategy,
that strategy's latest impression for the user served at or before the click
(several strategies scored side by side on the same clicks). :class:`RollingScores` keeps, per
strategy, rolling means of the ranking metrics over the last ``window`` clicks
(River ``utils.Rolling``) and over the last ``period`` seconds of event time
(River ``utils.TimeRolling``), plus CTR = answered clicks / impressions.

>>> from streamrec.core.events import ClickEvent, ImpressionEvent
>>> joiner = ClickJoiner()
>>> joiner.add(ImpressionEvent(impression_id="i1", user_id="u", items=["a", "b"],
...                            strategy="user", ts=10))
>>> joiner.match(ClickEvent(event_id="c1", user_id="u", item_id="b", ts=11)).impression_id
'i1'
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from river import stats, utils

from streamrec.core.events import ClickEvent, ImpressionEvent
from streamrec.evaluation.metrics import rank_metrics

_EPOCH = dt.datetime(1970, 1, 1)
METRIC_NAMES = ("hit@10", "ndcg@10", "map@10", "mrr", "precision@10", "recall@10")


class ClickJoiner:
    """Remembers recent impressions (bounded) to join clicks to them."""

    def __init__(self, max_impressions: int = 200_000, per_user: int = 4) -> None:
        self.max_impressions = max_impressions
        self.per_user = per_user
        self.by_id: OrderedDict[str, ImpressionEvent] = OrderedDict()
        self.by_user: dict[str, dict[str, deque[ImpressionEvent]]] = {}

    def add(self, impression: ImpressionEvent) -> None:
        self.by_id[impression.impression_id] = impression
        self.by_id.move_to_end(impression.impression_id)
        while len(self.by_id) > self.max_impressions:
            _, old = self.by_id.popitem(last=False)
            queue = self.by_user.get(old.user_id, {}).get(old.strategy)
            if queue and old in queue:
                queue.remove(old)
                if not queue:
                    del self.by_user[old.user_id][old.strategy]
                    if not self.by_user[old.user_id]:
                        del self.by_user[old.user_id]
        strategies = self.by_user.setdefault(impression.user_id, {})
        strategies.setdefault(impression.strategy, deque(maxlen=self.per_user)).append(impression)

    def match_all(self, click: ClickEvent) -> list[ImpressionEvent]:
        """The impressions this click answers (one per strategy at most)."""
        if click.impression_id is not None:
            found = self.by_id.get(click.impression_id)
            if found is not None and found.user_id == click.user_id:
                return [found]
        out = []
        for queue in self.by_user.get(click.user_id, {}).values():
            candidates = [i for i in queue if i.ts <= click.ts]
            if candidates:
                out.append(max(candidates, key=lambda i: i.ts))
        return out

    def match(self, click: ClickEvent) -> ImpressionEvent | None:
        """The latest impression this click answers, over all strategies."""
        found = self.match_all(click)
        return max(found, key=lambda i: i.ts) if found else None

    def state(self) -> list[str]:
        return [i.model_dump_json() for i in self.by_id.values()]

    def load(self, state: list[str]) -> None:
        for raw in state:
            self.add(ImpressionEvent.model_validate_json(raw))


@dataclass
class Observation:
    """One scored event: an answered click (metrics) or a served impression (for CTR)."""

    strategy: str
    ts: float
    metrics: dict[str, float] | None  # None for an impression


class RollingScores:
    """Per-strategy rolling means by count and by event time, rebuilt from observations."""

    def __init__(self, window: int = 1000, period_s: float = 3600.0) -> None:
        self.window = window
        self.period = dt.timedelta(seconds=period_s)
        self.count_windows: dict[str, dict[str, utils.Rolling]] = {}
        self.time_windows: dict[str, dict[str, utils.TimeRolling]] = {}
        self.impressions: dict[str, utils.TimeRolling] = {}
        self.clicks: dict[str, utils.TimeRolling] = {}
        self.totals: dict[str, dict[str, float]] = {}
        self.recent: deque[Observation] = deque(maxlen=4 * window)

    def _ensure(self, strategy: str) -> None:
        if strategy in self.count_windows:
            return
        self.count_windows[strategy] = {
            m: utils.Rolling(stats.Mean, window_size=self.window) for m in METRIC_NAMES
        }
        self.time_windows[strategy] = {
            m: utils.TimeRolling(stats.Mean, period=self.period) for m in METRIC_NAMES
        }
        self.impressions[strategy] = utils.TimeRolling(stats.Sum, period=self.period)
        self.clicks[strategy] = utils.TimeRolling(stats.Sum, period=self.period)
        self.totals[strategy] = {"impressions": 0.0, "clicks": 0.0}

    def observe(self, observation: Observation) -> None:
        self._ensure(observation.strategy)
        when = _EPOCH + dt.timedelta(seconds=observation.ts)  # naive UTC, as River compares
        strategy = observation.strategy
        if observation.metrics is None:
            self.impressions[strategy].update(1.0, t=when)
            self.totals[strategy]["impressions"] += 1
        else:
            self.clicks[strategy].update(1.0, t=when)
            self.totals[strategy]["clicks"] += 1
            for name in METRIC_NAMES:
                value = observation.metrics[name]
                self.count_windows[strategy][name].update(value)
                self.time_windows[strategy][name].update(value, t=when)
        self.recent.append(observation)

    def observe_click(self, impression: ImpressionEvent, click: ClickEvent) -> dict[str, float]:
        values = rank_metrics(impression.items, {click.item_id}, k=10)
        self.observe(Observation(impression.strategy, click.ts, values))
        return values

    def observe_impression(self, impression: ImpressionEvent) -> None:
        self.observe(Observation(impression.strategy, impression.ts, None))

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per strategy: ``{metric}:last{window}``, ``{metric}:{period}s``, ``ctr:...``."""
        out: dict[str, dict[str, float]] = {}
        seconds = int(self.period.total_seconds())
        for strategy in self.count_windows:
            values: dict[str, float] = {}
            for name in METRIC_NAMES:
                values[f"{name}:last{self.window}"] = self.count_windows[strategy][name].get()
                values[f"{name}:{seconds}s"] = self.time_windows[strategy][name].get()
            shown = self.impressions[strategy].get()
            values[f"ctr:{seconds}s"] = self.clicks[strategy].get() / shown if shown else 0.0
            totals = self.totals[strategy]
            values["ctr:total"] = (
                totals["clicks"] / totals["impressions"] if totals["impressions"] else 0.0
            )
            values["impressions:total"] = totals["impressions"]
            values["clicks:total"] = totals["clicks"]
            out[strategy] = values
        return out

    def state(self) -> dict:
        return {
            "totals": self.totals,
            "recent": [[o.strategy, o.ts, o.metrics] for o in self.recent],
        }

    def load(self, state: dict) -> None:
        """Rebuild the windows by replaying the recent observations, then restore totals."""
        for strategy, ts, metrics in state["recent"]:
            self.observe(Observation(strategy, float(ts), metrics))
        for strategy, totals in state["totals"].items():
            self._ensure(strategy)
            self.totals[strategy] = {k: float(v) for k, v in totals.items()}


class PendingClicks:
    """Clicks waiting for the impression they answer, expired by event time.

    The clock is the newest event time seen on either topic, so a click older
    than ``horizon_s`` behind it is organic (no list led to it) whether or not
    the poll that moved the clock was empty. ``max_clicks`` bounds memory even
    when event time stalls: the oldest clicks go first.
    """

    def __init__(self, horizon_s: float = 30.0, max_clicks: int = 100_000) -> None:
        if horizon_s < 0 or max_clicks < 1:
            raise ValueError("horizon_s must be >= 0 and max_clicks >= 1")
        self.horizon_s = horizon_s
        self.max_clicks = max_clicks
        self.clicks: list[ClickEvent] = []
        self.clock = float("-inf")

    def __len__(self) -> int:
        return len(self.clicks)

    def advance(self, ts: float) -> None:
        self.clock = max(self.clock, ts)

    def add(self, clicks: list[ClickEvent]) -> int:
        """Queue clicks; return how many old ones the size bound pushed out."""
        for click in clicks:
            self.advance(click.ts)
        self.clicks.extend(clicks)
        overflow = max(0, len(self.clicks) - self.max_clicks)
        if overflow:
            self.clicks.sort(key=lambda c: c.ts)
            del self.clicks[:overflow]
        return overflow

    def match(
        self, joiner: ClickJoiner, scored: Callable[[ImpressionEvent, ClickEvent], None]
    ) -> None:
        """Score every click that now finds its impressions; keep the others."""
        still = []
        for click in sorted(self.clicks, key=lambda c: c.ts):
            impressions = joiner.match_all(click)
            for impression in impressions:
                scored(impression, click)
            if not impressions:
                still.append(click)
        self.clicks = still

    def expire(self, force: bool = False) -> int:
        """Drop the clicks ``horizon_s`` behind the clock (all when ``force``); return how many."""
        keep = [] if force else [c for c in self.clicks if self.clock - c.ts < self.horizon_s]
        expired = len(self.clicks) - len(keep)
        self.clicks = keep
        return expired

    def state(self) -> dict:
        clock = self.clock if self.clock > float("-inf") else None  # JSON has no -inf
        return {"clicks": [c.model_dump_json() for c in self.clicks], "clock": clock}

    def load(self, state: dict | list) -> None:
        """Restore; a bare list is a checkpoint from before event-time expiry."""
        raw = state if isinstance(state, list) else state["clicks"]
        self.clicks = [ClickEvent.model_validate_json(c) for c in raw]
        clock = None if isinstance(state, list) else state.get("clock")
        start = float("-inf") if clock is None else float(clock)
        self.clock = max([start, *(c.ts for c in self.clicks)])
