"""Online spherical k-means with forgetting, stable ids and an optional free k.

Each cluster keeps sufficient statistics: a decayed sum ``S`` of its points and
a decayed weight ``n``. A mini-batch of ``m`` points applies Spark
StreamingKMeans' rule ``c' = (c n a + sum(x)) / (n a + m)``, i.e.
``S' = S a + sum(x)`` and ``n' = n a + m``, where the forgetting factor ``a``
comes from a half-life in events (``a = 2 ** (-m / h)``) or in event time
(``a = 2 ** (-dt / h)``). The served centroid is the direction ``S / |S|``
(cosine geometry) and ``1 - |S| / n`` is the cluster's mean cosine distance to
it, so spread, splits and merges need no stored points. Because ``S`` and
``n`` add up, workers can merge their updates by summing them.

>>> rng = np.random.default_rng(0)
>>> blobs = np.vstack([rng.normal(c, 0.05, (50, 3)) for c in np.eye(3)])
>>> blobs /= np.linalg.norm(blobs, axis=1, keepdims=True)
>>> model = OnlineKMeans(k=3, seed=0)
>>> for batch in np.array_split(rng.permutation(blobs), 5):
...     _ = model.learn(batch)
>>> sorted(np.round(np.abs(model.snapshot().centroids).max(axis=1), 1).tolist())
[1.0, 1.0, 1.0]
>>> [e.kind for e in model.pop_events()]
['born', 'born', 'born']
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from streamrec.clustering.base import Clusterer, LifecycleEvent, Snapshot, normalise


class OnlineKMeans(Clusterer):
    """Mini-batch k-means on unit vectors with decayed weights and stable cluster ids.

    Parameters:
        k: the number of clusters (the start value when ``dynamic``).
        half_life: after this many events (or seconds) a point weighs half.
        half_life_unit: ``"events"`` or ``"seconds"`` (event time of the batch).
        min_weight: a cluster older than one half-life whose weight falls below
            this is reseeded at the point the model serves worst.
        dynamic: let k move within ``[k_min, k_max]``: split a cluster whose
            spread exceeds ``split_spread``, merge two whose centroids are more
            similar than ``merge_similarity``.
    """

    name = "online-kmeans"

    def __init__(
        self,
        k: int = 20,
        half_life: float = 2000.0,
        half_life_unit: Literal["events", "seconds"] = "events",
        min_weight: float = 0.5,
        seed: int = 0,
        dynamic: bool = False,
        k_min: int = 2,
        k_max: int = 64,
        split_spread: float = 0.55,
        merge_similarity: float = 0.92,
    ) -> None:
        super().__init__()
        if k < 1 or half_life <= 0:
            raise ValueError("k must be >= 1 and half_life > 0")
        self.k = k
        self.half_life = float(half_life)
        self.half_life_unit = half_life_unit
        self.min_weight = float(min_weight)
        self.dynamic = dynamic
        self.k_min, self.k_max = k_min, k_max
        self.split_spread = split_spread
        self.merge_similarity = merge_similarity
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.ids = np.zeros(0, dtype=np.int64)
        self.sums = np.zeros((0, 0), dtype=np.float64)
        self.weights = np.zeros(0, dtype=np.float64)
        self.centers = np.zeros((0, 0), dtype=np.float32)
        self.born_at = np.zeros(0, dtype=np.float64)  # clock at birth, for the grace period
        self.next_id = 0
        self.step = 0
        self.events_seen = 0
        self.clock: float | None = None

    # -- learning ---------------------------------------------------------------

    def _learn(self, points: np.ndarray, t: float | None) -> np.ndarray:
        if not np.isfinite(points).all():
            raise ValueError("points must be finite")
        self._ensure_dim(points.shape[1])
        self.step += 1
        target = self.k if not self.dynamic else max(self.k_min, min(self.k, self.k_max))
        if len(self.ids) < target:
            self._seed(points, target)
        discount = self._discount(points.shape[0], t)
        assigned = np.argmax(points @ self.centers.T, axis=1)
        self._apply(points, assigned, discount)
        self.events_seen += points.shape[0]
        self._reseed_dying(points)
        if self.dynamic:
            self._merge_close()
            self._split_wide(points)
        return self.ids[np.argmax(points @ self.centers.T, axis=1)]

    def _ensure_dim(self, dim: int) -> None:
        if self.sums.shape[1] == 0:
            self.sums = np.zeros((0, dim), dtype=np.float64)
            self.centers = np.zeros((0, dim), dtype=np.float32)
        elif self.sums.shape[1] != dim:
            raise ValueError(f"expected vectors of dimension {self.sums.shape[1]}, got {dim}")

    def _now(self) -> float:
        if self.half_life_unit == "events":
            return float(self.events_seen)
        return float(self.clock or 0.0)

    def _discount(self, m: int, t: float | None) -> float:
        if self.half_life_unit == "events":
            return float(2.0 ** (-m / self.half_life))
        if t is None:
            raise ValueError("half_life_unit='seconds' needs the batch event time t")
        elapsed = 0.0 if self.clock is None else max(0.0, t - self.clock)
        self.clock = t if self.clock is None else max(self.clock, t)
        return float(2.0 ** (-elapsed / self.half_life))

    def _apply(self, points: np.ndarray, assigned: np.ndarray, discount: float) -> None:
        onehot = np.zeros((len(self.ids), points.shape[0]), dtype=np.float64)
        onehot[assigned, np.arange(points.shape[0])] = 1.0
        self.sums = self.sums * discount + onehot @ points.astype(np.float64)
        self.weights = self.weights * discount + onehot.sum(axis=1)
        self._refresh_centers()

    def _refresh_centers(self) -> None:
        norms = np.linalg.norm(self.sums, axis=1)
        alive = norms > 1e-12
        self.centers[alive] = (self.sums[alive] / norms[alive, None]).astype(np.float32)

    def _add_cluster(self, center: np.ndarray, sums: np.ndarray | None = None,
                     weight: float = 0.0) -> int:
        cluster_id = self.next_id
        self.next_id += 1
        self.ids = np.append(self.ids, cluster_id)
        self.centers = np.vstack([self.centers, center[None].astype(np.float32)])
        row_sum = np.zeros((1, self.sums.shape[1])) if sums is None else sums[None]
        self.sums = np.vstack([self.sums, row_sum])
        self.weights = np.append(self.weights, weight)
        self.born_at = np.append(self.born_at, self._now())
        return cluster_id

    def _drop_cluster(self, row: int) -> None:
        keep = np.arange(len(self.ids)) != row
        self.ids, self.sums = self.ids[keep], self.sums[keep]
        self.weights, self.centers = self.weights[keep], self.centers[keep]
        self.born_at = self.born_at[keep]

    def _seed(self, points: np.ndarray, target: int) -> None:
        """k-means++: new centres drawn with probability proportional to distance squared."""
        chosen: list[np.ndarray] = list(self.centers)
        while len(self.ids) < target:
            if chosen:
                distance = 1.0 - np.max(points @ np.asarray(chosen).T, axis=1)
                distance = np.clip(distance, 0.0, None) ** 2
                if distance.max() <= 1e-9:  # only duplicates of existing centres left
                    return
                pick = int(self._rng.choice(len(points), p=distance / distance.sum()))
            else:
                pick = int(self._rng.integers(len(points)))
            chosen.append(points[pick])
            cluster_id = self._add_cluster(points[pick])
            self._emit(LifecycleEvent("born", cluster_id, self.step, reason="seed"))

    def _reseed_dying(self, points: np.ndarray) -> None:
        """Replace clusters that lost their weight with the worst-served points (as sklearn)."""
        now = self._now()
        dying = np.flatnonzero(
            (self.weights < self.min_weight) & (now - self.born_at >= self.half_life)
        )
        if len(dying) == 0:
            return
        served = np.max(points @ self.centers.T, axis=1)
        worst = np.argsort(served, kind="stable")
        used: list[int] = []
        for row in dying:
            candidates = [p for p in worst if all(points[p] @ points[u] < 0.999 for u in used)]
            if not candidates or served[candidates[0]] > 0.999:
                continue
            pick = int(candidates[0])
            used.append(pick)
            old_id, old_weight = int(self.ids[row]), float(self.weights[row])
            new_id = self.next_id
            self.next_id += 1
            self.ids[row] = new_id
            self.centers[row] = points[pick]
            self.sums[row] = points[pick].astype(np.float64)
            self.weights[row] = 1.0
            self.born_at[row] = now
            self._emit(LifecycleEvent("died", old_id, self.step, (new_id,),
                                      "weight below min_weight", old_weight))
            self._emit(LifecycleEvent("born", new_id, self.step, (old_id,),
                                      "reseeded at the worst-served point", 1.0))

    def spreads(self) -> np.ndarray:
        """Mean cosine distance of each cluster's (decayed) points to its centroid."""
        norms = np.linalg.norm(self.sums, axis=1)
        return 1.0 - norms / np.maximum(self.weights, 1e-12)

    def _merge_close(self) -> None:
        if len(self.ids) <= self.k_min:
            return
        similarity = self.centers @ self.centers.T
        np.fill_diagonal(similarity, -np.inf)
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[i, j] < self.merge_similarity:
            return
        keep, absorbed = (i, j) if self.weights[i] >= self.weights[j] else (j, i)
        self.sums[keep] += self.sums[absorbed]
        self.weights[keep] += self.weights[absorbed]
        kept_id, absorbed_id = int(self.ids[keep]), int(self.ids[absorbed])
        weight = float(self.weights[absorbed])
        self._drop_cluster(absorbed)
        self._refresh_centers()
        self._emit(LifecycleEvent("merged", absorbed_id, self.step, (kept_id,),
                                  f"centroid similarity {similarity[i, j]:.3f}", weight))

    def _split_wide(self, points: np.ndarray) -> None:
        if len(self.ids) >= self.k_max:
            return
        spreads = self.spreads()
        eligible = (self.weights >= 4 * max(self.min_weight, 1.0)) & (spreads > self.split_spread)
        if not eligible.any():
            return
        row = int(np.argmax(np.where(eligible, spreads, -np.inf)))
        members = points[np.argmax(points @ self.centers.T, axis=1) == row]
        if len(members) < 2:
            return
        halves = _two_means(members, self.centers[row])
        if halves is None:
            return
        (dir_a, share_a, tight_a), (dir_b, share_b, tight_b) = halves
        weight = self.weights[row]
        parent_id = int(self.ids[row])
        self.sums[row] = dir_a * weight * share_a * tight_a
        self.weights[row] = weight * share_a
        self.centers[row] = dir_a.astype(np.float32)
        child = self._add_cluster(dir_b, dir_b * weight * share_b * tight_b, weight * share_b)
        self._emit(LifecycleEvent("split", child, self.step, (parent_id,),
                                  f"spread {spreads[row]:.3f}", float(weight * share_b)))

    # -- serving and state --------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self.ids.copy(), self.centers.copy(), self.weights.copy())

    def state(self) -> dict:
        return {
            "ids": self.ids.copy(), "sums": self.sums.copy(), "weights": self.weights.copy(),
            "centers": self.centers.copy(), "born_at": self.born_at.copy(),
            "next_id": self.next_id, "step": self.step, "events_seen": self.events_seen,
            "clock": self.clock, "rng": self._rng.bit_generator.state,
            "half_life": self.half_life, "half_life_unit": self.half_life_unit,
        }

    def load(self, state: dict) -> None:
        self.ids = np.asarray(state["ids"], dtype=np.int64)
        self.sums = np.asarray(state["sums"], dtype=np.float64)
        self.weights = np.asarray(state["weights"], dtype=np.float64)
        self.centers = np.asarray(state["centers"], dtype=np.float32)
        self.born_at = np.asarray(state["born_at"], dtype=np.float64)
        self.next_id = int(state["next_id"])
        self.step = int(state["step"])
        self.events_seen = int(state["events_seen"])
        self.clock = None if state["clock"] is None else float(state["clock"])
        self._rng.bit_generator.state = state["rng"]


def _two_means(
    members: np.ndarray, center: np.ndarray, iterations: int = 5
) -> tuple[tuple[np.ndarray, float, float], tuple[np.ndarray, float, float]] | None:
    """Split ``members`` in two; per half its direction, share of points and tightness."""
    far = members[int(np.argmin(members @ center))]
    seeds = normalise(np.vstack([center, far]).astype(np.float64))
    for _ in range(iterations):
        side = np.argmax(members @ seeds.T, axis=1)
        if side.min() == side.max():
            return None
        sums = np.vstack([members[side == s].sum(axis=0) for s in (0, 1)])
        seeds = normalise(sums)
    counts = np.array([(side == s).sum() for s in (0, 1)], dtype=np.float64)
    tightness = np.linalg.norm(sums, axis=1) / counts
    shares = counts / counts.sum()
    return (seeds[0], shares[0], tightness[0]), (seeds[1], shares[1], tightness[1])
