"""Cutting the polled records into micro-batches in event-time order.

The merge order is :mod:`streamrec.core.ordering`'s. A batch ends after
``batch_size`` reviews (or four times as many events), or at a deletion request
(so the user's earlier events are applied before it). A shorter batch goes
out only when every partition is at its end and ``batch_wait_ms`` has passed
(so a replay cuts the same batches on every run), or, if a partition stays
blocked, after :data:`MAX_IDLE_S`.

Whether a partition is at its end is judged from the high watermark its last
fetch returned. That lags while producers write: a fetch may return one
partition's new records before another's have landed. So once per batch, a
short cut that takes a partition with nothing buffered to be at its end asks the
broker where it ends, and waits until what the broker reported is fetched; with
``strict`` a full cut does the same. It asks only once: on a live stream,
records land between any fetch and any answer, and asking again would chase
them (on a replayed topic nothing new lands, so one answer settles the cut).

``strict`` is off for the live worker, as in Kafka Streams (a full batch goes
out on the fetched watermarks): the question waits behind the consumer's
pending fetch on its connection (up to ``fetch_max_wait_ms``), and a full batch
per round trip made the multi-worker tests three times slower. The pipeline
replay turns it on, so its batches are the simulated ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence

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
        strict: bool = False,
    ) -> None:
        """``end_offsets`` asks the broker where partitions end (by default the consumer
        does; a test hands in its own); ``strict``: full batches ask too."""
        self.batch_size = batch_size
        self.strict = strict
        self.end_offsets = end_offsets
        self.deletions_topic = deletions_topic
        self.wait_s = batch_wait_ms / 1000
        self.reviews_topic = reviews_topic
        self.merger = merger
        self.stopping = stopping
        self._buffered_since: float | None = None
        # what the broker reported for this batch: partition ends, and partitions it
        # could not answer for (a broker away); None until the batch has asked
        self._reported: dict[TopicPartition, int] | None = None
        self._unanswered: set[TopicPartition] = set()

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
            if not len(self.merger):  # (a rebalance may have dropped what was buffered)
                self._buffered_since, self._reported, self._unanswered = None, None, set()
                if not polled:
                    return []
                continue
            now = time.monotonic()
            if self._buffered_since is None:
                self._buffered_since = now
            waited = now - self._buffered_since
            assigned = consumer.assignment()
            at_end = self._at_end(consumer)
            order, status, judged = self._plan(at_end, assigned)
            due = status == COMPLETE or (status == EXHAUSTED and order and waited >= self.wait_s)
            asks = status == EXHAUSTED or self.strict
            if due and judged and asks and self._reported is None:
                self._ask(consumer, judged)
                at_end = self._at_end(consumer)
                order, status, _ = self._plan(at_end, assigned)
                due = status == COMPLETE or (status == EXHAUSTED and order)
            limit = batch_event_limit(self.batch_size)
            if due:
                return self._take(limit, at_end, assigned)
            if status == BLOCKED and waited >= MAX_IDLE_S:
                return self._take(limit, at_end, assigned, ignore_blocked=True)
        return []

    def _ask(self, consumer: KafkaConsumer, partitions: set[TopicPartition]) -> None:
        """Where ``partitions`` end now, kept for the rest of this batch (unknown when the
        broker is away: they count as not at their end, up to :data:`MAX_IDLE_S`)."""
        assert self._reported is None
        try:
            self._reported = self._ends_of(consumer)(list(partitions))
        except KafkaError:
            self._reported = {}
        self._unanswered = {tp for tp in partitions if tp not in self._reported}

    def _at_end(self, consumer: KafkaConsumer) -> Callable[[TopicPartition], bool]:
        ends = self._ends_of(consumer)
        return _at_end_checker(consumer, ends, self._reported, self._unanswered)

    def _take(
        self,
        limit: int,
        at_end: Callable[[TopicPartition], bool],
        assigned: set[TopicPartition],
        ignore_blocked: bool = False,
    ) -> list[ConsumerRecord]:
        self._buffered_since, self._reported, self._unanswered = None, None, set()
        stop = self._review_counter()
        return self.merger.take(limit, at_end, assigned, ignore_blocked, stop=stop)

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
    consumer: KafkaConsumer,
    end_offsets: EndOffsets,
    reported: Mapping[TopicPartition, int] | None = None,
    unanswered: Collection[TopicPartition] = (),
) -> Callable[[TopicPartition], bool]:
    """True for partitions with nothing left to fetch: the position reached both the
    high watermark the last fetch saw and the end the broker ``reported``."""
    reported = reported or {}

    def at_end(tp: TopicPartition) -> bool:
        # broker away (or a partition without a leader, which kafka-python
        # reports as a missing key): assume more may come
        if tp in unanswered:
            return False
        try:
            high = consumer.highwater(tp)
            if high is None:
                high = end_offsets([tp])[tp]
            high = max(high, reported.get(tp, high))
            return consumer.position(tp, timeout_ms=PROBE_TIMEOUT_MS) >= high
        except (KafkaError, KeyError):
            return False

    return at_end
