"""Reading a topic's history without a consumer group (for replays)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer

from streamrec.core.settings import Settings
from streamrec.kafka.clients import MAX_MESSAGE_BYTES
from streamrec.kafka.topics import partitions_of


def read_history(
    settings: Settings,
    topics: Iterable[str],
    from_offset: int | None = None,
    from_time_ms: int | None = None,
    timeout_s: float = 10.0,
) -> list[bytes]:
    """Every record value of ``topics`` from an offset, a time (``offsets_for_times``) or
    the beginning, up to their current end; read without a consumer group."""
    consumer = KafkaConsumer(
        **settings.kafka_client_options(),
        enable_auto_commit=False,
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
    )
    try:
        partitions = partitions_of(consumer, topics)
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
