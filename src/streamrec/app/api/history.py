"""Time series for the dashboard: the API samples what it serves (at most once a second
per series) into bounded in-memory rings, so charts have history without a database."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

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
