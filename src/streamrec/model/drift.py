"""Concept drift: River's ADWIN on how far each review lands from its centroid."""

from __future__ import annotations

from collections import deque

import numpy as np


class DriftMonitor:
    """River's ADWIN on the distance of each review to its centroid.

    A rise in that distance means people write about things the clusters do
    not cover (yet). The last distances travel in the checkpoint and rebuild
    the detector on restore.
    """

    def __init__(self, delta: float = 0.002, keep: int = 4000) -> None:
        from river import drift

        self.delta = delta
        self.detector = drift.ADWIN(delta=delta)
        self.recent: deque[float] = deque(maxlen=keep)
        self.alarms = 0
        self.last_alarm_at = -1
        self.seen = 0

    def update(self, distance: float) -> int:
        """Feed one distance; 1 when this value raised an alarm."""
        self.detector.update(distance)
        self.recent.append(distance)
        self.seen += 1
        if self.detector.drift_detected:
            self.alarms += 1
            self.last_alarm_at = self.seen
            return 1
        return 0

    @property
    def mean_distance(self) -> float:
        return float(self.detector.estimation)

    def state(self) -> dict:
        return {
            "recent": np.array(self.recent, dtype=np.float64),
            "alarms": self.alarms,
            "last_alarm_at": self.last_alarm_at,
            "seen": self.seen,
        }

    def load(self, state: dict) -> None:
        from river import drift

        self.detector = drift.ADWIN(delta=self.delta)
        self.recent.clear()
        for value in np.asarray(state["recent"]).tolist():
            self.detector.update(value)
            self.recent.append(value)
        self.alarms = int(state["alarms"])
        self.last_alarm_at = int(state["last_alarm_at"])
        self.seen = int(state["seen"])
