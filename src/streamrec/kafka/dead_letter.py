"""Side outputs: bad input to the dead-letter topic (original bytes, with why and where
from in the headers) and cluster lifecycle events to their topic."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

if TYPE_CHECKING:
    from streamrec.clustering.base import LifecycleEvent
    from streamrec.kafka.topics import Topics

log = logging.getLogger(__name__)


def dead_letter_headers(
    error: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Headers that say why and where from; the value stays the original bytes."""
    return [
        ("streamrec.error", error.encode("utf-8", "replace")[:4096]),
        ("streamrec.source.topic", topic.encode()),
        ("streamrec.source.partition", str(partition).encode()),
        ("streamrec.source.offset", str(offset).encode()),
    ]


def send_side_outputs(
    producer: KafkaProducer,
    topics: Topics,
    dead: list[tuple[ConsumerRecord, str]],
    lifecycle: list[LifecycleEvent],
) -> None:
    """Produce and flush dead letters and cluster events, retrying while Kafka is away.

    A retry after a partial failure may repeat a side output (at least once);
    the batch's effects in Redis and the offsets wait until they are out.
    """
    delay = 0.5
    while True:
        try:
            futures = [
                producer.send(
                    topics.dead_letter,
                    key=record.key,
                    value=record.value or b"",
                    headers=dead_letter_headers(
                        reason, record.topic, record.partition, record.offset
                    ),
                )
                for record, reason in dead
            ] + [
                producer.send(
                    topics.cluster_events, key=str(event.cluster_id).encode(), value=event.to_json()
                )
                for event in lifecycle
            ]
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=1)
            return
        except KafkaError as error:
            log.warning(
                "side outputs not delivered, retrying",
                extra={"error": str(error), "delay_s": delay},
            )
            time.sleep(delay)
            delay = min(10.0, delay * 2)
