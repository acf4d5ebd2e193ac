"""River's clusterers behind StreamRec's interface: ``KMeans`` and density-based ``DBSTREAM``.

River names DBSTREAM's macro clusters anew at every reclustering, so
:class:`streamrec.clustering.stable_ids.StableIds` matches each new set of
centres to the previous one by cosine similarity and keeps the ids (emitting
born, split, merged and died events); River's KMeans keeps its ids by
construction.
"""

from __future__ import annotations

import numpy as np
from river import cluster

from streamrec.clustering.base import Clusterer, LifecycleEvent, Snapshot, normalise
from streamrec.clustering.stable_ids import StableIds


def _as_dict(row: np.ndarray) -> dict[int, float]:
    return dict(enumerate(row.tolist()))


def _as_array(center: dict, dim: int) -> np.ndarray:
    out = np.zeros(dim, dtype=np.float64)
    keys = np.fromiter(center.keys(), dtype=np.int64, count=len(center))
    out[keys] = np.fromiter(center.values(), dtype=np.float64, count=len(center))
    return out


class RiverKMeans(Clusterer):
    """River's ``cluster.KMeans`` (one point at a time, learning rate ``halflife``)."""

    name = "river-kmeans"
    dtype = np.float64

    def __init__(
        self, k: int = 20, halflife: float = 0.1, sigma: float = 0.01, seed: int = 0
    ) -> None:
        super().__init__()
        self.k, self.halflife, self.sigma, self.seed = k, halflife, sigma, seed
        self.model = cluster.KMeans(n_clusters=k, halflife=halflife, mu=0.0, sigma=sigma, seed=seed)
        self.dim = 0
        self.weights = np.zeros(k)
        self.step = 0
        self.decay = 1.0

    def _learn(self, points: np.ndarray, t: float | None) -> np.ndarray:
        if self.step == 0:
            self.dim = points.shape[1]
            for cluster_id in range(self.k):
                self._emit(LifecycleEvent("born", cluster_id, 1, reason="seed"))
        self.step += 1
        assigned = np.array([self.model.learn_predict_one(_as_dict(p)) for p in points])
        self.weights *= 0.5 ** (len(points) / 1000)
        np.add.at(self.weights, assigned, 1.0)
        return assigned.astype(np.int64)

    def snapshot(self) -> Snapshot:
        if self.dim == 0:
            return Snapshot.empty()
        centers = np.vstack([_as_array(self.model.centers[i], self.dim) for i in range(self.k)])
        return Snapshot(
            np.arange(self.k, dtype=np.int64),
            normalise(centers).astype(np.float32),
            self.weights.copy(),
        )

    def state(self) -> dict:
        centers = self.snapshot().centroids if self.dim else np.zeros((0, 0))
        raw = (
            np.vstack([_as_array(self.model.centers[i], self.dim) for i in range(self.k)])
            if self.dim
            else centers
        )
        return {
            "centers": raw,
            "dim": self.dim,
            "weights": self.weights,
            "step": self.step,
            "rng": list(self.model._rng.getstate()),
        }

    def load(self, state: dict) -> None:
        self.dim, self.step = int(state["dim"]), int(state["step"])
        self.weights = np.asarray(state["weights"], dtype=np.float64)
        version, internal, gauss = state["rng"]
        self.model._rng.setstate((version, tuple(internal), gauss))
        for i in range(self.k):
            center = self.model.centers[i]
            center.clear()
            if self.dim:
                center.update(_as_dict(np.asarray(state["centers"])[i]))


