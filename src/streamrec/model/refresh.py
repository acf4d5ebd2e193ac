"""Which shared lists a batch rebuilds: clusters, parent groups, trending, summaries.

Mixed into :class:`streamrec.model.engine.Engine`. Cluster lists are rebuilt on a
schedule or when a centroid moved; a cluster with fewer than
``group_min_cluster_users`` users gets none (its users fall back to their
group's list). The tree of parent groups
(:class:`streamrec.clustering.hierarchy.Hierarchy`) is rebuilt whenever the
set of clusters changes (born, split, merged, died) and on the schedule (so a
fixed k's tree follows its moving centroids), and each group's list, the
weighted mean of its clusters' scores, with it.

In a group of workers every shared list used to be built by each of them (and
written N times): a :class:`ListShare` gives each list one builder, the owner of
a partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.clustering import Clusterer, Snapshot
from streamrec.clustering.hierarchy import Hierarchy
from streamrec.clustering.labels import ClusterLabeler
from streamrec.core.arrays import unique_rows
from streamrec.model.candidates import CandidateGenerator
from streamrec.model.config import EngineConfig
from streamrec.model.items import ItemStats
from streamrec.model.output import BatchOutput, cluster_sizes, cluster_summaries, rec_list
from streamrec.model.profiles import UserProfiles
from streamrec.model.scoring import top_items, unit_max
from streamrec.model.strategies import ClusterPopular, Strategy
from streamrec.serving.schema import ClusterSummary, RecList


@dataclass(frozen=True)
class ListShare:
    """The shared lists one worker of a group builds: cluster (or group) ``n``'s list is
    built by the owner of partition ``n % partitions`` only, the trending list and the
    cluster summaries by partition 0's owner. An engine without one builds every list.

    >>> share = ListShare(frozenset({1}), partitions=2)
    >>> [n for n in range(6) if share.owns(n)], share.owns_singletons()
    ([1, 3, 5], False)
    """

    owned: frozenset[int]
    partitions: int

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")

    @classmethod
    def of(cls, owned: set[int] | frozenset[int], partitions: int) -> ListShare | None:
        """The share of a worker owning ``owned`` of ``partitions`` (0: not known yet);
        None, every list, while it owns them all or the count is not known.

        >>> ListShare.of({0, 1}, 2), ListShare.of({0}, 0), ListShare.of({0}, 2)
        (None, None, ListShare(owned=frozenset({0}), partitions=2))
        """
        if partitions == 0 or set(range(partitions)) <= set(owned):
            return None
        return cls(frozenset(owned), partitions)

    def owns(self, list_id: int) -> bool:
        return list_id % self.partitions in self.owned

    def owns_singletons(self) -> bool:
        """Whether this worker builds the lists there is one of (trending, summaries)."""
        return self.owns(0)


class Refreshing:
    """Shared lists and the group tree of an engine (the engine owns the fields)."""

    config: EngineConfig
    clock: int
    as_of: float
    clusterer: Clusterer
    profiles: UserProfiles
    labeler: ClusterLabeler
    strategies: dict[str, Strategy]
    items: ItemStats
    hierarchy: Hierarchy
    _last_refresh: int
    _refreshed_centroids: dict[int, np.ndarray]
    candidates: CandidateGenerator
    list_share: ListShare | None

    # the engine's own methods (declared for the type checker; the engine overrides them)
    def recommend(
        self, strategy: str, user_id: str | None, cluster_id: int | None = None
    ) -> RecList:
        raise NotImplementedError

    def item_matrix(self) -> np.ndarray:
        raise NotImplementedError

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        raise NotImplementedError

    def _regroup(self, snapshot: Snapshot, force: bool = False) -> list[int] | None:
        """Rebuild the tree when the set of clusters changed (or ``force``); the groups that
        went, or None when it was not rebuilt."""
        if not force and self.hierarchy.same_clusters(snapshot.ids):
            return None
        before = set(self.hierarchy.group_ids())
        self.hierarchy = Hierarchy.build(
            snapshot.ids, snapshot.centroids, snapshot.weights, self.config.cluster_groups
        )
        return sorted(before - set(self.hierarchy.group_ids()))

    def _refresh_clusters(
        self,
        snapshot: Snapshot,
        out: BatchOutput,
        retired_groups: list[int] | None,
        trending: bool = True,
        users: list[str] | None = None,
    ) -> None:
        """Rebuild cluster lists on a schedule, or for clusters that are new or moved (and
        the trending list, unless the caller will not keep it). ``users``: whose lists the
        caller builds next (their nearest-item queries are made with the clusters')."""
        due = self.clock - self._last_refresh >= self.config.cluster_refresh_events
        share = self.list_share
        if due and retired_groups is None:  # centroids and weights moved since the last tree
            retired_groups = self._regroup(snapshot, force=True)
        sizes = cluster_sizes(self.profiles)
        rebuilt: list[tuple[int, np.ndarray]] = []
        for cluster_id, centroid in zip(snapshot.ids.tolist(), snapshot.centroids, strict=True):
            if share is not None and not share.owns(cluster_id):
                continue  # another worker of the group builds it
            before = self._refreshed_centroids.get(cluster_id)
            if sizes.get(cluster_id, 0) < self.config.group_min_cluster_users:
                if before is not None:  # too small now: its users get the group's list
                    out.retired_clusters.append(cluster_id)
                continue
            moved = before is None or float(before @ centroid) < self.config.cluster_move_threshold
            if due or moved:
                rebuilt.append((cluster_id, centroid))
        self.candidates.prefetch(self, users or [], [centroid for _, centroid in rebuilt])
        for cluster_id, centroid in rebuilt:
            out.cluster_recs[cluster_id] = self.recommend("cluster", None, cluster_id)
            self._refreshed_centroids[cluster_id] = centroid.copy()
        for cluster_id in out.retired_clusters:
            self._refreshed_centroids.pop(cluster_id, None)
        regrouped = retired_groups is not None
        if regrouped:
            out.retired_groups = retired_groups  # type: ignore[assignment]
        if due or regrouped:
            for group_id in self.hierarchy.group_ids():
                if share is None or share.owns(group_id):
                    out.group_recs[group_id] = self.group_list(group_id)
        singletons = share is None or share.owns_singletons()
        if trending and singletons:  # cheap enough to rebuild on every batch
            out.trending = self.recommend("trending", None)
        if (due or out.lifecycle or regrouped) and singletons:
            out.clusters = self.cluster_summaries()
        if due:
            self._last_refresh = self.clock

    def group_list(self, group_id: int, k: int | None = None) -> RecList:
        """A parent group's list: its clusters' ``cluster`` scores weighted by cluster weight."""
        tree = self.hierarchy
        weights = dict(zip(tree.ids.tolist(), tree.weights.tolist(), strict=True))
        members = tree.members(group_id)
        cluster = self.strategies["cluster"]
        assert isinstance(cluster, ClusterPopular)
        parts = [self.candidates.cluster_rows(self, c, self.centroid(c)) for c in members]
        rows = unique_rows(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        scores = np.zeros(rows.size)
        vectors = self.item_matrix()[rows]  # gathered once for every member's similarity
        for cluster_id in members:  # each cluster's scores over the union of their candidates
            share = max(weights.get(cluster_id, 0.0), 1e-3)
            scores = scores + share * unit_max(cluster.scores_at(self, cluster_id, rows, vectors))
        k = k or self.config.recs_length
        diversity = self.config.diversity
        local, values = top_items(scores, k, None, vectors if diversity > 0 else None, diversity)
        rows = rows[local]
        ids = self.items.ids
        return rec_list("group", "group", None, group_id, ids, rows, values, self.as_of)

    def cluster_summaries(self, top_words: int = 6) -> list[ClusterSummary]:
        """Labels, sizes, weights and parent groups of the live clusters (no raw text)."""
        return cluster_summaries(
            self.clusterer.snapshot(),
            self.labeler,
            self.profiles,
            top_words,
            self.hierarchy.groups,
        )
