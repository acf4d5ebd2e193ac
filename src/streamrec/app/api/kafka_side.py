"""The API's Kafka clients: publish events and impressions, read offsets and the
cluster lifecycle topic. kafka-python consumers are not thread-safe, so each
reading client is used under its own lock. Clients are made on first use, so the
API starts and serves lists from Redis while Kafka is down (impressions are then
dropped and counted; POST /v1/events answers 503)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from streamrec.core.events import ClickEvent, ImpressionEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.kafka.clients import make_producer
from streamrec.kafka.offsets import committed_offsets
from streamrec.kafka.producer import topic_for
from streamrec.kafka.topics import Topics, partitions_of

MAX_LIFECYCLE = 10_000
RETRY_AFTER_S = 10.0
IMPRESSIONS = Counter("streamrec_api_impressions_total", "Impressions published by GET recs")
DROPPED = Counter("streamrec_api_impressions_dropped_total", "Impressions Kafka did not take")
log = logging.getLogger(__name__)


class KafkaSide:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self._producer: KafkaProducer | None = None
        self._meta_client: KafkaConsumer | None = None
        self._events_client: KafkaConsumer | None = None
        self._make_lock = threading.Lock()
        self._failed_at = -RETRY_AFTER_S
        self._meta_lock = threading.Lock()
        self._events_lock = threading.Lock()
        self._events_assigned = False
        self.lifecycle: deque[dict] = deque(maxlen=MAX_LIFECYCLE)

    @property
    def producer(self) -> KafkaProducer:
        with self._make_lock:
            if self._producer is None:
                # after a failed start, fail fast for a while instead of per request
                if time.monotonic() - self._failed_at < RETRY_AFTER_S:
                    raise KafkaError("Kafka unreachable (retrying shortly)")
                try:
                    # kafka-python waits 30 s for a broker; a refused connection answers now
                    if not self.reachable():
                        raise KafkaError("no bootstrap broker accepts connections")
                    self._producer = make_producer(self.settings, linger_ms=2)
                except KafkaError:
                    self._failed_at = time.monotonic()
                    raise
            return self._producer

    def warm_up(self) -> None:
        """Make the producer now (off the request path); a failure is retried on use."""
        try:
            _ = self.producer
        except KafkaError as error:
            log.warning("Kafka not reachable at start-up", extra={"error": str(error)})

    def _consumer(self, name: str) -> KafkaConsumer:
        with self._make_lock:
            if getattr(self, name) is None:
                options = self.settings.kafka_client_options()
                setattr(self, name, KafkaConsumer(**options, enable_auto_commit=False))
            return getattr(self, name)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
        for client in (self._meta_client, self._events_client):
            if client is not None:
                client.close()

    def publish_impression(self, impression: ImpressionEvent) -> None:
        """Fire and forget: the request does not wait for the broker (the producer retries).
        With Kafka unreachable the list is still served; the impression is counted lost."""
        try:
            self.producer.send(
                self.topics.impressions,
                key=impression.user_id.encode(),
                value=impression.to_json(),
                timestamp_ms=int(impression.ts * 1000),
            ).add_errback(lambda _: DROPPED.inc())
            IMPRESSIONS.inc()
        except KafkaError as error:
            DROPPED.inc()
            log.warning("impression not published", extra={"error": str(error)})

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

    def reachable(self, timeout_s: float = 1.0) -> bool:
        """A bootstrap broker accepts a connection (bounded: a probe must answer quickly)."""
        for server in self.settings.kafka_bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout_s):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        meta = self._consumer("_meta_client")
        with self._meta_lock:
            parts = partitions_of(meta, topics)
            ends = meta.end_offsets(parts) if parts else {}
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
        consumer = self._consumer("_events_client")
        with self._events_lock:
            if not self._events_assigned:
                parts = partitions_of(consumer, [self.topics.cluster_events])
                if not parts:
                    return list(self.lifecycle)
                consumer.assign(parts)
                consumer.seek_to_beginning(*parts)
                self._events_assigned = True
            while True:
                polled = consumer.poll(timeout_ms=100, max_records=5000)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    break
                for record in sorted(records, key=lambda r: r.timestamp):
                    try:
                        self.lifecycle.append(json.loads(record.value))
                    except (ValueError, TypeError):
                        continue  # not ours to judge: the topic is the worker's output
        return list(self.lifecycle)
