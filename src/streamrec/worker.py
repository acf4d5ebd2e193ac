"""The embed worker: Kafka micro-batches -> embeddings -> engine -> Redis, effectively once.

The commit order lives in :mod:`streamrec.checkpoint`; this module follows it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from streamrec import observability as obs
from streamrec.checkpoint import Checkpoint, DedupWindow, partition_key
from streamrec.embedding import Embedder, make_embedder
from streamrec.engine import Engine, EngineConfig
from streamrec.events import ClickEvent, InvalidEvent, ReviewEvent, parse_event
from streamrec.kafka_io import Topics, dead_letter_headers, make_consumer, make_producer
from streamrec.redis_schema import RedisKeys
from streamrec.settings import Settings
from streamrec.store import RecsStore, connect, with_retry
from streamrec.text import clean_text

log = logging.getLogger(__name__)


@dataclass
class Decoded:
    """A polled micro-batch split into good events and dead letters."""

    events: list[ReviewEvent | ClickEvent] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    dead: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    duplicates: int = 0


class EmbedWorker(ConsumerRebalanceListener):
    """Consumes reviews and clicks, keeps the engine's state, publishes recs to Redis."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.embedder = embedder or make_embedder(settings.model, settings.device,
                                                  settings.embed_batch_size,
                                                  settings.max_seq_tokens)
        self.engine = engine or Engine(self.embedder.dim, EngineConfig.from_settings(settings))
        self.store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix),
                               settings.recs_ttl_s)
        self.dedup = DedupWindow(settings.dedup_window)
        self.offsets: dict[str, int] = {}  # next offset to read, per "topic:partition"
        self.events_total = 0
        self.batches = 0
        self.dead_letters = 0
        self.duplicates = 0
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._last_checkpoint = time.monotonic()
        self._dirty = False

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch, checkpoint, commit and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def restore(self) -> bool:
        """Load the last checkpoint from Redis, if any."""
        blob = with_retry(lambda: self.store.load_checkpoint(self.settings.worker_group),
                          "load checkpoint", lambda: self.stopping)
        if blob is None:
            return False
        checkpoint = Checkpoint.from_bytes(blob)
        self.engine.load(checkpoint.state)
        self.dedup = DedupWindow(self.settings.dedup_window, checkpoint.dedup)
        self.offsets = dict(checkpoint.offsets)
        self.events_total = checkpoint.events
        log.info("restored checkpoint", extra={"events": self.events_total,
                                               "partitions": len(self.offsets)})
        return True

    def run(
        self,
        until_caught_up: bool = False,
        idle_timeout_s: float | None = None,
        on_batch: Callable[[EmbedWorker], None] | None = None,
    ) -> None:
        """Process until stopped (SIGTERM), caught up, or idle for ``idle_timeout_s``."""
        self.restore()
        consumer = make_consumer(self.settings, self.settings.worker_group)
        consumer.subscribe([self.topics.reviews, self.topics.clicks], listener=self)
        producer = make_producer(self.settings)
        self._consumer = consumer
        last_data = time.monotonic()
        try:
            while not self.stopping:
                records = self._collect(consumer)
                if records:
                    self._process(records, producer)
                    last_data = time.monotonic()
                    if on_batch is not None:
                        on_batch(self)
                    self._maybe_checkpoint(consumer)
                    continue
                self._maybe_checkpoint(consumer)
                if until_caught_up and self._caught_up(consumer):
                    break
                if idle_timeout_s is not None and time.monotonic() - last_data > idle_timeout_s:
                    break
        finally:
            try:
                if self._dirty:
                    self.checkpoint(consumer)
            finally:
                producer.close(timeout=10)
                consumer.close(autocommit=False)
                self._consumer = None

    # -- rebalance listener --------------------------------------------------------

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        for tp in assigned:
            offset = self.offsets.get(partition_key(tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
        log.info("partitions assigned", extra={"partitions": str(sorted(assigned))})

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self._consumer is not None and self._dirty:
            self.checkpoint(self._consumer)
        log.info("partitions revoked", extra={"partitions": str(sorted(revoked))})

    # -- the loop ------------------------------------------------------------------

    def _collect(self, consumer: KafkaConsumer) -> list[ConsumerRecord]:
        """A micro-batch: up to ``batch_size`` reviews or ``batch_wait_ms``, whichever first."""
        records: list[ConsumerRecord] = []
        reviews = 0
        deadline: float | None = None
        wait_s = self.settings.batch_wait_ms / 1000
        while not self.stopping:
            remaining = 0.5 if deadline is None else deadline - time.monotonic()
            if deadline is not None and remaining <= 0:
                break
            polled = consumer.poll(timeout_ms=int(remaining * 1000),
                                   max_records=self.settings.batch_size - reviews)
            if not polled:
                if deadline is None:
                    break
                continue
            for batch in polled.values():
                records.extend(batch)
                reviews += sum(1 for r in batch if r.topic == self.topics.reviews)
            if deadline is None:
                deadline = time.monotonic() + wait_s
            if reviews >= self.settings.batch_size:
                break
        return records

    def decode(self, records: list[ConsumerRecord]) -> Decoded:
        """Validate, clean and deduplicate; bad records become dead letters."""
        decoded = Decoded()
        for record in records:
            expected = ReviewEvent if record.topic == self.topics.reviews else ClickEvent
            try:
                if record.value is None:
                    raise InvalidEvent("empty message (null value)")
                event = parse_event(record.value, expected)
                text = ""
                if isinstance(event, ReviewEvent):
                    text = clean_text(event.text, self.settings.max_text_chars)
                    if not text:
                        raise InvalidEvent("text is empty after cleaning")
            except InvalidEvent as error:
                decoded.dead.append((record, error.reason))
                continue
            if not self.dedup.add(event.event_id):
                decoded.duplicates += 1
                continue
            decoded.events.append(event)  # type: ignore[arg-type]
            if isinstance(event, ReviewEvent):
                decoded.texts.append(text)
        return decoded

    def _process(self, records: list[ConsumerRecord], producer: KafkaProducer) -> None:
        watch = obs.Stopwatch()
        decoded = self.decode(records)
        embed_watch = obs.Stopwatch()
        vectors = self.embedder.encode(decoded.texts)
        obs.EMBED_SECONDS.observe(embed_watch.elapsed())
        out = self.engine.apply(decoded.events, vectors)
        # 1. side outputs, flushed before anything else becomes visible
        for record, reason in decoded.dead:
            producer.send(self.topics.dead_letter, key=record.key, value=record.value or b"",
                          headers=dead_letter_headers(reason, record.topic, record.partition,
                                                      record.offset))
            log.warning("dead letter", extra={"reason": reason, "topic": record.topic,
                                              "partition": record.partition,
                                              "offset": record.offset})
        for event in out.lifecycle:
            producer.send(self.topics.cluster_events, key=str(event.cluster_id).encode(),
                          value=event.to_json())
        if decoded.dead or out.lifecycle:
            producer.flush(timeout=60)
        # 2. Redis writes
        redis_watch = obs.Stopwatch()
        summary = self._summary(self.events_total + len(decoded.events))
        with_retry(lambda: self.store.write(out, summary), "write recs",
                   on_retry=obs.REDIS_RETRIES.inc)
        obs.REDIS_SECONDS.observe(redis_watch.elapsed())
        # offsets advance only once the batch's effects are in Redis
        for record in records:
            key = partition_key(record.topic, record.partition)
            self.offsets[key] = max(self.offsets.get(key, 0), record.offset + 1)
        self.events_total += len(decoded.events)
        self.dead_letters += len(decoded.dead)
        self.duplicates += decoded.duplicates
        self.batches += 1
        self._dirty = True
        obs.EVENTS.labels("review").inc(out.reviews)
        obs.EVENTS.labels("click").inc(out.clicks)
        obs.DEAD_LETTERS.inc(len(decoded.dead))
        obs.DUPLICATES.inc(decoded.duplicates)
        obs.BATCH_SECONDS.observe(watch.elapsed())
        obs.USERS.set(len(self.engine.profiles))
        obs.CLUSTERS.set(len(self.engine.clusterer.snapshot()))

    def _summary(self, events: int) -> dict:
        return {
            "events": events, "users": len(self.engine.profiles),
            "items": self.engine.items.n_items,
            "clusters": len(self.engine.clusterer.snapshot()),
            "as_of": self.engine.as_of, "model": self.embedder.name,
            "updated_at": time.time(),
        }

    # -- checkpoints -------------------------------------------------------------------

    def _maybe_checkpoint(self, consumer: KafkaConsumer) -> None:
        due = time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_interval_s
        if self._dirty and due:
            self.checkpoint(consumer)
        self._update_lag(consumer)

    def checkpoint(self, consumer: KafkaConsumer) -> None:
        """Steps 3 and 4 of the commit order: checkpoint to Redis, then commit to Kafka."""
        checkpoint = Checkpoint(self.engine.state(), dict(self.offsets), self.dedup.ids(),
                                self.events_total)
        blob = checkpoint.to_bytes()
        with_retry(lambda: self.store.save_checkpoint(self.settings.worker_group, blob),
                   "save checkpoint", on_retry=obs.REDIS_RETRIES.inc)
        obs.CHECKPOINTS.inc()
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        assigned = consumer.assignment()
        commits = {}
        for key, offset in self.offsets.items():
            topic, _, partition = key.rpartition(":")
            tp = TopicPartition(topic, int(partition))
            if tp in assigned:
                commits[tp] = OffsetAndMetadata(offset, "", -1)
        if not commits:
            return
        try:
            consumer.commit(commits)
        except (CommitFailedError, KafkaError) as error:
            # the checkpoint already holds these offsets and wins on restart
            log.warning("offset commit failed", extra={"error": str(error)})

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = self.offsets.get(partition_key(tp.topic, tp.partition), 0)
            obs.LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - position))

    def _caught_up(self, consumer: KafkaConsumer) -> bool:
        assigned = consumer.assignment()
        if not assigned:
            return False
        ends = consumer.end_offsets(list(assigned))
        return all(
            self.offsets.get(partition_key(tp.topic, tp.partition), 0) >= end
            or consumer.position(tp) >= end
            for tp, end in ends.items()
        )
