import numpy as np
import pytest

from streamrec.core.decay import DecayedCounts, decay


def test_half_life_halves() -> None:
    assert decay(10, 10) == pytest.approx(0.5)
    assert decay(0, 10) == 1.0


def test_forward_decay_matches_eager_decay_over_a_long_run() -> None:
    rng = np.random.default_rng(1)
    counts = DecayedCounts(half_life=3.0, capacity=4)
    eager = np.zeros(4)
    for t in range(1, 3000):  # 1000 half-lives: the base must move without overflow
        index = rng.integers(4)
        eager *= 2 ** (-1 / 3.0)
        eager[index] += 1.0
        counts.add(np.array([index]), np.array([1.0]), float(t))
    assert np.all(np.isfinite(counts.stored))
    np.testing.assert_allclose(counts.values(2999.0), eager, rtol=1e-9)


def test_grow_keeps_values() -> None:
    counts = DecayedCounts(half_life=5.0, capacity=2, rows=1)
    counts.add((np.array([0]), np.array([1])), np.array([2.0]), 0.0)
    counts.ensure(9, rows=3)
    assert counts.stored.shape[0] >= 3 and counts.size >= 9
    assert counts.values(0.0)[0, 1] == 2.0


def test_adding_one_weight_gives_the_bits_of_adding_it_as_arrays() -> None:
    rng = np.random.default_rng(2)
    flat, flat_one = DecayedCounts(7.0, capacity=8), DecayedCounts(7.0, capacity=8)
    grid, grid_one = (DecayedCounts(7.0, capacity=8, rows=3) for _ in range(2))
    for t in range(1, 5000):  # past a rebase (every 300 half-lives)
        row, col, weight = int(rng.integers(3)), int(rng.integers(8)), float(rng.random())
        flat.add(np.array([col]), np.array([weight]), float(t))
        flat_one.add_one(col, weight, float(t))
        grid.add((np.array([row]), np.array([col])), np.array([weight]), float(t))
        grid_one.add_one((row, col), weight, float(t))
    assert flat.t0 > 0 and flat_one.t0 == flat.t0
    assert flat_one.stored.tobytes() == flat.stored.tobytes()
    assert grid_one.stored.tobytes() == grid.stored.tobytes()
