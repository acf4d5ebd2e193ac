"""The worker's poll loop: read a batch, embed it (the next one meanwhile), apply it,
checkpoint on schedule; SIGTERM drains, checkpoints, commits and returns."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor

from streamrec.app import observability as obs
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.decode import Parsed, parse
from streamrec.app.worker.pacing import CheckpointPacing
from streamrec.app.worker.process import BatchProcessor
from streamrec.app.worker.progress import Progress
from streamrec.app.worker.reader import BatchReader
from streamrec.app.worker.rebalance import RebalanceListener
from streamrec.checkpointing.codec import partition_key
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.ordering import EventTimeMerger
from streamrec.core.settings import Settings
from streamrec.embedding.base import Embedder
from streamrec.embedding.factory import embedder_from_settings
from streamrec.kafka.clients import make_consumer, make_producer
from streamrec.kafka.offsets import caught_up
from streamrec.kafka.topics import Topics, partition_count
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect


class EmbedWorker:
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
        self.store = RecsStore(
            connect(settings), RedisKeys(settings.redis_prefix), settings.recs_ttl_s
        )
        self.progress = Progress(DedupWindow(settings.dedup_window))
        self._stop = threading.Event()
        self.merger = EventTimeMerger()
        self.reader = BatchReader(
            settings.batch_size,
            settings.batch_wait_ms,
            self.topics.reviews,
            self.merger,
            self._stop.is_set,
            self.topics.deletions,
            strict=settings.batch_strict_order,
        )
        self.checkpoints = Checkpointer(
            settings.worker_group,
            CheckpointPacing(
                settings.checkpoint_interval_s,
                settings.checkpoint_max_share,
                settings.checkpoint_max_interval_s,
            ),
            self.engine,
            self.store,
            self.progress,
            self._stop.is_set,
            settings.worker_instance_id,
        )
        self.rebalance = RebalanceListener(
            self.checkpoints, self.engine, self.progress, self.merger
        )
        self.processor = BatchProcessor(
            self.engine, self.store, self.topics, self.progress, self.embedder.name
        )

    # -- what callers read -------------------------------------------------------------

    @property
    def events_total(self) -> int:
        return self.processor.events_total

    @property
    def dead_letters(self) -> int:
        return self.processor.dead_letters

    @property
    def duplicates(self) -> int:
        return self.processor.duplicates

    @property
    def freshness(self) -> deque[float]:
        """Seconds from produce to recs in Redis, of live records."""
        return self.processor.freshness

    @property
    def busy_since(self) -> float | None:
        return self.processor.busy_since

    @property
    def busy_until(self) -> float | None:
        return self.processor.busy_until

    @property
    def merges(self) -> int:
        return self.checkpoints.merges

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its batch, checkpoint, commit and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(
        self,
        until_caught_up: bool = False,
        idle_timeout_s: float | None = None,
        on_batch: Callable[[EmbedWorker], None] | None = None,
    ) -> None:
        """Process until stopped (SIGTERM), caught up, or idle for ``idle_timeout_s``."""
        self.checkpoints.restore()
        # range assignment keeps partition n of every input topic on one worker
        consumer = make_consumer(
            self.settings,
            self.settings.worker_group,
            group_instance_id=self.settings.worker_instance_id,
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        consumer.subscribe(self.topics.inputs(), listener=self.rebalance)
        self.rebalance.partitions = partition_count(consumer, self.topics.inputs())
        producer = make_producer(self.settings)
        self.rebalance.consumer = consumer
        last_data = time.monotonic()
        pool = (
            ThreadPoolExecutor(1, thread_name_prefix="embed")
            if self.settings.overlap_embedding
            else None
        )
        ahead: tuple[Parsed, Future] | None = None  # the next batch, being embedded
        try:
            while not self.stopping:
                if ahead is not None:
                    parsed, future = ahead
                    ahead = None
                else:
                    records = self.reader.collect(consumer)
                    parsed, future = (self._parse(records), None) if records else (None, None)
                if parsed is not None:
                    if pool is not None and future is None:
                        future = pool.submit(self._embed, parsed)
                    if pool is not None:  # read the next batch while the model works
                        following = self.reader.collect(consumer, until=future.done)  # type: ignore[union-attr]
                        if following:
                            ahead_parsed = self._parse(following)
                            ahead = (ahead_parsed, pool.submit(self._embed, ahead_parsed))
                    vectors = future.result() if future is not None else self._embed(parsed)
                    if parsed.generation != self.progress.generation:
                        # a rebalance came in between: these records are read again from
                        # the checkpoint's offsets; a batch read after it stays valid
                        if ahead is not None and ahead[0].generation != self.progress.generation:
                            ahead = None
                        continue
                    self.processor.process(parsed, producer, vectors)
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
                if self.progress.dirty:
                    self.checkpoints.checkpoint(consumer)
                elif self.progress.commit_owed:
                    self.checkpoints.commit(consumer)
            finally:
                producer.close(timeout=10)
                consumer.close(autocommit=False)
                self.rebalance.consumer = None

    def _parse(self, records: list) -> Parsed:
        return parse(
            records,
            self.topics.reviews,
            self.settings.max_text_chars,
            self.progress.generation,
            self.topics.deletions,
        )

    def _embed(self, parsed: Parsed) -> np.ndarray:
        watch = obs.Stopwatch()
        vectors = self.embedder.encode(parsed.texts)
        obs.EMBED_SECONDS.observe(watch.elapsed())
        return vectors

    def _maybe_checkpoint(self, consumer: KafkaConsumer) -> None:
        # an erasure is checkpointed at once: until then a restart would read the old profile
        if self.progress.dirty and (self.checkpoints.due() or self.progress.erased):
            # one on schedule waits while another worker writes; an erasure does not
            if self.checkpoints.checkpoint(consumer, may_put_off=not self.progress.erased):
                self.progress.erased = False
        elif self.progress.commit_owed and not self.progress.dirty:
            self.checkpoints.commit(consumer)
        self._update_lag(consumer)

    def _update_lag(self, consumer: KafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = self.progress.offsets.get(partition_key(tp.topic, tp.partition), 0)
            obs.LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - position))

    def _caught_up(self, consumer: KafkaConsumer) -> bool:
        # processed offsets, not fetch positions: fetched records may wait in the merger,
        # or have been dropped from it at a revocation
        if len(self.merger):
            return False
        return caught_up(consumer, self.progress.offsets)
