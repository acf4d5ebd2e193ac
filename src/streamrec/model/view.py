"""What a strategy may read of the model: a small read-only view, not the engine's tables.

:class:`streamrec.model.engine.Engine` implements it; a strategy (or a test)
needs nothing else, so the engine's internals can change without touching
the strategies. Every array is indexed by item row and may be kept by the
caller (a fresh array or one the model no longer writes to).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class ModelView(Protocol):
    def trending_scores(self) -> np.ndarray:
        """Decayed engagement counts of every item (the trending half-life)."""
        ...

    def popularity_scores(self) -> np.ndarray:
        """All-time engagement counts of every item."""
        ...

    def cluster_engagement(self, cluster_id: int) -> np.ndarray:
        """Decayed engagement of a cluster's users with every item."""
        ...

    def unit_trending_at(self, rows: np.ndarray) -> np.ndarray:
        """``unit_max(trending_scores())[rows]``, in O(rows)."""
        ...

    def unit_cluster_engagement_at(self, cluster_id: int, rows: np.ndarray) -> np.ndarray:
        """``unit_max(cluster_engagement(cluster_id))[rows]``, in O(rows)."""
        ...

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        """The unit centroid of a live cluster."""
        ...

    def centroid_scores(self, cluster_id: int) -> np.ndarray | None:
        """Every item's unit text vector against a live cluster's centroid (None: no such
        cluster)."""
        ...

    def item_matrix(self) -> np.ndarray:
        """Unit text vectors of every item, one row each."""
        ...

    def knows_user(self, user_id: str) -> bool:
        """Whether the user has a profile."""
        ...

    def user_vector(self, user_id: str) -> np.ndarray | None:
        """The user's unit interest vector (zeros before their first review)."""
        ...

    def user_cluster(self, user_id: str) -> int | None:
        """The user's nearest cluster, when assigned."""
        ...

    def user_clusters(self, user_id: str) -> tuple[int, int, np.ndarray]:
        """Nearest and second-nearest cluster ids (-1: none) and their similarities."""
        ...

    def learned_scores(self, user_id: str) -> np.ndarray:
        """The online ranker's blend of every signal for a known user."""
        ...
