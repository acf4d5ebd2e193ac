"""ItemSignals.history_sums: the same sums as a fresh computation, kept only while
nothing changed."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.decay import decay
from streamrec.model.history import HISTORY, LAST, RECENT, HistorySums
from streamrec.model.signals import ItemSignals


def fresh_sums(signals: ItemSignals, history: list[int]) -> tuple[np.ndarray, ...]:
    """The sums as computed before they were shared: the features' and the candidates'
    (plain sums of the recent co-occurrence and last transition rows) apart."""
    inverse = 1.0 / np.sqrt(np.maximum(signals.count[history], 1.0))
    recency = decay(len(history) - 1 - np.arange(len(history)), 2.0)
    recent, last = history[-RECENT:], history[-LAST:]
    return (
        *signals.co.sparse_sum(history, inverse, inverse * recency),
        *signals.co.sparse_sum(recent, np.ones(len(recent))),
        *signals.transitions.sparse_sum(history[-1:], np.ones(1)),
        *signals.transitions.sparse_sum(last, np.ones(len(last))),
    )


def filled(seed: int = 0) -> ItemSignals:
    rng = np.random.default_rng(seed)
    signals = ItemSignals(neighbours=8)
    for _ in range(300):
        history = rng.integers(0, 40, size=int(rng.integers(0, 12)))
        signals.observe(int(rng.integers(0, 40)), history)
    return signals


def as_dict(keys: np.ndarray, values: np.ndarray) -> dict[int, float]:
    """A sparse vector without its zero entries (they read as absent)."""
    return {k: v for k, v in zip(keys.tolist(), values.tolist(), strict=True) if v != 0}


def assert_same(got: HistorySums, want: tuple[np.ndarray, ...]) -> None:
    """Bit for bit, zero entries aside (``==`` on floats: no tolerance)."""
    cols, knn, knn_recent, near_cols, near, t_cols, transition, t_near_cols, t_near = want
    np.testing.assert_array_equal(got.cols, cols)  # the same rows: the same columns
    np.testing.assert_array_equal(got.knn, knn)
    np.testing.assert_array_equal(got.knn_recent, knn_recent)
    assert as_dict(got.cols, got.near) == as_dict(near_cols, near)
    assert as_dict(got.t_cols, got.transition) == as_dict(t_cols, transition)
    np.testing.assert_array_equal(got.t_cols, t_near_cols)
    np.testing.assert_array_equal(got.t_near, t_near)
    assert (got.near >= 0).all() and (got.transition >= 0).all()


def test_history_sums_equal_a_fresh_sum_and_are_kept_until_the_signals_change() -> None:
    signals = filled()
    history = [3, 7, 11, 7, 20, 1, 2, 4, 5, 6, 8, 9, 10, 12]  # longer than RECENT
    first = signals.history_sums(history)
    assert_same(first, fresh_sums(signals, history))
    assert signals.history_sums(list(history)) is first  # same state, same history: kept
    with pytest.raises(ValueError):
        first[1][0] = 0.0  # shared: read-only
    assert_same(signals.history_sums([3, 7]), fresh_sums(signals, [3, 7]))
    signals.observe(11, np.array([3, 7, 20]))  # the counts and rows of 3, 7, 11 and 20 move
    moved = signals.history_sums(history)
    assert moved is not first
    assert_same(moved, fresh_sums(signals, history))
    assert not all(np.array_equal(a, b) for a, b in zip(moved, first, strict=True))


def test_a_loaded_state_is_never_answered_from_the_sums_before_it() -> None:
    signals, other = filled(0), filled(1)
    history = [1, 2, 3, 4]
    before = signals.history_sums(history)
    signals.load(other.state())
    assert_same(signals.history_sums(history), fresh_sums(other, history))
    assert signals.history_sums(history) is not before


def test_the_cut_to_the_recent_items_is_made_once_for_every_caller() -> None:
    signals = filled()
    seen = list(range(40)) * 2  # longer than HISTORY
    assert signals.history_sums(seen) is signals.history_sums(seen[-HISTORY:])
    assert_same(signals.history_sums(seen), fresh_sums(signals, seen[-HISTORY:]))
