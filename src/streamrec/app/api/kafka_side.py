"""The API's Kafka clients: publish events and impressions, read offsets and the
cluster lifecycle topic. kafka-python consumers are not thread-safe, so each
reading client is used under its own lock."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from streamrec.core.events import ClickEvent, ImpressionEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.kafka.clients import make_producer
from streamrec.kafka.offsets import committed_offsets
from streamrec.kafka.producer import topic_for
from streamrec.kafka.topics import Topics, partitions_of

MAX_LIFECYCLE = 10_000


class KafkaSide:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.producer = make_producer(settings, linger_ms=2)
        self._meta = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
        self._meta_lock = threading.Lock()
        self._events = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
        self._events_lock = threading.Lock()
        self._events_assigned = False
        self.lifecycle: deque[dict] = deque(maxlen=MAX_LIFECYCLE)

    def close(self) -> None:
        self.producer.close(timeout=5)
        self._meta.close()
        self._events.close()

    def publish_impression(self, impression: ImpressionEvent) -> None:
        """Fire and forget: the request does not wait for the broker (the producer retries)."""
        self.producer.send(
            self.topics.impressions,
            key=impression.user_id.encode(),
            value=impression.to_json(),
            timestamp_ms=int(impression.ts * 1000),
        )

    def publish_events(
        self, events: Sequence[ReviewEvent | ClickEvent], timeout_s: float = 10.0
    ) -> None:
        """Send and wait until the broker acknowledged every event (raises KafkaError)."""
        futures = [
            self.producer.send(
                topic_for(e, self.topics),
                key=e.user_id.encode(),
                value=e.to_json(),
                timestamp_ms=int(e.ts * 1000),
            )
            for e in events
        ]
        self.producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)

    def reachable(self) -> bool:
        try:
            with self._meta_lock:
                self._meta.topics()
            return True
        except KafkaError:
            return False

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        with self._meta_lock:
            parts = partitions_of(self._meta, topics)
            ends = self._meta.end_offsets(parts) if parts else {}
        return {(tp.topic, tp.partition): end for tp, end in ends.items()}

    def lag(self) -> list[dict]:
        """Per input partition: end offset, the worker group's committed offset, the lag."""
        ends = self.end_offsets([self.topics.reviews, self.topics.clicks])
        done = {
            (tp.topic, tp.partition): o
            for tp, o in committed_offsets(self.settings, self.settings.worker_group).items()
        }
        return [
            {
                "topic": t,
                "partition": p,
                "end": end,
                "committed": done.get((t, p), 0),
                "lag": max(0, end - done.get((t, p), 0)),
            }
            for (t, p), end in sorted(ends.items())
        ]

    def dead_letters(self) -> int:
        return sum(self.end_offsets([self.topics.dead_letter]).values())

    def read_lifecycle(self) -> list[dict]:
        """Every cluster lifecycle event so far (the newest ``MAX_LIFECYCLE``), read on."""
        with self._events_lock:
            if not self._events_assigned:
                parts = partitions_of(self._events, [self.topics.cluster_events])
                if not parts:
                    return list(self.lifecycle)
                self._events.assign(parts)
                self._events.seek_to_beginning(*parts)
                self._events_assigned = True
            while True:
                polled = self._events.poll(timeout_ms=100, max_records=5000)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    break
                for record in sorted(records, key=lambda r: r.timestamp):
                    try:
                        self.lifecycle.append(json.loads(record.value))
                    except (ValueError, TypeError):
                        continue  # not ours to judge: the topic is the worker's output
        return list(self.lifecycle)
