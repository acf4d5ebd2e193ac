"""The shared helpers of every clusterer: nearest two clusters."""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import Snapshot, top2


def test_one_point_gets_the_same_two_clusters_as_a_batch_of_points() -> None:
    """Small whole numbers make every product exact, so the one-point path and the
    batch path see the same scores, ties (duplicate centroids) included."""
    rng = np.random.default_rng(5)
    for trial in range(300):
        k = int(rng.integers(2, 12))
        centroids = rng.integers(-3, 4, (k, 6)).astype(np.float32)
        if trial % 2:
            centroids[1] = centroids[0]  # a tie for first or second place
        snapshot = Snapshot(
            ids=rng.permutation(50)[:k].astype(np.int64),
            centroids=centroids,
            weights=np.ones(k),
        )
        points = rng.integers(-3, 4, (5, 6)).astype(np.float32)
        ids, sims = top2(snapshot, points)
        for n in range(len(points)):
            one_ids, one_sims = top2(snapshot, points[n : n + 1])
            assert one_ids[0].tolist() == ids[n].tolist()
            assert one_sims[0].tolist() == sims[n].tolist()
            assert one_sims[0, 0] >= one_sims[0, 1]
