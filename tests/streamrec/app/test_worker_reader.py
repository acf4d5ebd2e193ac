"""Cutting micro-batches while a producer is still writing (the worker's reader).

The consumer here is an in-memory stand-in for a broker and its fetches: the
thing under test is the reader's cut, not Kafka. A fetch returns what had
landed when it ran and the high watermarks of that moment, so a partition
written a moment later looks finished until the broker is asked again.
"""

from __future__ import annotations

from types import SimpleNamespace

from kafka import TopicPartition

from streamrec.app.worker.reader import BatchReader
from streamrec.core.ordering import EventTimeMerger

REVIEWS, CLICKS = TopicPartition("t.reviews", 0), TopicPartition("t.clicks", 0)


def at(tp: TopicPartition, offset: int, ts: int) -> SimpleNamespace:
    return SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset, timestamp=ts)


class LateFetches:
    """A broker whose fetches see a partition's records only from fetch number
    ``visible_from[tp]`` on, while its answer to "where does it end?" counts them
    at once; ``landing`` records land on a partition each time that is asked."""

    def __init__(
        self,
        log: dict[TopicPartition, list[SimpleNamespace]],
        visible_from: dict,
        landing: dict | None = None,
    ) -> None:
        self.log, self.visible_from, self.landing = log, visible_from, landing or {}
        self.fetches = 0
        self.position_of = {tp: 0 for tp in log}
        self.highwaters = {tp: 0 for tp in log}
        self.end_offset_calls = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.fetches += 1
        polled = {}
        for tp, records in self.log.items():
            if self.fetches < self.visible_from.get(tp, 1):
                continue  # not landed yet: this fetch reports the old watermark
            self.highwaters[tp] = len(records)
            fresh = records[self.position_of[tp] :]
            if fresh:
                polled[tp] = fresh
                self.position_of[tp] = len(records)
        return polled

    def assignment(self) -> set[TopicPartition]:
        return set(self.log)

    def highwater(self, tp: TopicPartition) -> int:
        return self.highwaters[tp]

    def end_offsets(self, partitions: list, timeout_ms: int = 0) -> dict:
        self.end_offset_calls += 1
        ends = {tp: len(self.log[tp]) for tp in partitions}
        for tp, ts in self.landing.items():  # a live producer: more lands after each answer
            self.log[tp].append(at(tp, len(self.log[tp]), ts + self.end_offset_calls))
        return ends

    def position(self, tp: TopicPartition, timeout_ms: int) -> int:
        return self.position_of[tp]


def reader(batch_size: int, wait_ms: int, strict: bool = True) -> BatchReader:
    merger = EventTimeMerger()
    return BatchReader(batch_size, wait_ms, REVIEWS.topic, merger, lambda: False, strict=strict)


def stamps(batch: list) -> list[tuple[str, int]]:
    return [(r.topic, r.timestamp) for r in batch]


def test_a_full_batch_waits_for_a_partition_the_last_fetch_saw_as_finished() -> None:
    log = {REVIEWS: [at(REVIEWS, 0, 1), at(REVIEWS, 1, 3)], CLICKS: [at(CLICKS, 0, 2)]}
    broker = LateFetches(log, visible_from={CLICKS: 2})
    batch = reader(batch_size=2, wait_ms=1000).collect(broker)  # type: ignore[arg-type]
    # without asking the broker, the two reviews made a full batch and the older click
    # (already written) would have gone into the next one
    assert stamps(batch) == [("t.reviews", 1), ("t.clicks", 2), ("t.reviews", 3)]
    assert broker.fetches == 2


def test_without_strict_order_a_full_batch_goes_out_on_the_fetched_watermarks() -> None:
    log = {REVIEWS: [at(REVIEWS, 0, 1), at(REVIEWS, 1, 3)], CLICKS: [at(CLICKS, 0, 2)]}
    broker = LateFetches(log, visible_from={CLICKS: 2})
    batch = reader(batch_size=2, wait_ms=1000, strict=False).collect(broker)  # type: ignore[arg-type]
    assert stamps(batch) == [("t.reviews", 1), ("t.reviews", 3)]  # as Kafka Streams would
    assert broker.end_offset_calls == 0


def test_a_full_batch_asks_the_broker_only_when_it_relies_on_a_finished_partition() -> None:
    log = {REVIEWS: [at(REVIEWS, 0, 1), at(REVIEWS, 1, 3)], CLICKS: [at(CLICKS, 0, 5)]}
    broker = LateFetches(log, visible_from={})
    batch = reader(batch_size=2, wait_ms=1000).collect(broker)  # type: ignore[arg-type]
    assert stamps(batch) == [("t.reviews", 1), ("t.reviews", 3)]
    assert broker.end_offset_calls == 0  # the click buffered after the cut: nothing to ask


def test_a_batch_asks_once_and_does_not_chase_records_that_land_after_the_answer() -> None:
    log = {REVIEWS: [at(REVIEWS, 0, 1)], CLICKS: [at(CLICKS, 0, 2)]}
    broker = LateFetches(log, visible_from={CLICKS: 2}, landing={CLICKS: 2})
    batch = reader(batch_size=4, wait_ms=0).collect(broker)  # type: ignore[arg-type]
    # the answer reported the first click; the next fetch brought it and the one that
    # landed after the answer, and the cut went out without asking (and waiting) again
    assert stamps(batch) == [("t.reviews", 1), ("t.clicks", 2), ("t.clicks", 3)]
    assert broker.end_offset_calls == 1 and broker.fetches == 2


def test_an_erasure_waits_for_the_users_events_the_last_fetch_had_not_brought() -> None:
    deletions = TopicPartition("t.deletions", 0)
    log = {REVIEWS: [at(REVIEWS, 0, 1)], deletions: [at(deletions, 0, 5)]}
    broker = LateFetches(log, visible_from={REVIEWS: 2})
    merger = EventTimeMerger()
    cut = BatchReader(4, 1000, REVIEWS.topic, merger, lambda: False, deletions.topic)
    batch = cut.collect(broker)  # type: ignore[arg-type]
    # applied first, the erasure would be undone by the review that follows it
    assert stamps(batch) == [("t.reviews", 1), ("t.deletions", 5)]
