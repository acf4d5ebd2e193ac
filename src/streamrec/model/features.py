"""The ranker's features: one row of signals per item, for one user.

Columns (:data:`FEATURES`): trends over several horizons, popularity, item
co-occurrence with the user's history (kNN) and transitions from their last
item, freshness, text similarity to the user's profile and last review, and
their cluster's engagement.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamrec.core.decay import decay
from streamrec.model.items import ItemStats
from streamrec.model.profiles import UserProfiles
from streamrec.model.scoring import unit_max
from streamrec.model.signals import HISTORY, ItemSignals

FEATURES = (
    "trend100",
    "trend300",
    "trend1000",
    "trend3000",
    "popularity",
    "knn",
    "knn_recent",
    "transition",
    "content",
    "content_last",
    "fresh100",
    "fresh1000",
    "new1000",
    "knn_log",
    "transition_log",
    "cluster",
)


class FeatureSource(Protocol):
    """The parts of the model the features read (the engine has them)."""

    signals: ItemSignals
    profiles: UserProfiles
    items: ItemStats
    clock: int

    def item_matrix(self) -> np.ndarray: ...


def features(model: FeatureSource, user_id: str | None) -> np.ndarray:
    """The (items x FEATURES) matrix of one user, over every item the model knows."""
    size = model.items.n_items
    signals = model.signals
    signals.ensure(size)
    out = np.zeros((size, len(FEATURES)))
    for n, trend in enumerate(signals.trends):
        out[:, n] = np.log1p(trend.values(signals.clock)[:size])
    out[:, 4] = np.log1p(signals.count[:size])
    since = signals.clock - signals.last_seen[:size]
    age = np.where(signals.first_seen[:size] >= 0, signals.clock - signals.first_seen[:size], 1e9)
    out[:, 10] = np.exp(-since / 100.0)
    out[:, 11] = np.exp(-since / 1000.0)
    out[:, 12] = np.exp(-age / 1000.0)
    row = model.profiles.index.get(user_id) if user_id is not None else None
    if row is None:
        return out
    history = model.profiles.seen[row].tolist()[-HISTORY:]
    if history:
        norm = np.sqrt(np.maximum(signals.count[:size], 1.0))
        inverse = 1.0 / np.sqrt(np.maximum(signals.count[history], 1.0))
        recency = decay(len(history) - 1 - np.arange(len(history)), 2.0)
        knn = signals.co.weighted_sum(history, inverse, size) / norm
        knn_recent = signals.co.weighted_sum(history, inverse * recency, size) / norm
        transition = signals.transitions.weighted_sum(history[-1:], np.ones(1), size)
        out[:, 5] = unit_max(knn)
        out[:, 6] = unit_max(knn_recent)
        out[:, 7] = unit_max(transition)
        out[:, 13] = np.log1p(knn)
        out[:, 14] = np.log1p(transition)
    if model.profiles.counts[row] > 0:
        items = model.item_matrix()
        out[:, 8] = items @ model.profiles.vectors(np.array([row]))[0]
        last = model.profiles.last[row].astype(np.float32)
        out[:, 9] = items @ last
    cluster = int(model.profiles.cluster[row])
    if cluster >= 0:
        out[:, 15] = unit_max(model.items.cluster_engagement(cluster, model.clock))
    return out
