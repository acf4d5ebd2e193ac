"""The serve-then-observe replay through the real pipeline: Kafka, a worker, Redis.

:class:`PipelineServer` plays the part of a served model in
:func:`streamrec.evaluation.replay.replay` (one loop for both modes): it serves
from Redis through :class:`RecsClient` and "observes" by producing the
interaction's events to fresh topics, where a worker of a fresh consumer group
processes them into a fresh Redis namespace. Every served list is also
published as an :class:`ImpressionEvent` (for the metrics sidecar).

Deterministic mode waits until each event is processed before the next is
sent, so the result equals :class:`ServedModel`'s. With ``batch_reviews`` the
worker runs with that micro-batch: the interactions of one batch are all
served first, then sent together and processed as one batch, as
:class:`ServedModel` with the same ``batch_reviews`` and ``partitions``
simulates. Each batch is sent in one Kafka transaction: the worker reads
committed records only, so it sees a batch whole or not at all, however slowly
its records land (a short cut after ``batch_wait_ms`` could otherwise split it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from kafka import KafkaProducer

from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ClickEvent, ImpressionEvent, ReviewEvent
from streamrec.core.ordering import batch_is_full
from streamrec.core.settings import Settings
from streamrec.embedding.base import Embedder
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.replay import replay
from streamrec.evaluation.result import SERVED, ReplayResult
from streamrec.kafka.clients import make_producer
from streamrec.kafka.producer import topic_for
from streamrec.kafka.topics import Topics, ensure_topics
from streamrec.serving.client import RecsClient
from streamrec.serving.fallback import Answer
from streamrec.serving.store import connect


def isolated_settings(
    settings: Settings, run: str, batch_reviews: int | None, partitions: int
) -> Settings:
    """Fresh topics, group and Redis prefix for one replay run."""
    return Settings(
        **{  # type: ignore[call-arg]
            **settings.model_dump(),
            "_env_file": None,
            "topic_reviews": f"replay-{run}.reviews",
            "topic_clicks": f"replay-{run}.clicks",
            "topic_impressions": f"replay-{run}.impressions",
            "topic_dead_letter": f"replay-{run}.dead-letter",
            "topic_cluster_events": f"replay-{run}.cluster-events",
            "topic_deletions": f"replay-{run}.deletions",
            "topic_partitions": partitions,
            "redis_prefix": f"replay-{run}",
            "worker_group": f"replay-{run}",
            "checkpoint_interval_s": 30.0,
            "worker_instance_id": None,
            # one event at a time, or whole batches: a short batch only at the very end
            "batch_wait_ms": 0 if batch_reviews is None else 1000,
            "batch_strict_order": True,  # full batches too wait for what has landed
            "batch_size": batch_reviews or settings.batch_size,
        }
    )


class PipelineServer:
    """Serves from Redis and delivers to Kafka; a worker thread sits in between."""

    name = SERVED

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        deterministic: bool = True,
        timeout_s: float = 60.0,
        batch_reviews: int | None = None,
        partitions: int = 1,
    ) -> None:
        self.run = uuid.uuid4().hex[:8]
        self.settings = isolated_settings(settings, self.run, batch_reviews, partitions)
        self.topics = Topics.from_settings(self.settings)
        ensure_topics(self.settings, keep_history=True)
        self.worker = EmbedWorker(self.settings, embedder=embedder)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()
        self.client = RecsClient.from_settings(self.settings)
        self.redis = connect(self.settings)
        self.producer = make_producer(self.settings, linger_ms=0)
        self.batch_producer = None if batch_reviews is None else self._transactional_producer()
        self.deterministic, self.timeout_s = deterministic, timeout_s
        self._wait_assigned(len(self.topics.inputs()) * self.settings.topic_partitions)
        self.batch_reviews = batch_reviews
        self.delivered = 0  # events sent
        self._pending: list[ReviewEvent | ClickEvent] = []
        self._pending_reviews = 0
        self._served: tuple[str, Answer] | None = None

    def serve(self, user_id: str) -> Answer:
        answer = self.client.recommend(user_id)
        self._served = (user_id, answer)
        return answer

    def observe(self, interaction: Interaction, vector: object = None) -> None:
        self._publish_impression(interaction)
        if self.batch_reviews is None:
            for event in interaction.events():
                self._send([event], wait=self.deterministic)
            return
        events = interaction.events()
        self._pending += events
        self._pending_reviews += sum(isinstance(e, ReviewEvent) for e in events)
        if batch_is_full(self._pending_reviews, len(self._pending), self.batch_reviews):
            self.flush()

    def flush(self) -> None:
        """Send what is pending and wait until the worker has applied everything sent."""
        pending, self._pending, self._pending_reviews = self._pending, [], 0
        self._send(pending, wait=True)

    def close(self) -> None:
        self.worker.stop()
        self.thread.join(30)
        self.producer.close()
        if self.batch_producer is not None:
            self.batch_producer.close()

    def _transactional_producer(self) -> KafkaProducer:
        producer = make_producer(self.settings, linger_ms=0, transactional_id=f"replay-{self.run}")
        producer.init_transactions()
        return producer

    def _publish_impression(self, interaction: Interaction) -> None:
        """The list just served to this interaction's user, as the sidecar scores it."""
        if self._served is None or self._served[0] != interaction.user_id:
            return
        items = self._served[1].item_ids()[:10]
        self._served = None
        self.producer.send(
            self.topics.impressions,
            key=interaction.user_id.encode(),
            value=ImpressionEvent(
                impression_id=f"{self.run}:{interaction.key}",
                user_id=interaction.user_id,
                items=items or ["-"],
                strategy=SERVED,
                ts=interaction.ts,
            ).to_json(),
        )

    def _send(self, events: list[ReviewEvent | ClickEvent], wait: bool) -> None:
        """Produce ``events`` (a batch: as one transaction), then, with ``wait``, block
        until the worker applied them."""
        producer = self.batch_producer or self.producer
        if self.batch_producer is not None:
            producer.begin_transaction()
        for event in events:
            producer.send(
                topic_for(event, self.topics),
                key=event.user_id.encode(),
                value=event.to_json(),
                timestamp_ms=int(event.ts * 1000),
            )
        self.delivered += len(events)
        if self.batch_producer is not None:
            producer.commit_transaction()  # flushes, then makes the batch visible
        elif wait:
            producer.flush()
        if wait:
            self._wait_processed(self.delivered)

    def _wait_assigned(self, partitions: int) -> None:
        """Block until the worker owns every partition of its input topics: a worker that
        starts before the broker knows all of them is first assigned only some (a busy
        broker shows it), and would cut its first batches without the others."""

        def assigned() -> bool:
            consumer = self.worker.rebalance.consumer
            return consumer is not None and len(consumer.assignment()) >= partitions

        self._wait_until(assigned, "was not assigned its inputs", pause_s=0.01)

    def _wait_processed(self, count: int) -> None:
        """Block until the worker's model summary says it applied ``count`` events."""
        key = self.client.keys.model()

        def processed() -> bool:
            raw = self.redis.get(key)
            return raw is not None and int(json.loads(raw)["events"]) >= count

        self._wait_until(processed, f"did not process event {count}", pause_s=0.002)

    def _wait_until(self, done: Callable[[], bool], failure: str, pause_s: float) -> None:
        """Poll ``done`` until it holds; fail when the worker stops or after the timeout."""
        deadline = time.monotonic() + self.timeout_s
        while not done():
            if not self.thread.is_alive():
                raise RuntimeError("the replay worker stopped")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker {failure} in {self.timeout_s} s")
            time.sleep(pause_s)


def replay_pipeline(
    settings: Settings,
    interactions: Sequence[Interaction],
    embedder: Embedder | None = None,
    k: int = 10,
    tuning_share: float = 0.2,
    deterministic: bool = True,
    progress: bool = False,
    timeout_s: float = 60.0,
    batch_reviews: int | None = None,
    partitions: int = 1,
) -> ReplayResult:
    """Replay ``interactions`` through the real pipeline (see the module docstring)."""
    server = PipelineServer(settings, embedder, deterministic, timeout_s, batch_reviews, partitions)
    try:
        return replay(
            interactions,
            [None] * len(interactions),
            [],
            [server],
            k=k,
            tuning_share=tuning_share,
            progress=progress,
        )
    finally:
        server.close()