class RiverDBSTREAM(Clusterer):
    """River's density-based ``cluster.DBSTREAM``: no preset k, ids kept by :class:`StableIds`.

    ``clustering_threshold`` is a Euclidean radius; for unit vectors
    ``|a - b| = sqrt(2 - 2 cos(a, b))``, so 0.8 groups texts with cosine >= 0.68.
    """

    name = "river-dbstream"
    dtype = np.float64

    def __init__(
        self,
        clustering_threshold: float = 0.8,
        fading_factor: float = 0.001,
        cleanup_interval: float = 100,
        intersection_factor: float = 0.3,
        minimum_weight: float = 1.0,
        match_similarity: float = 0.8,
        recluster_every: int = 1,
    ) -> None:
        super().__init__()
        if recluster_every < 1:
            raise ValueError("recluster_every must be >= 1")
        self.recluster_every = recluster_every
        self._since_refresh = 0
        self.model = cluster.DBSTREAM(
            clustering_threshold=clustering_threshold,
            fading_factor=fading_factor,
            cleanup_interval=cleanup_interval,
            intersection_factor=intersection_factor,
            minimum_weight=minimum_weight,
        )
        self.tracker = StableIds(match_similarity)
        self.dim = 0
        self.step = 0
        self._snapshot = Snapshot.empty()

    @property
    def next_id(self) -> int:
        """The next id a new dense region gets (workers give each other disjoint ranges)."""
        return self.tracker.next_id

    @next_id.setter
    def next_id(self, value: int) -> None:
        self.tracker.next_id = value

    def _learn(self, points: np.ndarray, t: float | None) -> np.ndarray:
        self.dim = points.shape[1]
        self.step += 1
        for point in points:
            self.model.learn_one(_as_dict(point))
        self._since_refresh += len(points)
        # reclustering costs more than learning a point: one-event batches do it less often
        if self._since_refresh >= self.recluster_every or not len(self._snapshot):
            self._refresh()
            self._since_refresh = 0
        return self.predict(points.astype(np.float32))

    def _refresh(self) -> None:
        centers = self.model.centers
        clusters = self.model.clusters
        keys = sorted(centers)
        if not keys:  # before any dense region: every micro cluster stands alone
            micro = self.model.micro_clusters
            keys = sorted(micro)
            centers = {k: micro[k].center for k in keys}
            clusters = micro
        matrix = (
            np.vstack([_as_array(centers[k], self.dim) for k in keys])
            if keys
            else np.zeros((0, self.dim))
        )
        matrix = normalise(matrix)
        ids, events = self.tracker.update(matrix, self.step)
        for event in events:
            self._emit(event)
        weights = np.array([float(getattr(clusters[k], "weight", 1.0) or 1.0) for k in keys])
        self._snapshot = Snapshot(ids, matrix.astype(np.float32), weights)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def state(self) -> dict:
        micro = self.model.micro_clusters
        keys = sorted(micro)
        return {
            "dim": self.dim,
            "step": self.step,
            "time": self.model._time_stamp,
            "micro_ids": keys,
            "micro_centers": np.vstack([_as_array(micro[k].center, self.dim) for k in keys])
            if keys
            else np.zeros((0, self.dim)),
            "micro_last": [micro[k].last_update for k in keys],
            "micro_weight": [micro[k].weight for k in keys],
            "s": {str(i): {str(j): v for j, v in row.items()} for i, row in self.model.s.items()},
            "s_t": {
                str(i): {str(j): v for j, v in row.items()} for i, row in self.model.s_t.items()
            },
            "tracker": self.tracker.state(),
            "snapshot": self._snapshot.state(),
            "since_refresh": self._since_refresh,
        }

    def load(self, state: dict) -> None:
        from river.cluster.dbstream import DBSTREAMMicroCluster

        self.dim, self.step = int(state["dim"]), int(state["step"])
        self.model._time_stamp = int(state["time"])
        centers = np.asarray(state["micro_centers"])
        self.model._micro_clusters = {
            int(k): DBSTREAMMicroCluster(x=_as_dict(centers[n]), last_update=last, weight=weight)
            for n, (k, last, weight) in enumerate(
                zip(state["micro_ids"], state["micro_last"], state["micro_weight"], strict=True)
            )
        }
        self.model.s = {
            int(i): {int(j): v for j, v in row.items()} for i, row in state["s"].items()
        }
        self.model.s_t = {
            int(i): {int(j): v for j, v in row.items()} for i, row in state["s_t"].items()
        }
        self.model.clustering_is_up_to_date = False
        self.tracker.load(state["tracker"])
        self._snapshot = Snapshot.from_state(state["snapshot"])
        self._since_refresh = int(state.get("since_refresh", 0))
