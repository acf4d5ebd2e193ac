"""Applying one micro-batch, in steps 1 and 2 of the commit order: the engine learns,
side outputs go out, then the lists reach Redis; only then do offsets advance."""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from streamrec.app import observability as obs
from streamrec.app.worker.decode import Parsed, deduplicate
from streamrec.app.worker.erasure import Eraser
from streamrec.app.worker.progress import Progress
from streamrec.kafka.dead_letter import send_side_outputs
from streamrec.kafka.topics import Topics
from streamrec.model.engine import Engine
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)

FRESHNESS_HORIZON_S = 3600.0


class BatchProcessor:
    """Applies batches and counts what it did."""

    def __init__(
        self, engine: Engine, store: RecsStore, topics: Topics, progress: Progress, model_name: str
    ) -> None:
        self.engine = engine
        self.store = store
        self.topics = topics
        self.progress = progress
        self.model_name = model_name
        self.erasure = Eraser(store, engine, progress)
        self.events_total = 0
        self.batches = 0
        self.dead_letters = 0
        self.duplicates = 0
        self.freshness: deque[float] = deque(maxlen=100_000)  # seconds, produce -> Redis
        self.busy_since: float | None = None  # wall time the first batch was collected
        self.busy_until: float | None = None  # wall time the last batch was done

    def process(self, parsed: Parsed, producer: KafkaProducer, vectors: np.ndarray) -> None:
        watch = obs.Stopwatch()
        if self.busy_since is None:
            self.busy_since = time.time()
        records = parsed.records
        decoded = deduplicate(parsed, self.progress.dedup)
        rows = np.asarray(decoded.text_rows, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, self.engine.dim)[rows]
        out = self.engine.apply(decoded.events, matrix, decoded.partitions)
        self.erasure.forget(parsed.erase, out)
        # 1. side outputs, flushed before anything else becomes visible
        for record, reason in decoded.dead:
            log.warning(
                "dead letter",
                extra={
                    "reason": reason,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
        if decoded.dead or out.lifecycle:
            send_side_outputs(producer, self.topics, decoded.dead, out.lifecycle)
        # 2. Redis writes
        redis_watch = obs.Stopwatch()
        summary = self.summary(self.engine.clock)
        with_retry(
            lambda: self.store.write(out, summary), "write recs", on_retry=obs.REDIS_RETRIES.inc
        )
        self.erasure.delete_keys(parsed.erase)
        obs.REDIS_SECONDS.observe(redis_watch.elapsed())
        self._observe_freshness(records)
        # offsets advance only once the batch's effects are in Redis
        self.progress.advance(records)
        self.events_total += len(decoded.events)
        self.dead_letters += len(decoded.dead)
        self.duplicates += decoded.duplicates
        self.batches += 1
        self.progress.dirty = True
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

    def summary(self, events: int) -> dict:
        """The model summary under ``streamrec:v1:model``."""
        return {
            "events": events,
            "users": len(self.engine.profiles),
            "items": self.engine.items.n_items,
            "clusters": len(self.engine.clusterer.snapshot()),
            "as_of": self.engine.as_of,
            "model": self.model_name,
            "updated_at": time.time(),
        }
