"""One contract, every clusterer (River's pattern): run on each implementation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from streamrec.clustering import Clusterer, OnlineKMeans
from streamrec.clustering.batch import BatchKMeans
from streamrec.clustering.river_clusterers import RiverDBSTREAM, RiverKMeans

FACTORIES: dict[str, Callable[[], Clusterer]] = {
    "online-kmeans": lambda: OnlineKMeans(k=3, half_life=200, seed=7),
    "online-kmeans-dynamic": lambda: OnlineKMeans(
        k=3, half_life=200, seed=7, dynamic=True, k_min=2, k_max=6
    ),
    "river-kmeans": lambda: RiverKMeans(k=3, halflife=0.2, seed=7),
    "river-dbstream": lambda: RiverDBSTREAM(clustering_threshold=0.5, cleanup_interval=50),
    "river-dbstream-recluster-30": lambda: RiverDBSTREAM(
        clustering_threshold=0.5, cleanup_interval=50, recluster_every=30
    ),
    "batch-kmeans": lambda: BatchKMeans(k=3, refit_every=60, seed=7),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request) -> Callable[[], Clusterer]:
    return FACTORIES[request.param]


def three_groups(n: int = 240, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.eye(6)[[0, 2, 4]]
    points = centers[rng.integers(3, size=n)] + rng.normal(0, 0.05, (n, 6))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def feed(model: Clusterer, points: np.ndarray, batch: int = 20) -> list[np.ndarray]:
    return [model.learn(points[s : s + batch]) for s in range(0, len(points), batch)]


def test_shapes(make) -> None:
    model = make()
    points = three_groups()
    outputs = feed(model, points)
    assert all(o.shape == (min(20, len(points) - 20 * i),) for i, o in enumerate(outputs))
    snapshot = model.snapshot()
    assert snapshot.centroids.shape == (len(snapshot.ids), 6)
    assert snapshot.weights.shape == (len(snapshot.ids),)
    np.testing.assert_allclose(np.linalg.norm(snapshot.centroids, axis=1), 1.0, rtol=1e-5)
    assert set(np.concatenate(outputs[-1:]).tolist()) <= set(snapshot.ids.tolist())
    ids, sims = model.predict_top2(points[:10].astype(np.float32))
    assert ids.shape == (10, 2) and sims.shape == (10, 2)
    assert (sims[:, 0] >= sims[:, 1] - 1e-6).all()
    assert model.learn(np.zeros((0, 6))).shape == (0,)


def test_deterministic_with_a_seed(make) -> None:
    points = three_groups()
    a, b = make(), make()
    for out_a, out_b in zip(feed(a, points), feed(b, points), strict=True):
        np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(a.snapshot().centroids, b.snapshot().centroids)
    assert [e.kind for e in a.pop_events()] == [e.kind for e in b.pop_events()]


def test_ids_are_stable_on_a_stationary_stream(make) -> None:
    model = make()
    feed(model, three_groups(600, seed=1))
    probes = three_groups(60, seed=2).astype(np.float32)
    before = model.predict(probes)
    feed(model, three_groups(300, seed=3))
    after = model.predict(probes)
    assert np.mean(before == after) >= 0.9


def test_duplicates(make) -> None:
    model = make()
    point = np.eye(6)[[1]]
    assigned = model.learn(np.repeat(point, 30, axis=0))
    assert len(set(assigned.tolist())) == 1
    snapshot = model.snapshot()
    assert np.isfinite(snapshot.centroids).all()
    assert model.predict(point.astype(np.float32))[0] == assigned[0]


def test_single_point(make) -> None:
    model = make()
    point = np.eye(6)[[3]]
    assigned = model.learn(point)
    assert assigned.shape == (1,)
    assert len(model.snapshot()) >= 1
    ids, sims = model.predict_top2(point.astype(np.float32))
    assert ids[0, 0] == assigned[0]
    if not isinstance(model, RiverKMeans):  # River's centres start at random points
        assert sims[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_state_round_trip_continues_identically(make) -> None:
    points = three_groups(300, seed=4)
    a = make()
    feed(a, points[:160])
    b = make()
    from streamrec.checkpointing.codec import dumps, loads

    b.load(loads(dumps(a.state())))  # through the checkpoint format: no pickle
    for out_a, out_b in zip(feed(a, points[160:]), feed(b, points[160:]), strict=True):
        np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_allclose(a.snapshot().centroids, b.snapshot().centroids, rtol=1e-6)


def test_lifecycle_events_name_existing_ids(make) -> None:
    model = make()
    feed(model, three_groups(400, seed=5))
    events = model.pop_events()
    born = {e.cluster_id for e in events if e.kind in ("born", "split")}
    assert set(model.snapshot().ids.tolist()) <= born
    assert model.pop_events() == []
