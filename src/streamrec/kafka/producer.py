"""Publish events to Kafka in event-time order, keyed by user, optionally paced."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from kafka import KafkaProducer

from streamrec.core.events import ClickEvent, DeletionEvent, ImpressionEvent, ReviewEvent
from streamrec.kafka.topics import Topics


def topic_for(event: ReviewEvent | ClickEvent | ImpressionEvent, topics: Topics) -> str:
    if isinstance(event, ReviewEvent):
        return topics.reviews
    if isinstance(event, ClickEvent):
        return topics.clicks
    return topics.impressions


def publish(
    producer: KafkaProducer,
    events: Sequence[ReviewEvent | ClickEvent | ImpressionEvent],
    topics: Topics,
    speedup: float | None = None,
    progress: bool = False,
) -> int:
    """Send ``events`` keyed by user id and flush; return how many were acknowledged.

    ``speedup`` replays the gaps between event times divided by that factor
    (None or 0: as fast as possible).
    """
    iterable: Iterable = events
    if progress:
        from tqdm import tqdm

        iterable = tqdm(events, desc="produce", unit="ev")
    start_wall = time.monotonic()
    start_ts = events[0].ts if events else 0.0
    futures = []
    for event in iterable:
        if speedup:
            due = (event.ts - start_ts) / speedup - (time.monotonic() - start_wall)
            if due > 0:
                time.sleep(due)
        # the record timestamp is the event time: replays can seek by it and the
        # worker merges partitions by it
        futures.append(
            producer.send(
                topic_for(event, topics),
                key=event.user_id.encode(),
                value=event.to_json(),
                timestamp_ms=int(event.ts * 1000),
            )
        )
    producer.flush(timeout=120)
    failed = [f for f in futures if f.failed()]
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(futures)} events were not acknowledged: {failed[0].exception}"
        )
    return len(futures)


def request_erasure(producer: KafkaProducer, topics: Topics, user_id: str) -> int:
    """Publish a deletion request keyed by the user (the owner of the user's partition
    applies it in order); return the partition it went to."""
    event = DeletionEvent(user_id=user_id, ts=time.time())
    future = producer.send(
        topics.deletions,
        key=user_id.encode(),
        value=event.to_json(),
        timestamp_ms=int(event.ts * 1000),
    )
    producer.flush(timeout=30)
    return int(future.get(timeout=30).partition)
