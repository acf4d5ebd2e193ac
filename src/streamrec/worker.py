"""The embed worker: Kafka micro-batches -> embeddings -> engine -> Redis, effectively once.

The commit order lives in :mod:`streamrec.checkpoint`; this module follows it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from redis.exceptions import WatchError

from streamrec import observability as obs
from streamrec.checkpoint import (
    DedupWindow,
    PartitionCheckpoint,
    SharedCheckpoint,
    loads,
    partition_key,
    partition_of,
)
from streamrec.embedding import Embedder, embedder_from_settings
from streamrec.engine import Engine, EngineConfig
from streamrec.events import ClickEvent, InvalidEvent, ReviewEvent, parse_event
from streamrec.kafka_io import Topics, dead_letter_headers, make_consumer, make_producer
from streamrec.ordering import BLOCKED, COMPLETE, EXHAUSTED, EventTimeMerger
from streamrec.redis_schema import RedisKeys
from streamrec.settings import Settings
from streamrec.store import RecsStore, connect, with_retry
from streamrec.sync import merge_shared
from streamrec.text import clean_text

log = logging.getLogger(__name__)

MAX_IDLE_S = 5.0  # how long a partition that lags behind may hold the others back
ID_RANGE = 10_000  # cluster ids each worker process may hand out
FRESHNESS_HORIZON_S = 3600.0


@dataclass
class Parsed:
    """A micro-batch validated and cleaned: events with their texts, and dead letters."""

    records: list[ConsumerRecord]
    events: list[tuple[ConsumerRecord, ReviewEvent | ClickEvent, int]] = field(
        default_factory=list)  # (record, event, index of its text or -1)
    texts: list[str] = field(default_factory=list)
    dead: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    generation: int = 0  # the assignment it was read under


@dataclass
class Decoded:
    """A batch ready for the engine: new events, their partitions and which of the
    batch's embedded texts belong to the kept reviews."""

    events: list[ReviewEvent | ClickEvent] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    text_rows: list[int] = field(default_factory=list)
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
        self.embedder = embedder or embedder_from_settings(settings)
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
        self.owned: set[int] = set()  # partition numbers whose users live here
        self._id_floor = 0
        self._generation = 0
        self._base_blob: bytes | None = None  # the shared model as of the last sync
        self._base_version = 0
        self.merges = 0  # syncs that folded in other workers' changes
        self.freshness: deque[float] = deque(maxlen=100_000)  # seconds, produce -> Redis
        self.busy_since: float | None = None  # wall time the first batch was collected
        self.busy_until: float | None = None  # wall time the last batch was done
        self.merger = EventTimeMerger()
        self._buffered_since: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch, checkpoint, commit and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def restore(self) -> bool:
        """Adopt the group's shared model from Redis, if any (users come per partition)."""
        blob = with_retry(lambda: self.store.load_checkpoint(self.settings.worker_group),
                          "load checkpoint", lambda: self.stopping)
        slot = int(with_retry(lambda: self.store.client.incr(self.store.keys.worker_slots()),
                              "worker slot"))  # type: ignore[arg-type]
        self._id_floor = (slot - 1) * ID_RANGE
        if blob is not None:
            shared = SharedCheckpoint.from_bytes(blob)
            self.engine.load_shared(shared.state)
            self._base_blob, self._base_version = blob, shared.version
            log.info("restored shared model", extra={"version": shared.version,
                                                     "clock": self.engine.clock})
        else:  # everything learned from here on is this worker's contribution
            self._base_blob = SharedCheckpoint(self.engine.shared_state(), 0).to_bytes()
            self._base_version = 0
        self._claim_id_range()
        return blob is not None

    def _claim_id_range(self) -> None:
        """New clusters born here get ids no other worker process hands out."""
        clusterer = self.engine.clusterer
        if hasattr(clusterer, "next_id"):
            clusterer.next_id = max(clusterer.next_id, self._id_floor)

    def _load_partitions(self, numbers: set[int]) -> None:
        for number in sorted(numbers - self.owned):
            key = self.store.keys.partition_checkpoint(self.settings.worker_group, number)
            blob = with_retry(lambda k=key: self.store.client.get(k), "load partition")
            if blob is not None:
                part = PartitionCheckpoint.from_bytes(bytes(blob))  # type: ignore[arg-type]
                self.engine.absorb_users(part.users)
                self.dedup.extend(part.dedup)
                self.offsets.update(part.offsets)
            self.owned.add(number)

    def _release_partitions(self, numbers: set[int]) -> None:
        for number in sorted(numbers & self.owned):
            self.engine.drop_partition(number)
            self.dedup.drop_partition(number)
            self.offsets = {k: v for k, v in self.offsets.items() if partition_of(k) != number}
            self.owned.discard(number)

    def run(
        self,
        until_caught_up: bool = False,
        idle_timeout_s: float | None = None,
        on_batch: Callable[[EmbedWorker], None] | None = None,
    ) -> None:
        """Process until stopped (SIGTERM), caught up, or idle for ``idle_timeout_s``."""
        self.restore()
        # range assignment keeps partition n of every input topic on one worker
        consumer = make_consumer(self.settings, self.settings.worker_group,
                                 group_instance_id=self.settings.worker_instance_id,
                                 partition_assignment_strategy=(RangePartitionAssignor,))
        consumer.subscribe([self.topics.reviews, self.topics.clicks], listener=self)
        producer = make_producer(self.settings)
        self._consumer = consumer
        last_data = time.monotonic()
        pool = ThreadPoolExecutor(1, thread_name_prefix="embed") \
            if self.settings.overlap_embedding else None
        ahead: tuple[Parsed, Future] | None = None  # the next batch, being embedded
        try:
            while not self.stopping:
                if ahead is not None:
                    parsed, future = ahead
                    ahead = None
                else:
                    records = self._collect(consumer)
                    parsed, future = (self.parse(records), None) if records else (None, None)
                if parsed is not None:
                    if pool is not None and future is None:
                        future = pool.submit(self._embed, parsed)
                    if pool is not None:  # read the next batch while the model works
                        following = self._collect(consumer, until=future.done)  # type: ignore[union-attr]
                        if following:
                            ahead_parsed = self.parse(following)
                            ahead = (ahead_parsed, pool.submit(self._embed, ahead_parsed))
                    vectors = future.result() if future is not None else self._embed(parsed)
                    if parsed.generation != self._generation:
                        # a rebalance came in between: these records are read again from
                        # the checkpoint's offsets; a batch read after it stays valid
                        if ahead is not None and ahead[0].generation != self._generation:
                            ahead = None
                        continue
                    self._process(parsed, producer, vectors)
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
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
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
        self._generation += 1
        self._load_partitions({tp.partition for tp in assigned})
        for tp in assigned:
            offset = self.offsets.get(partition_key(tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
        log.info("partitions assigned", extra={"partitions": str(sorted(assigned))})

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # the listener runs on kafka-python's IO thread, which must not block on the
        # broker: write the checkpoint only; its offsets win over the group's commit
        self.merger.drop(revoked)
        self._generation += 1  # a batch read before this is not processed
        if self._dirty:
            with_retry(self._write_checkpoint, "save checkpoint")
            self._dirty = False
        self._release_partitions({tp.partition for tp in revoked})
        log.info("partitions revoked", extra={"partitions": str(sorted(revoked))})

    # -- the loop ------------------------------------------------------------------

    def _collect(self, consumer: KafkaConsumer,
                 until: Callable[[], bool] | None = None) -> list[ConsumerRecord]:
        """The next micro-batch in event-time order (see :mod:`streamrec.ordering`).

        A batch ends after ``batch_size`` reviews (or four times as many events).
        A shorter batch goes out only when every partition is at its end and
        ``batch_wait_ms`` has passed (so a replay cuts the same batches on
        every run), or, if a partition stays blocked, after ``MAX_IDLE_S``.
        """
        wait_s = self.settings.batch_wait_ms / 1000
        while not self.stopping:
            if until is not None and until():
                return []  # whatever is buffered waits for the next call
            buffered = len(self.merger)
            polled = consumer.poll(timeout_ms=50 if buffered or until else 500,
                                   max_records=4 * self.settings.batch_size)
            for tp, records in polled.items():
                self.merger.add(tp, records)
            if not len(self.merger):
                self._buffered_since = None
                if not polled:
                    return []
                continue
            now = time.monotonic()
            if self._buffered_since is None:
                self._buffered_since = now
            waited = now - self._buffered_since
            assigned = consumer.assignment()
            at_end = self._at_end_checker(consumer)
            limit, stop = 4 * self.settings.batch_size, self._review_counter()
            order, status = self.merger.plan(limit, at_end, assigned, stop=stop)
            if status == COMPLETE or (status == EXHAUSTED and order and waited >= wait_s):
                self._buffered_since = None
                return self.merger.take(limit, at_end, assigned, stop=self._review_counter())
            if status == BLOCKED and waited >= MAX_IDLE_S:
                self._buffered_since = None
                return self.merger.take(limit, at_end, assigned, ignore_blocked=True,
                                        stop=self._review_counter())
        return []

    def _review_counter(self) -> Callable[[ConsumerRecord], bool]:
        count = 0
        reviews = self.topics.reviews

        def enough(record: ConsumerRecord) -> bool:
            nonlocal count
            count += record.topic == reviews
            return count >= self.settings.batch_size

        return enough

    def _at_end_checker(self, consumer: KafkaConsumer) -> Callable[[TopicPartition], bool]:
        """True for partitions with nothing left to fetch (position at the high watermark)."""
        def at_end(tp: TopicPartition) -> bool:
            high = consumer.highwater(tp)
            if high is None:
                try:
                    high = consumer.end_offsets([tp])[tp]
                except KafkaError:  # broker away: assume more may come
                    return False
            return consumer.position(tp) >= high

        return at_end

    def parse(self, records: list[ConsumerRecord]) -> Parsed:
        """Validate and clean (no state changes); bad records become dead letters."""
        parsed = Parsed(records, generation=self._generation)
        for record in records:
            expected = ReviewEvent if record.topic == self.topics.reviews else ClickEvent
            try:
                if record.value is None:
                    raise InvalidEvent("empty message (null value)")
                event = parse_event(record.value, expected)
                text_index = -1
                if isinstance(event, ReviewEvent):
                    text = clean_text(event.text, self.settings.max_text_chars)
                    if not text:
                        raise InvalidEvent("text is empty after cleaning")
                    text_index = len(parsed.texts)
                    parsed.texts.append(text)
            except InvalidEvent as error:
                parsed.dead.append((record, error.reason))
                continue
            parsed.events.append((record, event, text_index))  # type: ignore[arg-type]
        return parsed

    def _embed(self, parsed: Parsed) -> np.ndarray:
        watch = obs.Stopwatch()
        vectors = self.embedder.encode(parsed.texts)
        obs.EMBED_SECONDS.observe(watch.elapsed())
        return vectors

    def _deduplicate(self, parsed: Parsed) -> Decoded:
        """Drop events seen before (they become dead letters that say so)."""
        decoded = Decoded(dead=list(parsed.dead))
        for record, event, text_index in parsed.events:
            if not self.dedup.add(event.event_id, event.user_id, record.partition):
                decoded.duplicates += 1
                decoded.dead.append((record, f"duplicate event_id {event.event_id!r}"))
                continue
            decoded.events.append(event)
            decoded.partitions.append(record.partition)
            if text_index >= 0:
                decoded.text_rows.append(text_index)
        return decoded

    def _process(self, parsed: Parsed, producer: KafkaProducer, vectors: np.ndarray) -> None:
        watch = obs.Stopwatch()
        if self.busy_since is None:
            self.busy_since = time.time()
        records = parsed.records
        decoded = self._deduplicate(parsed)
        rows = np.asarray(decoded.text_rows, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, self.engine.dim)[rows]
        out = self.engine.apply(decoded.events, matrix, decoded.partitions)
        # 1. side outputs, flushed before anything else becomes visible
        for record, reason in decoded.dead:
            log.warning("dead letter", extra={"reason": reason, "topic": record.topic,
                                              "partition": record.partition,
                                              "offset": record.offset})
        if decoded.dead or out.lifecycle:
            self._send_side_outputs(producer, decoded.dead, out.lifecycle)
        # 2. Redis writes
        redis_watch = obs.Stopwatch()
        summary = self._summary(self.engine.clock)
        with_retry(lambda: self.store.write(out, summary), "write recs",
                   on_retry=obs.REDIS_RETRIES.inc)
        obs.REDIS_SECONDS.observe(redis_watch.elapsed())
        self._observe_freshness(records)
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
        self.busy_until = time.time()
        obs.USERS.set(summary["users"])
        obs.DRIFT.inc(out.drift_alarms)
        obs.DRIFT_DISTANCE.set(self.engine.drift.mean_distance)
        obs.CLUSTERS.set(summary["clusters"])

    def _observe_freshness(self, records: list[ConsumerRecord]) -> None:
        """Produce time -> recs in Redis, for live records (replayed history is years old)."""
        now = time.time()
        for record in records:
            age = now - record.timestamp / 1000
            if 0 <= age < FRESHNESS_HORIZON_S:
                obs.FRESHNESS.observe(age)
                self.freshness.append(age)

    def _send_side_outputs(self, producer: KafkaProducer,
                           dead: list[tuple[ConsumerRecord, str]], lifecycle: list) -> None:
        """Produce and flush dead letters and cluster events, retrying while Kafka is away.

        A retry after a partial failure may repeat a side output (at least once);
        the batch's effects in Redis and the offsets wait until they are out.
        """
        delay = 0.5
        while True:
            try:
                futures = [
                    producer.send(self.topics.dead_letter, key=record.key,
                                  value=record.value or b"",
                                  headers=dead_letter_headers(reason, record.topic,
                                                              record.partition, record.offset))
                    for record, reason in dead
                ] + [
                    producer.send(self.topics.cluster_events,
                                  key=str(event.cluster_id).encode(), value=event.to_json())
                    for event in lifecycle
                ]
                producer.flush(timeout=30)
                for future in futures:
                    future.get(timeout=1)
                return
            except KafkaError as error:
                log.warning("side outputs not delivered, retrying",
                            extra={"error": str(error), "delay_s": delay})
                time.sleep(delay)
                delay = min(10.0, delay * 2)

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
        erased = self._erase_requested_users()
        due = time.monotonic() - self._last_checkpoint >= self.settings.checkpoint_interval_s
        if self._dirty and (due or erased):
            self.checkpoint(consumer)
        if erased:  # only once the checkpoint no longer holds them
            with_retry(lambda: self.store.client.ltrim(self.store.keys.deletions(), erased, -1),
                       "trim deletions")
        self._update_lag(consumer)

    def _erase_requested_users(self) -> int:
        """Apply ``streamrec delete-user`` requests to the in-memory state."""
        pending = with_retry(lambda: self.store.client.lrange(self.store.keys.deletions(), 0, -1),
                             "read deletions")
        for raw in pending:  # type: ignore[union-attr]
            user_id = raw.decode()
            self.engine.forget_user(user_id)
            self.dedup.forget_owner(user_id)
            with_retry(lambda u=user_id: self.store.delete_user(u), "delete user keys")
            log.info("user erased", extra={"user_hash": hash(user_id) & 0xFFFF})
        if pending:
            self._dirty = True
        return len(pending)  # type: ignore[arg-type]

    def checkpoint(self, consumer: KafkaConsumer) -> None:
        """Steps 3 and 4 of the commit order: checkpoint to Redis, then commit to Kafka."""
        with_retry(self._write_checkpoint, "save checkpoint", on_retry=obs.REDIS_RETRIES.inc)
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

    def _write_checkpoint(self) -> None:
        """Merge the shared model under WATCH and write it with the partitions, atomically."""
        group, keys = self.settings.worker_group, self.store.keys
        local = self.engine.shared_state()
        parts = {
            keys.partition_checkpoint(group, number): PartitionCheckpoint(
                self.engine.export_users(number),
                {k: v for k, v in self.offsets.items() if partition_of(k) == number},
                self.dedup.entries(number)).to_bytes()
            for number in sorted(self.owned)
        }
        while True:
            with self.store.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(keys.checkpoint(group))
                    raw = pipe.get(keys.checkpoint(group))
                    current = SharedCheckpoint.from_bytes(raw) if raw else None  # type: ignore[arg-type]
                    merged = local
                    if current is not None and current.version != self._base_version:
                        base = loads(self._base_blob)["state"]  # type: ignore[arg-type]
                        merged = merge_shared(base, local, current.state)
                    version = (current.version if current else 0) + 1
                    blob = SharedCheckpoint(merged, version).to_bytes()
                    pipe.multi()
                    pipe.set(keys.checkpoint(group), blob)
                    for key, value in parts.items():
                        pipe.set(key, value)
                    pipe.execute()
                except WatchError:
                    continue  # another worker synced in between: merge again
            break
        if merged is not local:
            self.engine.load_shared(merged)
            self._claim_id_range()
            self.merges += 1
        self._base_blob, self._base_version = blob, version

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
        if len(self.merger):
            return False
        try:
            ends = consumer.end_offsets(list(assigned))
        except KafkaError:
            return False
        # processed offsets, not fetch positions: fetched records may wait in the merger,
        # or have been dropped from it at a revocation
        return all(self.offsets.get(partition_key(tp.topic, tp.partition), 0) >= end
                   for tp, end in ends.items())
