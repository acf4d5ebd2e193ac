"""One deterministic processing order across partitions: merge by event time.

Kafka orders records within a partition only. The worker buffers what it
polls per partition and always processes the buffered head with the smallest
``(timestamp, topic, partition, offset)``, the way Kafka Streams synchronises
a task's partitions by timestamp. Producers set the record timestamp to the
event time, so the merged order is event-time order.

A partition whose buffer is empty blocks the merge unless it is at its end
(nothing more to fetch): otherwise an older record might still arrive there.
For a topic replayed from history this makes the sequence, and therefore
the micro-batches cut from it, the same on every run and after every
restart from a checkpoint.

>>> from collections import namedtuple
>>> R = namedtuple("R", "timestamp offset")
>>> merger = EventTimeMerger()
>>> merger.add(("a", 0), [R(5, 0), R(9, 1)])
>>> merger.add(("b", 0), [R(7, 0)])
>>> [(r.timestamp) for r in merger.take(10, lambda tp: True)]
[5, 7, 9]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any

PartitionId = Hashable
COMPLETE, BLOCKED, EXHAUSTED = "complete", "blocked", "exhausted"
EVENTS_PER_REVIEW = 4  # a micro-batch of B reviews holds at most 4 B events


def batch_event_limit(batch_reviews: int) -> int:
    """The most events one micro-batch of ``batch_reviews`` reviews may hold."""
    return EVENTS_PER_REVIEW * batch_reviews


def batch_is_full(reviews: int, events: int, batch_reviews: int) -> bool:
    """A micro-batch ends after ``batch_reviews`` reviews or its event limit.

    >>> batch_is_full(64, 64, 64), batch_is_full(3, 256, 64), batch_is_full(3, 10, 64)
    (True, True, False)
    """
    return reviews >= batch_reviews or events >= batch_event_limit(batch_reviews)


def _sort_key(partition: Any) -> tuple:
    return tuple(partition) if isinstance(partition, tuple) else (partition,)


class EventTimeMerger:
    """Per-partition FIFO buffers merged by (timestamp, partition, offset)."""

    def __init__(self) -> None:
        self.buffers: dict[PartitionId, deque[Any]] = {}

    def add(self, partition: PartitionId, records: Iterable[Any]) -> None:
        self.buffers.setdefault(partition, deque()).extend(records)

    def __len__(self) -> int:
        return sum(len(b) for b in self.buffers.values())

    def plan(
        self,
        limit: int,
        at_end: Callable[[PartitionId], bool],
        partitions: Iterable[PartitionId] | None = None,
        ignore_blocked: bool = False,
        stop: Callable[[Any], bool] | None = None,
    ) -> tuple[list[PartitionId], str]:
        """Which partitions the next records come from, without taking them.

        Returns the partition of each record in merged order and why the plan
        ended: ``"complete"`` (``limit`` reached or ``stop(record)`` true),
        ``"blocked"`` (a partition's buffer ran dry while it may still hold
        older records: fetch more first) or ``"exhausted"`` (every partition
        is at its end).
        """
        watched = list(partitions) if partitions is not None else list(self.buffers)
        cursor = {p: 0 for p in self.buffers}
        order: list[PartitionId] = []
        while len(order) < limit:
            dry = [
                p
                for p in watched
                if cursor.get(p, 0) >= len(self.buffers.get(p, ())) and not at_end(p)
            ]
            if dry and not ignore_blocked:
                return order, BLOCKED
            heads = [
                (b[cursor[p]].timestamp, _sort_key(p), b[cursor[p]].offset, p)
                for p, b in self.buffers.items()
                if cursor[p] < len(b)
            ]
            if not heads:
                return order, EXHAUSTED
            partition = min(heads, key=lambda h: h[:3])[3]
            record = self.buffers[partition][cursor[partition]]
            cursor[partition] += 1
            order.append(partition)
            if stop is not None and stop(record):
                return order, COMPLETE
        return order, COMPLETE

    def take(
        self,
        limit: int,
        at_end: Callable[[PartitionId], bool],
        partitions: Iterable[PartitionId] | None = None,
        ignore_blocked: bool = False,
        stop: Callable[[Any], bool] | None = None,
    ) -> list[Any]:
        """Up to ``limit`` records in merged order (see :meth:`plan`), removed from the buffers."""
        order, _ = self.plan(limit, at_end, partitions, ignore_blocked, stop)
        return [self.buffers[p].popleft() for p in order]

    def drop(self, partitions: Iterable[PartitionId]) -> int:
        """Forget buffered records of partitions this worker no longer owns."""
        dropped = 0
        for partition in partitions:
            dropped += len(self.buffers.pop(partition, ()))
        return dropped
