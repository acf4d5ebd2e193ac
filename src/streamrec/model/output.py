"""What a batch hands to the serving layer, in the serving schema's wire models.

The engine scores; this module turns its rows and scores into
:class:`streamrec.serving.schema.RecList`, :class:`Assignment` and
:class:`ClusterSummary` values. ``produced_at`` is left to the store, which
stamps the wall time of the write, so the model stays free of clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamrec.clustering.base import LifecycleEvent, Snapshot
from streamrec.clustering.labels import ClusterLabeler
from streamrec.model.profiles import UserProfiles
from streamrec.serving.schema import (
    Assignment,
    ClusterSummary,
    Level,
    Publication,
    RecList,
    ScoredItem,
)


@dataclass
class BatchOutput(Publication):
    """Everything a batch changed: what the serving layer publishes, plus what the worker
    reports (lifecycle events, drift alarms, counts)."""

    lifecycle: list[LifecycleEvent] = field(default_factory=list)
    drift_alarms: int = 0
    reviews: int = 0
    clicks: int = 0


def rec_list(
    strategy: str,
    level: Level,
    user_id: str | None,
    cluster_id: int | None,
    item_ids: list[str | None],
    rows: np.ndarray,
    scores: np.ndarray,
    as_of: float,
    why: list[dict[str, float]] | None = None,
) -> RecList:
    """A ranked list as served: item ids with rounded scores (removed items left out) and,
    when given, each item's largest score contributions (``why``, one per row)."""
    reasons = why if why is not None else [None] * len(rows)
    return RecList(
        strategy=strategy,
        level=level,
        user_id=user_id,
        cluster_id=cluster_id,
        # built without validation: ids and finite scores come from the engine itself
        items=ScoredItem.trusted_many(
            [item_ids[r] for r in np.asarray(rows).tolist()],  # Python ints and floats:
            np.asarray(scores, dtype=np.float64).tolist(),  # no numpy scalar per item
            reasons,
        ),
        as_of=as_of,
    )


def assignment(pair: np.ndarray, sims: np.ndarray, as_of: float) -> Assignment:
    """A user's two nearest clusters (-1: none) and their similarities."""
    return Assignment(
        cluster_id=int(pair[0]),
        similarity=float(sims[0]),
        second_cluster_id=int(pair[1]) if pair[1] >= 0 else None,
        second_similarity=float(sims[1]) if pair[1] >= 0 else None,
        as_of=as_of,
    )


def cluster_sizes(profiles: UserProfiles) -> dict[int, int]:
    """Users per cluster id (their nearest cluster; -1: not placed yet), ids ascending.

    Read at every batch: while the ids are small against the users (they are, but
    for workers' id ranges) they are counted in bins, one pass over the users
    instead of ``np.unique``'s sort (about 2x cheaper at 10^6 users)."""
    clusters = profiles.cluster[: profiles.n_rows]
    if clusters.size and int(clusters.max()) < clusters.size + 65_536:
        counts = np.bincount(clusters + 1)  # -1 lands in bin 0
        bins = np.flatnonzero(counts)
        return dict(zip((bins - 1).tolist(), counts[bins].tolist(), strict=True))
    ids, counts = np.unique(clusters, return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def cluster_summaries(
    snapshot: Snapshot,
    labeler: ClusterLabeler,
    profiles: UserProfiles,
    top_words: int = 6,
    groups: dict[int, int] | None = None,
) -> list[ClusterSummary]:
    """Labels, sizes, weights and parent groups of the live clusters (no raw text)."""
    labels = labeler.labels(top_words)
    sizes_by_id = cluster_sizes(profiles)
    groups = groups or {}
    summaries = []
    for row, cluster_id in enumerate(snapshot.ids.tolist()):
        reps = labeler.representatives(cluster_id, snapshot.centroids[row])
        summaries.append(
            ClusterSummary(
                cluster_id=cluster_id,
                weight=round(float(snapshot.weights[row]), 3),
                users=int(sizes_by_id.get(cluster_id, 0)),
                labels=labels.get(cluster_id, []),
                representative_items=[r.item_id for r in reps],
                representative_reviews=[r.event_id for r in reps],
                group=groups.get(cluster_id),
            )
        )
    return summaries
