"""What the pipeline serves, replayed in-process: the engine's materialised lists."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.ordering import batch_is_full
from streamrec.core.partitioning import partition_for
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.replay import EngineModel
from streamrec.evaluation.result import SERVED
from streamrec.model.engine import Engine
from streamrec.serving.fallback import Answer, fallback
from streamrec.serving.schema import Assignment, RecList


class ServedModel:
    """What the pipeline serves: the engine's materialised lists, as Redis would hold them.

    Lists are read back through the same fallback chain (user -> cluster ->
    group -> trending) as :class:`streamrec.serving.client.RecsClient`. Two conditions:

    - ``batch_reviews=None``: events are applied one by one, as the
      deterministic pipeline replay delivers them (the best case).
    - ``batch_reviews=B, partitions=P``: production conditions. Events are
      keyed by user onto P partitions of the review and click topics (Kafka's
      murmur2 partitioner); the worker takes them in micro-batches of B
      reviews (or 4 B events), each batch in its merge order (event time,
      then topic, partition, offset), and lists change only when a batch has
      been applied, so a user is served what the last whole batch wrote.
    """

    def __init__(
        self,
        engine: Engine,
        name: str = SERVED,
        batch_reviews: int | None = None,
        partitions: int = 1,
        review_topic: str = "streamrec.reviews",
        click_topic: str = "streamrec.clicks",
    ) -> None:
        self.engine = engine
        self.name = name
        self.batch_reviews = batch_reviews
        self.partitions = partitions
        self.topics = {ReviewEvent: review_topic, ClickEvent: click_topic}
        self.user_recs: dict[str, RecList] = {}
        self.cluster_recs: dict[int, RecList] = {}
        self.group_recs: dict[int, RecList] = {}
        self.assignments: dict[str, Assignment] = {}
        self._trending: RecList | None = None  # the engine's trending list at _trending_clock
        self._trending_clock = -1
        self.recent_items: dict[str, list[str]] = {}  # as the worker writes them beside lists
        self.delivered = 0  # events handed to the engine
        self._pending: list[tuple[tuple, ReviewEvent | ClickEvent, np.ndarray | None, int]] = []
        self._pending_reviews = 0  # reviews among the pending events
        self._offsets: dict[tuple[str, int], int] = defaultdict(int)

    def serve(self, user_id: str) -> Answer:
        return fallback(
            user_id,
            None,
            self.user_recs.get(user_id),
            self.assignments.get(user_id),
            self.cluster_recs.get,
            lambda: self.trending,  # built only when a serve falls back to it
            self._group_list,
            seen=frozenset(self.recent_items.get(user_id, ())),
        )

    @property
    def trending(self) -> RecList | None:
        """The trending list the last applied batch wrote (None before the first).

        Built when first read rather than at every batch: nothing is applied between
        a batch and the serves that follow it, so the engine builds the same list now,
        and most serves never fall back to it."""
        if self.delivered == 0:
            return None
        if self._trending_clock != self.engine.clock:
            self._trending = self.engine.recommend("trending", None)
            self._trending_clock = self.engine.clock
        return self._trending

    def _group_list(self, cluster_id: int) -> RecList | None:
        return self.group_recs.get(self.engine.hierarchy.groups.get(cluster_id, -1))

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        events = interaction.events()  # all of one user
        for n, event in enumerate(events):
            review_vector = vector if isinstance(event, ReviewEvent) else None
            if self.batch_reviews is None:
                # nobody is served between two events of one interaction: only the last
                # one's user list (and trending list) can be read
                self._apply([event], [review_vector], None, superseded=n < len(events) - 1)
            else:
                self._enqueue(event, review_vector)

    def flush(self) -> None:
        """Apply what is still buffered (the end of a replay)."""
        while self._pending:
            self._apply_batch()

    def _enqueue(self, event: ReviewEvent | ClickEvent, vector: np.ndarray | None) -> None:
        topic = self.topics[type(event)]
        partition = partition_for(event.user_id, self.partitions)
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] += 1
        self._pending.append(((event.ts, topic, partition, offset), event, vector, partition))
        self._pending_reviews += isinstance(event, ReviewEvent)
        if batch_is_full(self._pending_reviews, len(self._pending), self.batch_reviews):  # type: ignore[arg-type]
            self._apply_batch()

    def _apply_batch(self) -> None:
        """Cut the next micro-batch in the worker's merge order and apply it."""
        assert self.batch_reviews is not None
        self._pending.sort(key=lambda p: p[0])
        batch, reviews = [], 0
        for pending in self._pending:
            batch.append(pending)
            reviews += isinstance(pending[1], ReviewEvent)
            if batch_is_full(reviews, len(batch), self.batch_reviews):
                break
        del self._pending[: len(batch)]
        self._pending_reviews -= reviews
        self._apply([p[1] for p in batch], [p[2] for p in batch], [p[3] for p in batch])

    def _apply(
        self,
        events: list[ReviewEvent | ClickEvent],
        vectors: list[np.ndarray | None],
        partitions: list[int] | None,
        superseded: bool = False,
    ) -> None:
        """Apply a batch and keep the lists it wrote (a review without a vector fails
        in the engine, as in :class:`EngineModel`); the trending list is built when read
        (:attr:`trending`)."""
        rows = [
            v
            for e, v in zip(events, vectors, strict=True)
            if isinstance(e, ReviewEvent) and v is not None
        ]
        matrix = np.array(rows, dtype=np.float32).reshape(-1, self.engine.dim)
        out = self.engine.apply(events, matrix, partitions, superseded=superseded, trending=False)
        self.delivered += len(events)
        self.user_recs.update(out.user_recs)
        self.cluster_recs.update(out.cluster_recs)
        for cluster_id in out.retired_clusters:
            self.cluster_recs.pop(cluster_id, None)
        self.group_recs.update(out.group_recs)
        for group_id in out.retired_groups:
            self.group_recs.pop(group_id, None)
        self.assignments.update(out.assignments)
        self.recent_items.update(out.recent_items)


class ScoredAndServed(EngineModel):
    """An :class:`EngineModel` whose engine also writes the lists served from it.

    Building lists changes nothing an engine learns, and an interaction's click and
    review of one item leave it in the same state applied together
    (:class:`EngineModel`) or one by one (:class:`ServedModel`; the same weights,
    profiles, clusters and item signals after MovieLens' first 40,000 ratings), so the
    best-case served lists (``batch_reviews=None``) can come from the engine the
    strategies are scored from: the replay pays for one engine's learning, not two,
    and every strategy and the served list rank as with two engines
    (``tests/streamrec/evaluation/test_served.py``). The model is passed
    to the replay both as a model (its strategies) and as a served model (its list);
    the replay feeds it once. Its engine should not explain lists
    (``explain_top=0``): served lists are scored by their items alone.
    """

    def __init__(
        self,
        engine: Engine,
        names: list[str] | None = None,
        name: str = SERVED,
        prefix: str = "streamrec-",
    ) -> None:
        super().__init__(engine, names, prefix)
        self.name = name
        self.lists = ServedModel(engine, name)

    def serve(self, user_id: str) -> Answer:
        return self.lists.serve(user_id)

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self.lists.observe(interaction, vector)
        self.delivered = self.lists.delivered

    def flush(self) -> None:
        self.lists.flush()
