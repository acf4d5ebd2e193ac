"""Kafka adapter: topics, producers, consumers and dead letters (kafka-python 3.x)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streamrec.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # lets oversized input reach the dead-letter topic


@dataclass(frozen=True)
class Topics:
    reviews: str
    clicks: str
    impressions: str
    dead_letter: str
    cluster_events: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(settings.topic_reviews, settings.topic_clicks, settings.topic_impressions,
                   settings.topic_dead_letter, settings.topic_cluster_events)

    def all(self) -> list[str]:
        return [self.reviews, self.clicks, self.impressions, self.dead_letter,
                self.cluster_events]


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=30000)


def ensure_topics(settings: Settings, names: Iterable[str] | None = None,
                  partitions: int | None = None) -> None:
    """Create the topics that do not exist yet (idempotent)."""
    names = list(names or Topics.from_settings(settings).all())
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions or settings.topic_partitions,
                     replication_factor=1,
                     topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES),
                                    "retention.ms": str(settings.topic_retention_ms),
                                    "message.timestamp.type": "CreateTime"})
            for name in names if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                client.create_topics(wanted)
        client.wait_for_topics(names, timeout_ms=30000)
    finally:
        client.close()


def delete_topics(settings: Settings, names: Iterable[str]) -> None:
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            client.delete_topics(doomed)
    finally:
        client.close()


def make_producer(settings: Settings, **overrides: object) -> KafkaProducer:
    options = {
        **settings.kafka_client_options(),
        "acks": "all",
        "linger_ms": 5,
        "retries": 10,
        "max_request_size": MAX_MESSAGE_BYTES,
        "max_in_flight_requests_per_connection": 1,  # keeps per-key order across retries
        **overrides,
    }
    return KafkaProducer(**options)


def make_consumer(settings: Settings, group: str, topics: Iterable[str] | None = None,
                  **overrides: object) -> KafkaConsumer:
    options = {
        **settings.kafka_client_options(),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": max(4 * settings.batch_size, 256),
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        "fetch_max_bytes": 4 * MAX_MESSAGE_BYTES,
        "max_poll_interval_ms": 600_000,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(1000, settings.kafka_session_timeout_ms // 5),
        **overrides,
    }
    consumer = KafkaConsumer(**options)
    if topics is not None:
        consumer.subscribe(list(topics))
    return consumer


def committed_offsets(settings: Settings, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, as the broker has them."""
    client = admin(settings)
    try:
        offsets = client.list_group_offsets(group).get(group, {})
    finally:
        client.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def _partitions(consumer: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or [])]


def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(**settings.kafka_client_options())
    try:
        return dict(consumer.end_offsets(_partitions(consumer, topics)))
    finally:
        consumer.close()


def dead_letter_headers(error: str, topic: str, partition: int, offset: int
                        ) -> list[tuple[str, bytes]]:
    """Headers that say why and where from; the value stays the original bytes."""
    return [
        ("streamrec.error", error.encode("utf-8", "replace")[:4096]),
        ("streamrec.source.topic", topic.encode()),
        ("streamrec.source.partition", str(partition).encode()),
        ("streamrec.source.offset", str(offset).encode()),
    ]


def read_history(settings: Settings, topics: Iterable[str], from_offset: int | None = None,
                 from_time_ms: int | None = None, timeout_s: float = 10.0) -> list[bytes]:
    """Every record value of ``topics`` from an offset, a time (``offsets_for_times``) or
    the beginning, up to their current end; read without a consumer group."""
    consumer = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False,
                             max_partition_fetch_bytes=MAX_MESSAGE_BYTES)
    try:
        partitions = _partitions(consumer, topics)
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        if from_time_ms is not None:
            found = consumer.offsets_for_times({tp: from_time_ms for tp in partitions})
            for tp in partitions:
                consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])
        elif from_offset is not None:
            for tp in partitions:
                consumer.seek(tp, min(from_offset, ends[tp]))
        else:
            consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in batch if r.value is not None)
                deadline = time.monotonic() + timeout_s
            if time.monotonic() > deadline:
                raise TimeoutError("reading the topic history stalled")
        return values
    finally:
        consumer.close()
