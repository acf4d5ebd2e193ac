"""Dynamic k for :class:`streamrec.clustering.online_kmeans.OnlineKMeans`: split a cluster
whose points spread too wide, merge two whose centroids come too close.

Both work on the sufficient statistics alone (decayed sums and weights), with
the spread of a cluster ``1 - |S| / n``; each change is reported as a
lifecycle event.
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import LifecycleEvent, normalise


class DynamicK:
    """Split and merge steps, mixed into OnlineKMeans: it owns the arrays they change and
    the helpers they call (``_add_cluster``, ``_drop_cluster``, ``_refresh_centers``,
    ``_emit``)."""

    ids: np.ndarray
    sums: np.ndarray
    weights: np.ndarray
    centers: np.ndarray
    step: int
    k_min: int
    k_max: int
    min_weight: float
    split_spread: float
    merge_similarity: float

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
        self._emit(
            LifecycleEvent(
                "merged",
                absorbed_id,
                self.step,
                (kept_id,),
                f"centroid similarity {similarity[i, j]:.3f}",
                weight,
            )
        )

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
        self._emit(
            LifecycleEvent(
                "split",
                child,
                self.step,
                (parent_id,),
                f"spread {spreads[row]:.3f}",
                float(weight * share_b),
            )
        )


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
