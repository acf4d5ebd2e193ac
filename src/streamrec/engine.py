"""The pure core of the worker: events and their embeddings in, fresh lists out.

:class:`Engine` owns profiles, clusters and item statistics and does no I/O,
so it runs the same under the Kafka worker, the in-process replay and the
tests. One call of :meth:`Engine.apply` takes a micro-batch in arrival order
with the embeddings of its reviews, and returns what must be written.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np

from streamrec.clustering import Clusterer, LifecycleEvent, OnlineKMeans
from streamrec.clustering.base import top2
from streamrec.clustering.labels import ClusterLabeler
from streamrec.events import ClickEvent, ReviewEvent
from streamrec.items import ItemStats, engagement_weight
from streamrec.profiles import UserProfiles
from streamrec.ranker import ItemSignals, OnlineRanker, features
from streamrec.redis_schema import Assignment, ClusterSummary, RecList, ScoredItem
from streamrec.strategies import Strategy, make_strategies, top_items

if TYPE_CHECKING:
    from streamrec.settings import Settings


@dataclass
class EngineConfig:
    n_clusters: int = 20
    cluster_half_life: float = 2000.0
    cluster_min_weight: float = 0.5
    profile_half_life: float = 5.0
    item_half_life: float = 50.0
    trending_half_life: float = 1000.0
    engagement_half_life: float = 5000.0
    cluster_refresh_events: int = 200
    cluster_move_threshold: float = 0.995
    recs_length: int = 50
    diversity: float = 0.0
    ranker_learning_rate: float = 0.05
    ranker_negatives: int = 10
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """Fields take the setting of the same name, or of the name in ``_SETTING_NAMES``;
        fields without a setting keep their default."""
        values = {}
        for name in (f.name for f in fields(cls)):
            setting = _SETTING_NAMES.get(name, name)
            if setting in type(settings).model_fields:
                values[name] = getattr(settings, setting)
        return cls(**values)


_SETTING_NAMES = {  # EngineConfig field -> Settings field, where the names differ
    "cluster_half_life": "cluster_half_life_events",
    "profile_half_life": "profile_half_life_reviews",
    "trending_half_life": "trending_half_life_events",
    "engagement_half_life": "engagement_half_life_events",
}

@dataclass
class BatchOutput:
    """Everything a batch changed that the serving layer must publish."""

    user_recs: dict[str, RecList] = field(default_factory=dict)
    cluster_recs: dict[int, RecList] = field(default_factory=dict)
    trending: RecList | None = None
    assignments: dict[str, Assignment] = field(default_factory=dict)
    lifecycle: list[LifecycleEvent] = field(default_factory=list)
    retired_clusters: list[int] = field(default_factory=list)
    clusters: list[ClusterSummary] | None = None
    drift_alarms: int = 0
    reviews: int = 0
    clicks: int = 0


class Engine:
    """Profiles, clusters, item statistics and strategies, updated batch by batch."""

    def __init__(
        self,
        dim: int,
        config: EngineConfig | None = None,
        clusterer: Clusterer | None = None,
        strategies: dict[str, Strategy] | None = None,
    ) -> None:
        self.dim = dim
        self.config = config or EngineConfig()
        c = self.config
        self.clusterer = clusterer or OnlineKMeans(
            k=c.n_clusters, half_life=c.cluster_half_life, min_weight=c.cluster_min_weight,
            seed=c.seed,
        )
        self.profiles = UserProfiles(dim, c.profile_half_life)
        self.items = ItemStats(dim, c.item_half_life, c.trending_half_life,
                               c.engagement_half_life)
        self.strategies = strategies or make_strategies()
        self.labeler = ClusterLabeler()
        self.drift = DriftMonitor()
        self.signals = ItemSignals()
        self.ranker = OnlineRanker(c.ranker_learning_rate, c.ranker_negatives, seed=c.seed)
        self.clock = 0  # events applied so far
        self.as_of = 0.0  # newest event time applied
        self._last_refresh = -(10**18)
        self._refreshed_centroids: dict[int, np.ndarray] = {}
        self._item_matrix: np.ndarray | None = None

    # -- read helpers used by strategies --------------------------------------------

    def item_matrix(self) -> np.ndarray:
        """Unit text vectors of all items (cached until the next batch)."""
        if self._item_matrix is None or self._item_matrix.shape[0] != self.items.n_items:
            self._item_matrix = self.items.vectors.matrix()
        return self._item_matrix

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        snapshot = self.clusterer.snapshot()
        where = np.flatnonzero(snapshot.ids == cluster_id)
        return snapshot.centroids[where[0]] if where.size else None

    def user_cluster(self, user_id: str) -> int | None:
        row = self.profiles.index.get(user_id)
        if row is None or self.profiles.cluster[row] < 0:
            return None
        return int(self.profiles.cluster[row])

    # -- learning ------------------------------------------------------------------

    def apply(
        self, events: Sequence[ReviewEvent | ClickEvent], vectors: np.ndarray,
        partitions: Sequence[int] | None = None, outputs: bool = True,
    ) -> BatchOutput:
        """Learn from a batch (arrival order) and return the lists it changed.

        ``vectors`` holds one unit embedding per review, in the order the
        reviews appear in ``events``; ``partitions`` the Kafka partition each
        event came from (its user's profile is checkpointed with it). Without
        ``outputs`` no lists are built (in-process evaluation scores directly).
        """
        reviews = [e for e in events if isinstance(e, ReviewEvent)]
        if len(reviews) != len(vectors):
            raise ValueError(f"{len(reviews)} reviews but {len(vectors)} embeddings")
        out = BatchOutput(reviews=len(reviews), clicks=len(events) - len(reviews))
        self._item_matrix = None
        if reviews:
            self._learn_clusters(reviews, np.asarray(vectors, dtype=np.float32), out)
        snapshot = self.clusterer.snapshot()
        touched: dict[str, int] = {}
        vector_iter = iter(vectors)
        for n, event in enumerate(events):
            self.clock += 1
            self.as_of = max(self.as_of, event.ts)
            user_row = self.profiles.row(event.user_id)
            if partitions is not None:
                self.profiles.partition[user_row] = partitions[n]
            known = event.item_id in self.items.vectors.index
            item_row = self.items.row(event.item_id)
            history = self.profiles.seen_items(event.user_id)
            if item_row not in history:  # the user's first engagement with this item
                if known:  # learn from what could have been served, before anything moves
                    self.ranker.learn(features(self, event.user_id), item_row, history)
                self.signals.observe(item_row, history)
            if isinstance(event, ReviewEvent):
                vector = next(vector_iter)
                self.profiles.update(event.user_id, vector, ts=event.ts)
                self.items.add_text(item_row, vector)
                ids, sims = top2(snapshot, self.profiles.vectors(np.array([user_row])))
                self.profiles.assign(np.array([user_row]), ids, sims)
                weight = engagement_weight(event.rating)
            else:
                weight = 1.0
            cluster_id = int(self.profiles.cluster[user_row])
            self.items.engage(item_row, weight, cluster_id, self.clock)
            self.profiles.mark_seen(user_row, item_row)
            touched[event.user_id] = user_row
        self._item_matrix = None
        self._reassign(touched, snapshot, out)
        if outputs:
            self._refresh_clusters(snapshot, out)
            for user_id in touched:
                out.user_recs[user_id] = self.recommend("user", user_id)
        return out

    def _learn_clusters(self, reviews: list[ReviewEvent], vectors: np.ndarray,
                        out: BatchOutput) -> None:
        assigned = self.clusterer.learn(vectors, t=max(e.ts for e in reviews))
        out.lifecycle = self.clusterer.pop_events()
        for event in out.lifecycle:
            self.items.apply_lifecycle(event)
            self.labeler.apply_lifecycle(event.kind, event.cluster_id, event.related)
            if event.kind in ("died", "merged"):
                out.retired_clusters.append(event.cluster_id)
        snapshot = self.clusterer.snapshot()
        rows = {int(cid): n for n, cid in enumerate(snapshot.ids)}
        for review, vector, cluster_id in zip(reviews, vectors, assigned.tolist(), strict=True):
            row = rows.get(cluster_id)
            centroid = snapshot.centroids[row] if row is not None else None
            self.labeler.add(cluster_id, review.text, vector, review.event_id, review.item_id,
                             centroid, review.user_id)
            if centroid is not None:
                out.drift_alarms += self.drift.update(1.0 - float(vector @ centroid))

    def _reassign(self, touched: dict[str, int], snapshot, out: BatchOutput) -> None:
        rows = np.fromiter(touched.values(), dtype=np.int64, count=len(touched))
        has_vector = self.profiles.counts[rows] > 0
        rows = rows[has_vector]
        if rows.size == 0 or len(snapshot) == 0:
            return
        ids, sims = top2(snapshot, self.profiles.vectors(rows))
        self.profiles.assign(rows, ids, sims)
        for row, pair, sim in zip(rows, ids, sims, strict=True):
            user_id = self.profiles.ids[row]
            assert user_id is not None
            out.assignments[user_id] = Assignment(
                cluster_id=int(pair[0]), similarity=float(sim[0]),
                second_cluster_id=int(pair[1]) if pair[1] >= 0 else None,
                second_similarity=float(sim[1]) if pair[1] >= 0 else None,
                as_of=self.as_of,
            )

    def _refresh_clusters(self, snapshot, out: BatchOutput) -> None:
        """Rebuild cluster lists on a schedule, or for clusters that are new or moved."""
        due = self.clock - self._last_refresh >= self.config.cluster_refresh_events
        for cluster_id, centroid in zip(snapshot.ids.tolist(), snapshot.centroids, strict=True):
            before = self._refreshed_centroids.get(cluster_id)
            moved = before is None or float(before @ centroid) < self.config.cluster_move_threshold
            if due or moved:
                out.cluster_recs[cluster_id] = self.recommend("cluster", None, cluster_id)
                self._refreshed_centroids[cluster_id] = centroid.copy()
        for cluster_id in out.retired_clusters:
            self._refreshed_centroids.pop(cluster_id, None)
        if due or out.trending is None:
            out.trending = self.recommend("trending", None)
        if due or out.lifecycle:
            out.clusters = self.cluster_summaries()
        if due:
            self._last_refresh = self.clock

    def cluster_summaries(self, top_words: int = 6) -> list[ClusterSummary]:
        """Labels, sizes and weights of the live clusters (no raw text)."""
        snapshot = self.clusterer.snapshot()
        labels = self.labeler.labels(top_words)
        n = self.profiles.n_rows
        ids, counts = np.unique(self.profiles.cluster[:n], return_counts=True)
        sizes_by_id = dict(zip(ids.tolist(), counts.tolist(), strict=True))
        summaries = []
        for row, cluster_id in enumerate(snapshot.ids.tolist()):
            reps = self.labeler.representatives(cluster_id, snapshot.centroids[row])
            summaries.append(ClusterSummary(
                cluster_id=cluster_id, weight=round(float(snapshot.weights[row]), 3),
                users=int(sizes_by_id.get(cluster_id, 0)), labels=labels.get(cluster_id, []),
                representative_items=[r.item_id for r in reps],
                representative_reviews=[r.event_id for r in reps],
            ))
        return summaries

    # -- serving -------------------------------------------------------------------

    def recommend(
        self, strategy: str, user_id: str | None, cluster_id: int | None = None,
        k: int | None = None,
    ) -> RecList:
        """Top-k of a strategy; a user's own items are never recommended back."""
        k = k or self.config.recs_length
        scores = self.strategies[strategy].scores(self, user_id, cluster_id)
        exclude = self.profiles.seen_items(user_id) if user_id is not None else None
        rows, values = top_items(scores, k, exclude, self.item_matrix(), self.config.diversity)
        if user_id is not None:
            level = "user"
        elif cluster_id is not None:
            level = "cluster"
        else:
            level = "trending"
        ids = self.items.ids
        return RecList(
            strategy=strategy, level=level, user_id=user_id,
            cluster_id=cluster_id if cluster_id is not None else self._cluster_of(user_id),
            # built without validation: ids and finite scores come from the engine itself
            items=[ScoredItem.model_construct(item_id=ids[r], score=round(float(v), 6))
                   for r, v in zip(rows, values, strict=True) if ids[r] is not None],
            as_of=self.as_of, produced_at=time.time(),
        )

    def _cluster_of(self, user_id: str | None) -> int | None:
        return None if user_id is None else self.user_cluster(user_id)

    # -- state ---------------------------------------------------------------------

    def shared_state(self) -> dict:
        """What all workers share: clusters, items, labels, clock (no user profiles)."""
        return {
            "dim": self.dim,
            "clock": self.clock,
            "as_of": self.as_of,
            "last_refresh": self._last_refresh,
            "refreshed_ids": np.array(list(self._refreshed_centroids), dtype=np.int64),
            "refreshed_centroids": np.array(list(self._refreshed_centroids.values()),
                                            dtype=np.float32).reshape(-1, self.dim),
            "clusterer": self.clusterer.state(),
            "labeler": self.labeler.state(),
            "drift": self.drift.state(),
            "items": self.items.state(),
            "signals": self.signals.state(),
            "ranker": self.ranker.state(),
        }

    def load_shared(self, state: dict) -> None:
        """Adopt a shared state, keeping the users' histories pointing at the right items."""
        if int(state["dim"]) != self.dim:
            raise ValueError(f"checkpoint has dimension {state['dim']}, model has {self.dim}")
        old_items = list(self.items.ids)
        self.clock = int(state["clock"])
        self.as_of = float(state["as_of"])
        self._last_refresh = int(state["last_refresh"])
        self.clusterer.load(state["clusterer"])
        self.labeler.load(state["labeler"])
        self.drift.load(state["drift"])
        self.items.load(state["items"])
        self.signals.load(state["signals"])
        self.ranker.load(state["ranker"])
        if old_items and old_items != list(self.items.ids)[: len(old_items)]:
            mapping = np.array([self.items.row(i) if i is not None else 0 for i in old_items],
                               dtype=np.int32)
            self.profiles.remap_items(mapping)
        self._item_matrix = None
        self._refreshed_centroids = dict(
            zip(np.asarray(state["refreshed_ids"]).tolist(),
                np.asarray(state["refreshed_centroids"]), strict=True)
        )

    def export_users(self, partition: int | None = None) -> dict:
        """Profiles (of one partition, or all) with histories as item ids."""
        rows = None if partition is None else self.profiles.rows_of_partition(partition)
        return self.profiles.export(rows, self.items.ids)

    def absorb_users(self, state: dict) -> None:
        self.profiles.absorb(state, self.items.row)

    def drop_partition(self, partition: int) -> int:
        """Forget the users of a partition this worker no longer owns."""
        rows = self.profiles.rows_of_partition(partition)
        for row in rows.tolist():
            self.profiles.remove(self.profiles.ids[row])  # type: ignore[arg-type]
        return len(rows)

    def state(self) -> dict:
        return {"shared": self.shared_state(), "profiles": self.export_users()}

    def load(self, state: dict) -> None:
        self.profiles = UserProfiles(self.dim, self.config.profile_half_life)
        self.load_shared(state["shared"])
        self.absorb_users(state["profiles"])

    def forget_user(self, user_id: str) -> bool:
        """Remove a user's profile, assignment, history and representative reviews.

        Their past engagement stays folded into anonymous item and cluster
        counts (no user id), which forget it with their half-lives.
        """
        self.labeler.forget_user(user_id)
        return self.profiles.remove(user_id)


class DriftMonitor:
    """River's ADWIN on the distance of each review to its centroid.

    A rise in that distance means people write about things the clusters do
    not cover (yet). The last distances travel in the checkpoint and rebuild
    the detector on restore.
    """

    def __init__(self, delta: float = 0.002, keep: int = 4000) -> None:
        from river import drift

        self.delta = delta
        self.detector = drift.ADWIN(delta=delta)
        self.recent: deque[float] = deque(maxlen=keep)
        self.alarms = 0
        self.last_alarm_at = -1
        self.seen = 0

    def update(self, distance: float) -> int:
        """Feed one distance; 1 when this value raised an alarm."""
        self.detector.update(distance)
        self.recent.append(distance)
        self.seen += 1
        if self.detector.drift_detected:
            self.alarms += 1
            self.last_alarm_at = self.seen
            return 1
        return 0

    @property
    def mean_distance(self) -> float:
        return float(self.detector.estimation)

    def state(self) -> dict:
        return {"recent": np.array(self.recent, dtype=np.float64), "alarms": self.alarms,
                "last_alarm_at": self.last_alarm_at, "seen": self.seen}

    def load(self, state: dict) -> None:
        from river import drift

        self.detector = drift.ADWIN(delta=self.delta)
        self.recent.clear()
        for value in np.asarray(state["recent"]).tolist():
            self.detector.update(value)
            self.recent.append(value)
        self.alarms = int(state["alarms"])
        self.last_alarm_at = int(state["last_alarm_at"])
        self.seen = int(state["seen"])
