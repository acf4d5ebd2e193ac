"""The metrics sidecar: impressions + clicks from Kafka -> rolling metrics in Redis and /metrics.

Impressions that carry an A/B ``experiment`` and ``arm`` are also counted per arm
(:mod:`streamrec.app.ab_tracking`); the report with intervals and tests goes to
``streamrec:v1:experiments`` (``streamrec experiments`` prints it).

It keeps its own consumer group and checkpoint (offsets, recent impressions,
window observations, unmatched clicks, dedup window) under
``streamrec:v1:checkpoint:{metrics_group}``, written before offsets are
committed, so a restart continues with the same windows.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from prometheus_client import Gauge

from streamrec.app.ab_tracking import ArmScores
from streamrec.app.feedback import ClickJoiner, PendingClicks, RollingScores
from streamrec.checkpointing.codec import partition_key
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import ClickEvent, ImpressionEvent, InvalidEvent, parse_event
from streamrec.core.settings import Settings
from streamrec.kafka.clients import make_consumer
from streamrec.kafka.offsets import caught_up, commit_offsets
from streamrec.kafka.topics import Topics
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import Command, connect, execute_atomic, with_retry

log = logging.getLogger(__name__)

SERVED = Gauge(
    "streamrec_served_metric", "Rolling metrics of served lists", ["strategy", "metric", "window"]
)
UNMATCHED = Gauge("streamrec_unmatched_clicks", "Clicks that answered no known impression")


class MetricsSidecar(ConsumerRebalanceListener):
    def __init__(
        self,
        settings: Settings,
        window: int = 1000,
        period_s: float = 3600.0,
        pending_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self.redis = connect(settings)
        self.keys = RedisKeys(settings.redis_prefix)
        self.joiner = ClickJoiner()
        self.scores = RollingScores(window, period_s)
        self.arms = ArmScores()
        self.dedup = DedupWindow(settings.dedup_window)
        self.pending = PendingClicks(pending_s)  # clicks expire by event time
        self.offsets: dict[str, int] = {}
        self.unmatched = 0
        self.invalid = 0
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None

    def stop(self) -> None:
        self._stop.set()

    def restore(self) -> None:
        raw = with_retry(
            lambda: self.redis.get(self.keys.checkpoint(self.settings.metrics_group)),
            "load sidecar checkpoint",
        )
        if raw is None:
            return
        state = json.loads(raw)  # type: ignore[arg-type]
        self.offsets = {k: int(v) for k, v in state["offsets"].items()}
        self.joiner.load(state["impressions"])
        self.scores.load(state["scores"])
        self.arms.load(state.get("arms", {}))  # absent in checkpoints from before A/B tests
        self.dedup = DedupWindow(self.settings.dedup_window, state["dedup"])
        self.pending.load(state["pending"])
        self.unmatched = int(state["unmatched"])

    def run(self, until_caught_up: bool = False, idle_timeout_s: float | None = None) -> None:
        self.restore()
        consumer = make_consumer(self.settings, self.settings.metrics_group)
        self._consumer = consumer
        consumer.subscribe([self.topics.impressions, self.topics.clicks], listener=self)
        last_data = time.monotonic()
        try:
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=500, max_records=1000)
                records = [r for batch in polled.values() for r in batch]
                if records:
                    self.process(records)
                    last_data = time.monotonic()
                    self.checkpoint(consumer)
                    continue
                if until_caught_up:  # nothing more will come to answer them
                    self._expire_pending(force=True)
                if until_caught_up and caught_up(consumer, self.offsets, count_fetched=True):
                    break
                if idle_timeout_s is not None and time.monotonic() - last_data > idle_timeout_s:
                    break
        finally:
            self.checkpoint(consumer)
            consumer.close(autocommit=False)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        for tp in assigned:
            offset = self.offsets.get(partition_key(tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._save()  # no commit here: the listener runs on kafka-python's IO thread

    def process(self, records: list) -> None:
        impressions: list[ImpressionEvent] = []
        clicks: list[ClickEvent] = []
        for record in records:
            expected = ImpressionEvent if record.topic == self.topics.impressions else ClickEvent
            try:
                event = parse_event(record.value or b"", expected)
            except InvalidEvent as error:
                self.invalid += 1
                log.warning("invalid event skipped", extra={"reason": error.reason})
                continue
            self.pending.advance(event.ts)
            if isinstance(event, ImpressionEvent):
                impressions.append(event)
            elif isinstance(event, ClickEvent) and self.dedup.add(event.event_id):
                clicks.append(event)
            key = partition_key(record.topic, record.partition)
            self.offsets[key] = max(self.offsets.get(key, 0), record.offset + 1)
        for impression in sorted(impressions, key=lambda i: i.ts):
            self.joiner.add(impression)
            self.scores.observe_impression(impression)
            self.arms.observe_impression(impression)
        self.unmatched += self.pending.add(clicks)
        self.pending.match(self.joiner, self._scored)
        self._expire_pending()  # on every poll with records, not only on empty ones
        self._publish()

    def _scored(self, impression: ImpressionEvent, click: ClickEvent) -> None:
        self.scores.observe_click(impression, click)
        self.arms.observe_click(impression, click)

    def _expire_pending(self, force: bool = False) -> None:
        """Clicks that found no impression in time are organic, not answers to a list."""
        self.unmatched += self.pending.expire(force)
        UNMATCHED.set(self.unmatched)

    def _publish(self) -> None:
        snapshot = self.scores.snapshot()
        commands: list[Command] = []
        for strategy, values in snapshot.items():
            mapping = {k: repr(v) for k, v in values.items()}
            commands.append(("hset", self.keys.metrics(strategy), (), {"mapping": mapping}))
            for name, value in values.items():
                metric, _, window = name.partition(":")
                SERVED.labels(strategy, metric, window).set(value)
        if self.arms.totals:
            report = json.dumps(self.experiment_report())
            commands.append(("set", self.keys.experiments(), (report,), {}))
        if commands:  # one MULTI/EXEC (per hash slot on a Redis Cluster)
            with_retry(lambda: execute_atomic(self.redis, commands), "write metrics")

    def experiment_report(self) -> dict:
        order = {e.name: [a.name for a in e.arms] for e in self.settings.experiments}
        return self.arms.report(
            self.settings.experiment_alpha, self.settings.experiment_min_impressions, order
        )

    def checkpoint(self, consumer: KafkaConsumer) -> None:
        self._save()
        commit_offsets(consumer, self.offsets)

    def _save(self) -> None:
        state = {
            "offsets": self.offsets,
            "impressions": self.joiner.state(),
            "scores": self.scores.state(),
            "arms": self.arms.state(),
            "dedup": self.dedup.entries(),
            "pending": self.pending.state(),
            "unmatched": self.unmatched,
        }
        blob = json.dumps(state)
        with_retry(
            lambda: self.redis.set(self.keys.checkpoint(self.settings.metrics_group), blob),
            "save sidecar checkpoint",
        )
