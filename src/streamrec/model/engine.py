"""The pure core of the worker: events and their embeddings in, fresh lists out.

:class:`Engine` owns profiles, clusters and item statistics and does no I/O,
so it runs the same under the Kafka worker, the in-process replay and the
tests. One call of :meth:`Engine.apply` takes a micro-batch in arrival order
with the embeddings of its reviews, and returns what must be written
(:class:`streamrec.model.output.BatchOutput`). Strategies read the engine
through :class:`streamrec.model.view.ModelView`.

>>> from streamrec.core.events import ReviewEvent
>>> engine = Engine(dim=2, config=EngineConfig(n_clusters=1))
>>> reviews = [ReviewEvent(event_id="r1", user_id="u1", item_id="strings", text="bright", ts=1),
...            ReviewEvent(event_id="r2", user_id="u2", item_id="pedal", text="fuzz", ts=2)]
>>> out = engine.apply(reviews, np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32))
>>> sorted(out.user_recs), out.user_recs["u1"].item_ids()  # never an item back to its user
(['u1', 'u2'], ['pedal'])
>>> out.trending.item_ids(), out.assignments["u1"].cluster_id
(['pedal', 'strings'], 0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.clustering import Clusterer
from streamrec.clustering.base import top2
from streamrec.clustering.factory import make_clusterer
from streamrec.clustering.hierarchy import Hierarchy
from streamrec.clustering.labels import ClusterLabeler
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.candidates import CandidateGenerator, with_fallback
from streamrec.model.config import EngineConfig
from streamrec.model.drift import DriftMonitor
from streamrec.model.engine_state import EngineState
from streamrec.model.explain import explainable
from streamrec.model.features import features
from streamrec.model.items import ItemStats, engagement_weight
from streamrec.model.output import BatchOutput, assignment, rec_list
from streamrec.model.profiles import UserProfiles
from streamrec.model.ranker import OnlineRanker
from streamrec.model.refresh import ListShare, Refreshing
from streamrec.model.scoring import top_items
from streamrec.model.signals import ItemSignals
from streamrec.model.strategies import ClusterPopular, Strategy, make_strategies
from streamrec.model.two_stage import serve_candidates
from streamrec.serving.schema import RecList


class Engine(Refreshing, EngineState):
    """Profiles, clusters, item statistics and strategies, updated batch by batch.

    It is the :class:`streamrec.model.view.ModelView` its strategies score through;
    what it checkpoints and restores is in :class:`streamrec.model.engine_state.EngineState`.
    """

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
        self.clusterer = clusterer or make_clusterer(c.clusterer_config())
        self.profiles = UserProfiles(dim, c.profile_half_life, max_seen=c.user_history)
        self.items = ItemStats(dim, c.item_half_life, c.trending_half_life, c.engagement_half_life)
        self.strategies = strategies or make_strategies(c.popularity_debias)
        self.labeler = ClusterLabeler()
        self.hierarchy = Hierarchy()
        self.id_ranges: dict[int, int] = {}  # id range -> next cluster id in it (workers set it)
        self.drift = DriftMonitor()
        self.signals = ItemSignals(c.neighbours_per_item)
        self.candidates = CandidateGenerator(
            dim, c.candidates, c.ann_exact_below, c.ann_query_threads
        )
        self.ranker = OnlineRanker(c.ranker_learning_rate, c.ranker_negatives, seed=c.seed)
        self.clock = 0  # events applied so far
        self.as_of = 0.0  # newest event time applied
        self._last_refresh = -(10**18)
        self._refreshed_centroids: dict[int, np.ndarray] = {}
        self.list_share: ListShare | None = None  # a worker of a group sets it: refresh.py
        self._item_matrix: np.ndarray | None = None

    # -- the read-only view strategies use (ModelView) -------------------------------

    def item_matrix(self) -> np.ndarray:
        """Unit text vectors of all items (kept up to date per review, never re-normalised)."""
        return self.items.unit_matrix()

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        snapshot = self.clusterer.snapshot()
        where = np.flatnonzero(snapshot.ids == cluster_id)
        return snapshot.centroids[where[0]] if where.size else None

    def centroid_scores(self, cluster_id: int) -> np.ndarray | None:
        centroid = self.centroid(cluster_id)
        return None if centroid is None else self.item_matrix() @ centroid

    def user_cluster(self, user_id: str) -> int | None:
        row = self.profiles.index.get(user_id)
        if row is None or self.profiles.cluster[row] < 0:
            return None
        return int(self.profiles.cluster[row])

    def user_clusters(self, user_id: str) -> tuple[int, int, np.ndarray]:
        row = self.profiles.index[user_id]
        return (
            int(self.profiles.cluster[row]),
            int(self.profiles.cluster2[row]),
            self.profiles.sim[row].copy(),
        )

    def user_vector(self, user_id: str) -> np.ndarray | None:
        return self.profiles.vector(user_id)

    def knows_user(self, user_id: str) -> bool:
        return user_id in self.profiles.index

    def trending_scores(self) -> np.ndarray:
        return self.items.trending_scores(self.clock)

    def popularity_scores(self) -> np.ndarray:
        return self.items.popularity[: self.items.n_items].copy()

    def cluster_engagement(self, cluster_id: int) -> np.ndarray:
        return self.items.cluster_engagement(cluster_id, self.clock)

    def unit_trending_at(self, rows: np.ndarray) -> np.ndarray:
        return self.items.unit_at(None, rows)

    def unit_cluster_engagement_at(self, cluster_id: int, rows: np.ndarray) -> np.ndarray:
        return self.items.unit_at(cluster_id, rows)

    def learned_scores(self, user_id: str) -> np.ndarray:
        """The ranker over the user's candidates, the fallback score elsewhere (full ranking)."""
        rows, matrix = self.candidate_features(user_id)
        scores = self.ranker.scores(matrix)
        return with_fallback(rows, scores, self.items.n_items, self.trending_scores())

    def candidate_features(self, user_id: str) -> tuple[np.ndarray, np.ndarray]:
        """A known user's candidate rows and their features (what the ranker scores)."""
        rows = self.candidates.rows(self, user_id)
        every = rows.size == self.items.n_items  # a small catalogue: all rows, in order
        return rows, features(self, user_id, None if every else rows)

    # -- learning ------------------------------------------------------------------

    def apply(
        self,
        events: Sequence[ReviewEvent | ClickEvent],
        vectors: np.ndarray,
        partitions: Sequence[int] | None = None,
        outputs: bool = True,
        superseded: bool = False,
        trending: bool = True,
    ) -> BatchOutput:
        """Learn from a batch (arrival order) and return the lists it changed.

        ``vectors`` holds one unit embedding per review, in the order the
        reviews appear in ``events``; ``partitions`` the Kafka partition each
        event came from (its user's profile is checkpointed with it). Without
        ``outputs`` no lists are built (in-process evaluation scores directly).
        ``superseded``: the caller applies another batch of the same users next
        and keeps only that one's user lists, recent items and trending list, so
        this call builds none of them (shared lists refresh as usual: they are
        rebuilt on a schedule, not on every call). The model ends the same.
        Without ``trending`` the trending list is not built either: the caller reads
        ``recommend("trending", None)`` while nothing else is applied (the same list).
        """
        reviews = [e for e in events if isinstance(e, ReviewEvent)]
        if len(reviews) != len(vectors):
            raise ValueError(f"{len(reviews)} reviews but {len(vectors)} embeddings")
        out = BatchOutput(reviews=len(reviews), clicks=len(events) - len(reviews))
        if reviews:
            self._learn_clusters(reviews, np.asarray(vectors, dtype=np.float32), out)
        snapshot = self.clusterer.snapshot()
        retired_groups = self._regroup(snapshot)
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
                    self.ranker.learn_rows(
                        lambda rows, user=event.user_id: features(self, user, rows),
                        self.items.n_items,
                        item_row,
                        history,
                    )
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
        self._reassign(touched, snapshot, out)
        self.candidates.sync(self)  # here, not at the next read: reads never change answers
        if outputs:
            served = [] if superseded else list(touched)
            with_trending = trending and not superseded
            self._refresh_clusters(snapshot, out, retired_groups, with_trending, served)
            for user_id in served:
                out.user_recs[user_id] = self.recommend("user", user_id)
                out.recent_items[user_id] = self.recent_items(user_id)
        return out

    def recent_items(self, user_id: str) -> list[str]:
        """The user's latest distinct items (at most ``recent_items``), oldest first."""
        rows = self.profiles.seen_items(user_id)[-self.config.recent_items :]
        ids = self.items.ids
        return [item for item in (ids[r] for r in rows.tolist()) if item is not None]

    def _learn_clusters(
        self, reviews: list[ReviewEvent], vectors: np.ndarray, out: BatchOutput
    ) -> None:
        assigned = self.clusterer.learn(vectors, t=max(e.ts for e in reviews))
        out.lifecycle = self.clusterer.pop_events()
        for event in out.lifecycle:
            self.items.apply_lifecycle(event)
            self.labeler.apply_lifecycle(event.kind, event.cluster_id, event.related)
            if event.kind in ("died", "merged"):
                out.retired_clusters.append(event.cluster_id)
        snapshot = self.clusterer.snapshot()
        rows = dict(zip(snapshot.ids.tolist(), range(len(snapshot.ids)), strict=True))
        for review, vector, cluster_id in zip(reviews, vectors, assigned.tolist(), strict=True):
            row = rows.get(cluster_id)
            centroid = snapshot.centroids[row] if row is not None else None
            self.labeler.add(
                cluster_id,
                review.text,
                vector,
                review.event_id,
                review.item_id,
                centroid,
                review.user_id,
            )
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
            out.assignments[user_id] = assignment(pair, sim, self.as_of)

    # -- serving -------------------------------------------------------------------

    def recommend(
        self,
        strategy: str,
        user_id: str | None,
        cluster_id: int | None = None,
        k: int | None = None,
    ) -> RecList:
        """Top-k of a strategy; a user's own items are never recommended back."""
        k = k or self.config.recs_length
        chosen = self.strategies[strategy]
        why = None
        if user_id is not None and self.knows_user(user_id) and explainable(chosen):
            rows, values, why = serve_candidates(self, chosen, user_id, k)
        elif (
            user_id is None
            and cluster_id is not None
            and cluster_id >= 0
            and isinstance(chosen, ClusterPopular)
        ):  # a cluster's own list, over its candidates
            candidates = self.candidates.cluster_rows(self, cluster_id, self.centroid(cluster_id))
            scores = chosen.scores_at(self, cluster_id, candidates)
            diversity = self.config.diversity
            vectors = self.item_matrix()[candidates] if diversity > 0 else None  # MMR only
            local, values = top_items(scores, k, None, vectors, diversity)
            rows = candidates[local]
        else:
            scores = chosen.scores(self, user_id, cluster_id)
            exclude = self.profiles.seen_items(user_id) if user_id is not None else None
            rows, values = top_items(scores, k, exclude, self.item_matrix(), self.config.diversity)
        if user_id is not None:
            level = "user"
        elif cluster_id is not None:
            level = "cluster"
        else:
            level = "trending"
        return rec_list(
            strategy,
            level,
            user_id,
            cluster_id if cluster_id is not None else self._cluster_of(user_id),
            self.items.ids,
            rows,
            values,
            self.as_of,
            why,
        )

    def _cluster_of(self, user_id: str | None) -> int | None:
        return None if user_id is None else self.user_cluster(user_id)
