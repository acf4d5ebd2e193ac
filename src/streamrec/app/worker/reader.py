"""Cutting the polled records into micro-batches in event-time order.

The merge order is :mod:`streamrec.core.ordering`'s. A batch ends after
``batch_size`` reviews (or four times as many events), or at a deletion request
(so the user's earlier events are applied before it). A shorter batch goes
out only when every partition is at its end and ``batch_wait_ms`` has passed
(so a replay cuts the same batches on every run), or, if a partition stays
blocked, after :data:`MAX_IDLE_S`.

Whether a partition is at its end is first judged from the high watermark its
last fetch returned. That lags while producers write: a fetch may return one
partition's new records before another's have landed. So a cut that takes a
partition with nothing buffered to be at its end asks the broker first, and
waits for what it reports: a short batch always, a full one for at most
``batch_wait_ms`` (after that, the fetched watermarks decide, as Kafka
Streams' ``max.task.idle.ms`` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from streamrec.core.ordering import (
    BLOCKED,
    COMPLETE,
    EXHAUSTED,
    EventTimeMerger,
    batch_event_limit,
)
from streamrec.kafka.offsets import PROBE_TIMEOUT_MS

MAX_IDLE_S = 5.0  # how long a partition that lags behind may hold the others back

EndOffsets = Callable[[Sequence[TopicPartition]], dict[TopicPartition, int]]


class BatchReader:
    """Polls into an :class:`EventTimeMerger` and takes micro-batches out of it."""

    def __init__(
        self,
        batch_size: int,
        batch_wait_ms: int,
        reviews_topic: str,
        merger: EventTimeMerger,
        stopping: Callable[[], bool],
        deletions_topic: str | None = None,
        end_offsets: EndOffsets | None = None,
    ) -> None:
        """``end_offsets`` asks the broker where partitions end (best on a connection of
        its own, :class:`streamrec.kafka.offsets.EndProbe`); by default the consumer does."""
        self.batch_size = batch_size
        self.end_offsets = end_offsets
        self.deletions_topic = deletions_topic
        self.wait_s = batch_wait_ms / 1000
        self.reviews_topic = reviews_topic
        self.merger = merger
        self.stopping = stopping
        self._buffered_since: float | None = None

    def collect(
        self, consumer: KafkaConsumer, until: Callable[[], bool] | None = None
    ) -> list[ConsumerRecord]:
        """The next micro-batch; empty when nothing is due (or ``until()`` turned true,
        in which case whatever is buffered waits for the next call)."""
        while not self.stopping():
            if until is not None and until():
                return []
            buffered = len(self.merger)
            polled = consumer.poll(
                timeout_ms=50 if buffered or until else 500,
                max_records=batch_event_limit(self.batch_size),
            )
            for tp, records in polled.items():
                self.merger.add(tp, records)
            if not len(self.merger):
                self._buffered_since = None
                if not polled:
                    return []
                continue
            now = time.monotonic()
            if self._buffered_since is None:
                self._buffered_since = now
            waited = now - self._buffered_since
            assigned = consumer.assignment()
            at_end = _at_end_checker(consumer, self._ends_of(consumer))
            order, status, judged = self._plan(at_end, assigned)
            if judged and self._verify(status, bool(order), waited):
                at_end = _at_end_checker(consumer, self._ends_of(consumer), fresh=judged)
                order, status, _ = self._plan(at_end, assigned)
                if status == BLOCKED and waited < MAX_IDLE_S:  # more is on its way
                    continue
            limit = batch_event_limit(self.batch_size)
            if status == COMPLETE or (status == EXHAUSTED and order and waited >= self.wait_s):
                self._buffered_since = None
                return self.merger.take(limit, at_end, assigned, stop=self._review_counter())
            if status == BLOCKED and waited >= MAX_IDLE_S:
                self._buffered_since = None
                return self.merger.take(
                    limit, at_end, assigned, ignore_blocked=True, stop=self._review_counter()
                )
        return []

    def _ends_of(self, consumer: KafkaConsumer) -> EndOffsets:
        if self.end_offsets is not None:
            return self.end_offsets
        return lambda partitions: consumer.end_offsets(
            list(partitions), timeout_ms=PROBE_TIMEOUT_MS
        )

    def _plan(
        self, at_end: Callable[[TopicPartition], bool], assigned: set[TopicPartition]
    ) -> tuple[list[TopicPartition], str, set[TopicPartition]]:
        """The merger's plan for the next batch, and the partitions it took to be at
        their end with nothing buffered (the cut depends on them)."""
        judged: set[TopicPartition] = set()

        def recorded(tp: TopicPartition) -> bool:
            done = at_end(tp)
            if done:
                judged.add(tp)
            return done

        limit = batch_event_limit(self.batch_size)
        order, status = self.merger.plan(limit, recorded, assigned, stop=self._review_counter())
        return order, status, judged

    def _verify(self, status: str, ordered: bool, waited: float) -> bool:
        """Whether a cut is due that should ask the broker for its partitions' ends: a short
        batch always, a full one while it may still wait for stragglers."""
        if status == EXHAUSTED:
            return ordered and waited >= self.wait_s
        return status == COMPLETE and waited < self.wait_s

    def _review_counter(self) -> Callable[[ConsumerRecord], bool]:
        count = 0

        def enough(record: ConsumerRecord) -> bool:
            nonlocal count
            if record.topic == self.deletions_topic:  # an erasure ends its batch
                return True
            count += record.topic == self.reviews_topic
            return count >= self.batch_size

        return enough


def _at_end_checker(
    consumer: KafkaConsumer, end_offsets: EndOffsets, fresh: set[TopicPartition] | None = None
) -> Callable[[TopicPartition], bool]:
    """True for partitions with nothing left to fetch (position at the high watermark:
    for ``fresh`` partitions the broker's end offset now, for the others the one the
    last fetch saw)."""
    ends: dict[TopicPartition, int] = {}
    if fresh:
        try:
            ends = end_offsets(list(fresh))
        except KafkaError:
            ends = {}  # broker away: every partition may have more

    def at_end(tp: TopicPartition) -> bool:
        # broker away (or a partition without a leader, which kafka-python
        # reports as a missing key): assume more may come
        try:
            if fresh and tp in fresh:
                high = ends[tp]
            else:
                high = consumer.highwater(tp)
                if high is None:
                    high = end_offsets([tp])[tp]
            return consumer.position(tp, timeout_ms=PROBE_TIMEOUT_MS) >= high
        except (KafkaError, KeyError):
            return False

    return at_end
