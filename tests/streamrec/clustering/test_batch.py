"""BatchKMeans: k is bounded by the distinct points, counted only until there are k."""

from __future__ import annotations

import numpy as np

from streamrec.clustering.batch import BatchKMeans


def unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    points = rng.normal(size=(n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_k_follows_the_distinct_points_and_the_fit_matches_a_fresh_clusterer() -> None:
    rng = np.random.default_rng(3)
    few = unit(rng, 2)
    clusterer = BatchKMeans(k=4, refit_every=5, seed=1)
    clusterer.learn(np.repeat(few, 4, axis=0))  # 8 points, 2 distinct
    assert len(clusterer.snapshot()) == 2
    more = unit(rng, 30)
    for start in range(0, 30, 5):
        clusterer.learn(more[start : start + 5])
    assert len(clusterer.snapshot()) == 4
    fresh = BatchKMeans(k=4, refit_every=1, seed=1)
    fresh.load(clusterer.state())  # counts the distinct points again
    fresh.learn(more[:1])
    again = BatchKMeans(k=4, refit_every=1, seed=1)
    again.load(clusterer.state())
    again._k_distinct = True  # as a clusterer that counted them before
    again.learn(more[:1])
    np.testing.assert_array_equal(fresh.snapshot().centroids, again.snapshot().centroids)
