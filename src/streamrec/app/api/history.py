"""Time series for the dashboard: the API samples what it serves (at most once a second
per series) into bounded in-memory rings, so charts have history without a database."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from streamrec.evaluation.ab import ArmTotals, arm_report

MAX_SAMPLES = 720  # e.g. an hour at one sample each 5 s


class Sampler:
    def __init__(self, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = min_interval_s
        self.series: dict[str, deque[dict]] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def sample(self, name: str, take: Callable[[], dict]) -> list[dict]:
        """Append ``take()`` (stamped ``t``) unless ``name`` was sampled within the interval;
        return the series."""
        now = time.time()
        with self._lock:
            due = now - self._last.get(name, 0.0) >= self.min_interval_s
            if due:
                self._last[name] = now
        if due:
            value = {"t": now, **take()}
            with self._lock:
                self.series.setdefault(name, deque(maxlen=MAX_SAMPLES)).append(value)
        with self._lock:
            return list(self.series.get(name, ()))


def rolling_arms(series: list[dict], window_s: float) -> dict[str, dict[str, list[dict]]]:
    """Per experiment and arm, CTR and NDCG@10 with 95% intervals over the last
    ``window_s`` seconds at each sample: the difference of the cumulative totals between
    the sample and the latest one at least ``window_s`` older (all so far when none is)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for n, sample in enumerate(series):
        base = next((s for s in reversed(series[:n]) if s["t"] <= sample["t"] - window_s), None)
        for experiment, report in (sample.get("experiments") or {}).items():
            for arm, now in report.get("arms", {}).items():
                before = _arm(base, experiment, arm)
                delta = ArmTotals(
                    impressions=now["impressions"] - before.impressions,
                    clicked=now["clicked"] - before.clicked,
                    ndcg_sum=now["ndcg_sum"] - before.ndcg_sum,
                    ndcg_sq=now["ndcg_sq"] - before.ndcg_sq,
                )
                if delta.impressions <= 0:
                    continue
                out.setdefault(experiment, {}).setdefault(arm, []).append(
                    {"t": sample["t"], **arm_report(delta)}
                )
    return out


def _arm(sample: dict | None, experiment: str, arm: str) -> ArmTotals:
    found = ((sample or {}).get("experiments") or {}).get(experiment, {}).get("arms", {})
    values = found.get(arm)
    if values is None:
        return ArmTotals()
    return ArmTotals(
        values["impressions"], values["clicked"], values["ndcg_sum"], values["ndcg_sq"]
    )
