"""Batch k-means recomputed every N points: the non-incremental reference for evaluation.

It keeps every point it has seen and refits sklearn's KMeans on all of them
every ``refit_every`` points (warm-started from the previous centroids), so a
replay can show what being incremental costs. Memory grows with the stream:
an evaluation tool, not a serving clusterer.
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import Clusterer, Snapshot, normalise
from streamrec.clustering.stable_ids import StableIds


class BatchKMeans(Clusterer):
    name = "batch-kmeans"

    def __init__(self, k: int = 20, refit_every: int = 1000, seed: int = 0) -> None:
        super().__init__()
        self.k, self.refit_every, self.seed = k, refit_every, seed
        self.points: list[np.ndarray] = []
        self.since_refit = 0
        self.tracker = StableIds(match_similarity=0.5)
        self.step = 0
        self._snapshot = Snapshot.empty()
        self._k_distinct = False  # k distinct points seen: points only grow, so it stays so

    def _learn(self, points: np.ndarray, t: float | None) -> np.ndarray:
        self.step += 1
        self.points.extend(points)
        self.since_refit += len(points)
        if len(self._snapshot) == 0 or self.since_refit >= self.refit_every:
            self._refit()
        return self.predict(points)

    def _refit(self) -> None:
        from sklearn.cluster import KMeans

        data = np.asarray(self.points)
        k = self.k if self._k_distinct else min(self.k, self._distinct(data))
        previous = self._snapshot.centroids
        init = previous if len(previous) == k else "k-means++"
        model = KMeans(n_clusters=k, init=init, n_init=1, random_state=self.seed).fit(data)
        centroids = normalise(model.cluster_centers_).astype(np.float32)
        ids, events = self.tracker.update(centroids.astype(np.float64), self.step)
        for event in events:
            self._emit(event)
        weights = np.bincount(model.labels_, minlength=k).astype(np.float64)
        self._snapshot = Snapshot(ids, centroids, weights)
        self.since_refit = 0

    def _distinct(self, data: np.ndarray) -> int:
        """Distinct points (a sort of every point: only until there are k of them)."""
        distinct = len(np.unique(data, axis=0))
        self._k_distinct = distinct >= self.k
        return distinct

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def state(self) -> dict:
        return {
            "points": np.asarray(self.points),
            "since_refit": self.since_refit,
            "step": self.step,
            "tracker": self.tracker.state(),
            "snapshot": self._snapshot.state(),
        }

    def load(self, state: dict) -> None:
        self.points = list(np.asarray(state["points"], dtype=np.float32))
        self.since_refit, self.step = int(state["since_refit"]), int(state["step"])
        self._k_distinct = False
        self.tracker.load(state["tracker"])
        self._snapshot = Snapshot.from_state(state["snapshot"])
