import numpy as np
import pytest

from streamrec.clustering import OnlineKMeans


def blobs(
    rng: np.random.Generator, centers: np.ndarray, n: int, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(len(centers), size=n)
    points = centers[labels] + rng.normal(0, noise, (n, centers.shape[1]))
    return points / np.linalg.norm(points, axis=1, keepdims=True), labels


def test_spark_update_rule_on_one_cluster() -> None:
    model = OnlineKMeans(k=1, half_life=4.0, seed=0)
    first = np.array([[1.0, 0.0]])
    model.learn(first)
    batch = np.array([[0.0, 1.0], [0.0, 1.0]])
    model.learn(batch)
    a = 2 ** (-2 / 4.0)
    # c' = (c n a + sum x) / (n a + m) with c = (1, 0) and n = 1 after the first batch
    n = 1.0
    expected_sum = np.array([1.0, 0.0]) * n * a + batch.sum(axis=0)
    np.testing.assert_allclose(model.sums[0], expected_sum)
    np.testing.assert_allclose(model.weights[0], n * a + 2)
    np.testing.assert_allclose(
        model.centers[0], expected_sum / np.linalg.norm(expected_sum), rtol=1e-6
    )


def test_finds_separated_groups() -> None:
    rng = np.random.default_rng(3)
    centers = np.eye(8)[:4]
    points, labels = blobs(rng, centers, 800)
    model = OnlineKMeans(k=4, half_life=500, seed=1)
    for batch in np.array_split(points, 25):
        model.learn(batch)
    predicted = model.predict(points)
    # each true group maps to one cluster id
    for label in range(4):
        assert len(set(predicted[labels == label].tolist())) == 1
    assert len(set(predicted.tolist())) == 4


def test_forgetting_follows_a_shift() -> None:
    rng = np.random.default_rng(0)
    old, _ = blobs(rng, np.eye(4)[:1], 400)
    new, _ = blobs(rng, np.eye(4)[1:2], 400)
    model = OnlineKMeans(k=1, half_life=50, seed=0)
    for batch in np.array_split(old, 20):
        model.learn(batch)
    assert model.centers[0][0] > 0.95
    for batch in np.array_split(new[:200], 10):  # four half-lives
        model.learn(batch)
    assert model.centers[0][1] > 0.9


def test_dying_cluster_is_reseeded_and_reported() -> None:
    rng = np.random.default_rng(0)
    points, _ = blobs(rng, np.eye(3)[:2], 200)
    model = OnlineKMeans(k=2, half_life=20, min_weight=0.5, seed=0)
    model.learn(points[:50])
    model.pop_events()
    only_first, _ = blobs(rng, np.eye(3)[:1], 300)
    lonely, _ = blobs(rng, np.eye(3)[2:3], 5)
    for batch in np.array_split(np.vstack([only_first, lonely]), 30):
        model.learn(batch)
    kinds = [e.kind for e in model.pop_events()]
    assert "died" in kinds and "born" in kinds


def test_time_based_half_life_needs_event_time() -> None:
    model = OnlineKMeans(k=1, half_life=3600, half_life_unit="seconds")
    with pytest.raises(ValueError, match="event time"):
        model.learn(np.array([[1.0, 0.0]]))
    model.learn(np.array([[1.0, 0.0]]), t=0.0)
    model.learn(np.array([[0.0, 1.0]]), t=3600.0)
    np.testing.assert_allclose(model.weights[0], 0.5 + 1.0)


def test_dynamic_mode_splits_wide_and_merges_close_clusters() -> None:
    rng = np.random.default_rng(5)
    points, _ = blobs(rng, np.eye(6)[:4], 1200, noise=0.03)
    model = OnlineKMeans(
        k=2,
        half_life=400,
        seed=0,
        dynamic=True,
        k_min=2,
        k_max=8,
        split_spread=0.2,
        merge_similarity=0.9,
    )
    for batch in np.array_split(points, 40):
        model.learn(batch)
    kinds = {e.kind for e in model.pop_events()}
    assert "split" in kinds
    assert 3 <= len(model.ids) <= 8
    assert len(set(model.ids.tolist())) == len(model.ids)  # ids never reused

    # two groups whose centroids are closer than merge_similarity (cosine 0.958) become one
    near = np.eye(6)[0] + 0.3 * np.eye(6)[1]
    near /= np.linalg.norm(near)
    points, _ = blobs(rng, np.vstack([np.eye(6)[0], near, np.eye(6)[2]]), 300, noise=0.01)
    model = OnlineKMeans(
        k=3,
        half_life=400,
        seed=0,
        dynamic=True,
        k_min=2,
        k_max=8,
        split_spread=0.5,
        merge_similarity=0.9,
    )
    model.learn(points)
    merged = [e for e in model.pop_events() if e.kind == "merged"]
    assert len(merged) == 1
    absorbed, kept = merged[0].cluster_id, merged[0].related[0]
    assert absorbed not in model.ids.tolist() and kept in model.ids.tolist()
    assert model.weights.sum() == pytest.approx(300)  # the absorbed weight moved, none lost
    centroid = model.centers[model.ids.tolist().index(kept)]
    assert centroid @ np.eye(6)[0] > 0.95 and centroid @ near > 0.95  # between the two


def test_state_round_trip_continues_identically() -> None:
    rng = np.random.default_rng(2)
    points, _ = blobs(rng, np.eye(5)[:3], 300)
    a = OnlineKMeans(k=3, half_life=100, seed=4)
    for batch in np.array_split(points[:150], 5):
        a.learn(batch)
    b = OnlineKMeans(k=3, half_life=100, seed=4)
    b.load(a.state())
    for batch in np.array_split(points[150:], 5):
        np.testing.assert_array_equal(a.learn(batch), b.learn(batch))
    np.testing.assert_array_equal(a.sums, b.sums)


def _reseeds(model: OnlineKMeans, away: np.ndarray) -> int:
    """Feed points at cluster row 0 until the others die, then one point towards ``away``
    (still closest to row 0): a dying cluster is reseeded there. Returns the new id."""
    near = model.centers[0].astype(np.float64)
    before = set(model.ids.tolist())
    for _ in range(20):
        model.learn(np.repeat(near[None], 4, axis=0))
    far = 0.3 * near + away
    model.learn(np.vstack([np.repeat(near[None], 3, axis=0), far[None] / np.linalg.norm(far)]))
    born = set(model.ids.tolist()) - before
    assert len(born) == 1
    return born.pop()


def test_a_cluster_born_after_adopting_another_workers_birth_gets_a_new_id() -> None:
    """Ids another worker allocated are taken: a merge moves next_id past them (a worker
    that kept its own next_id gave the next cluster it reseeded an id already in use)."""
    axes = np.eye(6)
    base_model = OnlineKMeans(k=2, half_life=4, seed=0)
    base_model.learn(axes[:2])
    base = base_model.state()
    first, second = OnlineKMeans(k=2, half_life=4, seed=0), OnlineKMeans(k=2, half_life=4, seed=0)
    first.load(base)
    second.load(base)

    born_first = _reseeds(first, axes[2])
    shared = OnlineKMeans.merge(base, first.state(), base)  # the first worker syncs
    second.load(OnlineKMeans.merge(base, second.state(), shared))  # the second adopts it
    assert born_first in second.ids.tolist()
    born_second = _reseeds(second, axes[3])

    assert born_second != born_first
    assert len(set(second.ids.tolist())) == len(second.ids)
