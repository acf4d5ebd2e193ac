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
broker where it ends, and waits until what the broker reported is fetched; so
does a cut that ends at an erasure, and with ``strict`` a full cut. It asks only
once: on a live stream, records land between any fetch and any answer, and asking again would chase
them (on a replayed topic nothing new lands, so one answer settles the cut).

``strict`` is off for the live worker, as in Kafka Streams (a full batch goes
out on the fetched watermarks): the question waits behind the consumer's
pending fetch on its connection (up to ``fetch_max_wait_ms``), and a full batch
per round trip made the multi-worker tests three times slower. The pipeline
replay turns it on, so its batches are the simulated ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

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
UNKNOWN_END = 2**63 - 1  # a partition the broker did not answer for: never at its end


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
        strict: bool = False,
    ) -> None:
        """``strict``: full batches too ask where the partitions they rely on end."""
        self.batch_size = batch_size
        self.strict = strict
        self.deletions_topic = deletions_topic
        self.wait_s = batch_wait_ms / 1000
        self.reviews_topic = reviews_topic
        self.merger = merger
        self.stopping = stopping
        self._buffered_since: float | None = None
        # where the broker said partitions end, asked once per batch (None: not yet)
        self._reported: dict[TopicPartition, int] | None = None

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
                self._buffered_since, self._reported = None, None
                if not polled:
                    return []
                continue
            now = time.monotonic()
            if self._buffered_since is None:
                self._buffered_since = now
            waited = now - self._buffered_since
            assigned = consumer.assignment()
            at_end = _at_end_checker(consumer, self._reported)
            order, status, judged = self._plan(at_end, assigned)
            due = self._due(status, order, waited)
            if due and judged and self._asks(status, order) and self._reported is None:
                self._reported = _ends(consumer, judged)
                at_end = _at_end_checker(consumer, self._reported)
                order, status, _ = self._plan(at_end, assigned)
                due = self._due(status, order, waited)
            if due or (status == BLOCKED and waited >= MAX_IDLE_S):
                self._buffered_since, self._reported = None, None
                return self.merger.take(
                    batch_event_limit(self.batch_size),
                    at_end,
                    assigned,
                    ignore_blocked=not due,
                    stop=self._review_counter(),
                )
        return []

    def _asks(self, status: str, order: list[TopicPartition]) -> bool:
        """Whether a due cut asks the broker first: a short one, one that ends at an
        erasure (applied before the user's unfetched events, they would undo it), and
        with ``strict`` a full one."""
        erasure = bool(order) and order[-1].topic == self.deletions_topic
        return status == EXHAUSTED or erasure or self.strict

    def _due(self, status: str, order: list[TopicPartition], waited: float) -> bool:
        """A full batch, or a short one that waited ``batch_wait_ms`` at the end of input."""
        return status == COMPLETE or (status == EXHAUSTED and bool(order) and waited >= self.wait_s)

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


def _ends(consumer: KafkaConsumer, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
    """Where ``partitions`` end now (:data:`UNKNOWN_END` for those the broker did not
    answer for: a broker away, or a partition without a leader)."""
    try:
        ends = consumer.end_offsets(list(partitions), timeout_ms=PROBE_TIMEOUT_MS)
    except KafkaError:
        ends = {}
    return {tp: ends.get(tp, UNKNOWN_END) for tp in partitions}


def _at_end_checker(
    consumer: KafkaConsumer, reported: Mapping[TopicPartition, int] | None = None
) -> Callable[[TopicPartition], bool]:
    """True for partitions with nothing left to fetch: the position reached both the
    high watermark the last fetch saw and the end the broker ``reported``."""
    reported = reported or {}

    def at_end(tp: TopicPartition) -> bool:
        # broker away (or a partition without a leader, which kafka-python
        # reports as a missing key): assume more may come
        try:
            high = consumer.highwater(tp)
            if high is None:
                high = consumer.end_offsets([tp], timeout_ms=PROBE_TIMEOUT_MS)[tp]
            high = max(high, reported.get(tp, high))
            return consumer.position(tp, timeout_ms=PROBE_TIMEOUT_MS) >= high
        except (KafkaError, KeyError):
            return False

    return at_end
