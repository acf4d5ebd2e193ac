"""When the next checkpoint is due: the interval, stretched while writes are slow.

A checkpoint stops the worker: it writes the changed users and the shared
model's changes, and in a group it first merges what the other workers wrote
(README, "Several workers"). At the demo's size that takes milliseconds, but at
10^5 items a merge takes seconds, and at a fixed 5 s interval two workers
spent 26-41% of their time on checkpoints (``benchmarks/scale_out.py``). So,
as Flink's minimum pause between checkpoints does, the wait after a write
grows with what writes take: at least ``write_s / max_share`` (the share of
wall time checkpoints may take), at most ``max_interval_s`` (what a restart
replays and how stale the other workers' changes may get), and never below
the configured interval. ``write_s`` is the writes' moving average (each new
one weighs half): in a group a write that found nothing to merge is fast, and
the next one will merge.

>>> pacing = CheckpointPacing(interval_s=5.0, max_share=0.1, max_interval_s=60.0)
>>> pacing.wait_s
5.0
>>> pacing.wrote(0.05)  # a small model: the interval as configured
5.0
>>> round(pacing.wrote(3.95), 6)  # a 4 s merge: averaged with the 0.05 s write, 2 s
20.0
>>> pacing.wrote(20.0)  # never past the cap
60.0
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckpointPacing:
    """The wait after the last write; ``max_share`` 0 or ``interval_s`` 0 keep it fixed
    (0: a checkpoint after every batch, as configured)."""

    interval_s: float
    max_share: float = 0.0
    max_interval_s: float = 60.0
    write_s: float | None = field(init=False, default=None)  # the writes' moving average

    def __post_init__(self) -> None:
        if not 0 <= self.max_share < 1:
            raise ValueError(f"max_share must be in [0, 1), got {self.max_share}")
        if self.interval_s < 0 or self.max_interval_s <= 0:
            raise ValueError("intervals must be positive (interval_s 0: every batch)")

    @property
    def wait_s(self) -> float:
        """Seconds from the last write until the next is due."""
        if self.write_s is None or self.max_share == 0 or self.interval_s == 0:
            return self.interval_s
        stretched = min(self.write_s / self.max_share, self.max_interval_s)
        return max(self.interval_s, stretched)

    def wrote(self, write_s: float) -> float:
        """Note a write that took ``write_s`` seconds; the wait until the next one."""
        last = self.write_s
        self.write_s = write_s if last is None else (last + write_s) / 2
        return self.wait_s
