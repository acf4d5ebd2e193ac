"""Kafka clients configured from the settings (kafka-python 3.x)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streamrec.core.settings import Settings

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # lets oversized input reach the dead-letter topic


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=30000)


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


def make_consumer(
    settings: Settings, group: str, topics: Iterable[str] | None = None, **overrides: object
) -> KafkaConsumer:
    options = {
        **settings.kafka_client_options(),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # a producer's transaction (a replay's micro-batch) is seen whole or not at all;
        # records of producers without transactions are read as before
        "isolation_level": "read_committed",
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
