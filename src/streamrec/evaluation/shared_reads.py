"""One engine's reads computed once per serve, shared by every strategy scored from it.

A replay scores several strategies of one engine at each serve: ``user``, the
``cluster`` and ``rerank`` strategies, ``trending`` and the debias sweep. They
read the same arrays (trending counts, the user's learned blend, a cluster's
engagement and its centroid against every item), and each read costs
O(catalogue). :class:`SharedReads` is the :class:`~streamrec.model.view.ModelView`
they score through: it computes each such read once while the engine's clock
stands still and hands out the same read-only array, so the scores are those
of the engine itself, bit for bit.

>>> from streamrec.model.engine import Engine

T = TypeVar("T")
>>> view = SharedReads(Engine(dim=2))
>>> view.trending_scores() is view.trending_scores()
True
>>> view.trending_scores().flags.writeable  # shared: a caller may not write to it
False
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np

from streamrec.model.engine import Engine

T = TypeVar("T")


class SharedReads:
    """A :class:`~streamrec.model.view.ModelView` of ``engine`` whose O(catalogue) reads
    are computed once per engine clock (the replay only changes the engine by applying
    events, and every event moves the clock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._memo: dict[Hashable, Any] = {}
        self._clock = -1

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` at the first read of ``key`` since the engine's clock last moved;
        its arrays (alone or in a list) are made read-only: every reader shares them."""
        if self._clock != self.engine.clock:
            self._memo.clear()
            self._clock = self.engine.clock
        if key not in self._memo:
            value = self._memo[key] = compute()
            for array in value if isinstance(value, list) else [value]:
                if isinstance(array, np.ndarray):
                    array.flags.writeable = False
        return self._memo[key]

    # -- shared: O(catalogue) each -----------------------------------------------------

    def trending_scores(self) -> np.ndarray:
        return self.once("trending", self.engine.trending_scores)

    def popularity_scores(self) -> np.ndarray:
        return self.once("popularity", self.engine.popularity_scores)

    def cluster_engagement(self, cluster_id: int) -> np.ndarray:
        return self.once(
            ("engagement", cluster_id), lambda: self.engine.cluster_engagement(cluster_id)
        )

    def learned_scores(self, user_id: str) -> np.ndarray:
        return self.once(("learned", user_id), lambda: self.engine.learned_scores(user_id))

    def centroid_scores(self, cluster_id: int) -> np.ndarray | None:
        return self.once(("centroid", cluster_id), lambda: self.engine.centroid_scores(cluster_id))

    # -- passed through: O(rows) or O(1) -----------------------------------------------

    def unit_trending_at(self, rows: np.ndarray) -> np.ndarray:
        return self.engine.unit_trending_at(rows)

    def unit_cluster_engagement_at(self, cluster_id: int, rows: np.ndarray) -> np.ndarray:
        return self.engine.unit_cluster_engagement_at(cluster_id, rows)

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        return self.engine.centroid(cluster_id)

    def item_matrix(self) -> np.ndarray:
        return self.engine.item_matrix()

    def knows_user(self, user_id: str) -> bool:
        return self.engine.knows_user(user_id)

    def user_vector(self, user_id: str) -> np.ndarray | None:
        return self.engine.user_vector(user_id)

    def user_cluster(self, user_id: str) -> int | None:
        return self.engine.user_cluster(user_id)

    def user_clusters(self, user_id: str) -> tuple[int, int, np.ndarray]:
        return self.engine.user_clusters(user_id)
