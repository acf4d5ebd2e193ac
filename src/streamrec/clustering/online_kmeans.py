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

from streamrec.clustering.base import Clusterer, LifecycleEvent, Snapshot
from streamrec.clustering.dynamic import DynamicK
from streamrec.core.decay import decay

_MINE = ("next_id", "step", "clock", "rng", "half_life", "half_life_unit")  # not merged


class OnlineKMeans(DynamicK, Clusterer):
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
            return float(decay(m, self.half_life))
        if t is None:
            raise ValueError("half_life_unit='seconds' needs the batch event time t")
        elapsed = 0.0 if self.clock is None else max(0.0, t - self.clock)
        self.clock = t if self.clock is None else max(self.clock, t)
        return float(decay(elapsed, self.half_life))

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

    def _add_cluster(
        self, center: np.ndarray, sums: np.ndarray | None = None, weight: float = 0.0
    ) -> int:
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
            self._emit(
                LifecycleEvent(
                    "died", old_id, self.step, (new_id,), "weight below min_weight", old_weight
                )
            )
            self._emit(
                LifecycleEvent(
                    "born", new_id, self.step, (old_id,), "reseeded at the worst-served point", 1.0
                )
            )

    # -- serving and state --------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self.ids.copy(), self.centers.copy(), self.weights.copy())

    def state(self) -> dict:
        return {
            "ids": self.ids.copy(),
            "sums": self.sums.copy(),
            "weights": self.weights.copy(),
            "centers": self.centers.copy(),
            "born_at": self.born_at.copy(),
            "next_id": self.next_id,
            "step": self.step,
            "events_seen": self.events_seen,
            "clock": self.clock,
            "rng": self._rng.bit_generator.state,
            "half_life": self.half_life,
            "half_life_unit": self.half_life_unit,
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

    @staticmethod
    def merge(base: dict, mine: dict, theirs: dict) -> dict:
        """Merge the sufficient statistics of two workers' copies by cluster id.

        ``theirs`` (decayed by what this worker saw since ``base``) plus
        ``mine - base``. When two workers seeded clusters from nothing at the
        same time, the first to sync wins: the other drops its own seeds (and
        the few points it had given them) and adopts the winner's clusters.
        Seeding and the random state stay this worker's; ``next_id`` moves past
        every id either copy allocated, so a cluster this worker reseeds later
        does not take an id it adopted. (Two workers that give birth between the
        same two syncs still pick the same id: those two are summed as one.)
        """
        half_life = float(mine["half_life"])
        if mine["half_life_unit"] == "events":
            seen = int(mine["events_seen"]) - int(base["events_seen"])
            discount = decay(seen, half_life)
        else:
            elapsed = float(mine["clock"] or 0) - float(base["clock"] or 0)
            discount = decay(max(0.0, elapsed), half_life)
            seen = 0
        index = {
            name: {int(c): n for n, c in enumerate(state["ids"])}
            for name, state in (("b", base), ("l", mine), ("c", theirs))
        }
        ids, sums, weights, born = [], [], [], []
        for cluster_id, row in index["c"].items():
            if cluster_id in index["b"] and cluster_id not in index["l"]:
                continue  # this worker retired it
            s, n = theirs["sums"][row] * discount, theirs["weights"][row] * discount
            if cluster_id in index["l"]:
                lrow = index["l"][cluster_id]
                brow = index["b"].get(cluster_id)
                base_s = base["sums"][brow] * discount if brow is not None else 0.0
                base_n = base["weights"][brow] * discount if brow is not None else 0.0
                s = s + mine["sums"][lrow] - base_s
                n = n + mine["weights"][lrow] - base_n
            ids.append(cluster_id)
            sums.append(s)
            weights.append(max(0.0, float(n)))
            born.append(theirs["born_at"][row])
        lost_seeding_race = not index["b"] and bool(index["c"])
        for cluster_id, lrow in index["l"].items():
            if cluster_id in index["c"] or cluster_id in index["b"] or lost_seeding_race:
                continue  # merged above, retired by another worker, or seeded twice
            ids.append(cluster_id)
            sums.append(mine["sums"][lrow])
            weights.append(float(mine["weights"][lrow]))
            born.append(mine["born_at"][lrow])
        dim = np.asarray(mine["sums"]).shape[1] if np.asarray(mine["sums"]).ndim == 2 else 0
        sums_arr = np.vstack(sums) if sums else np.zeros((0, dim))
        norms = np.linalg.norm(sums_arr, axis=1, keepdims=True)
        centers = (sums_arr / np.maximum(norms, 1e-12)).astype(np.float32)
        out = {key: mine[key] for key in _MINE}
        out.update(
            ids=np.array(ids, dtype=np.int64),
            sums=sums_arr,
            weights=np.array(weights),
            centers=centers,
            born_at=np.array(born),
            events_seen=int(theirs["events_seen"]) + seen,
            next_id=max(int(mine["next_id"]), int(theirs["next_id"])),  # each past its own ids
        )
        if mine["half_life_unit"] != "events":
            out["clock"] = max(float(theirs["clock"] or 0), float(mine["clock"] or 0))
        return out
