"""ItemSignals.history_sums: the same sums as a fresh computation, kept only while
nothing changed."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.decay import decay
from streamrec.model.signals import ItemSignals


def fresh_sums(signals: ItemSignals, history: list[int]) -> tuple[np.ndarray, ...]:
    inverse = 1.0 / np.sqrt(np.maximum(signals.count[history], 1.0))
    recency = decay(len(history) - 1 - np.arange(len(history)), 2.0)
    return (
        *signals.co.sparse_sum(history, inverse, inverse * recency),
        *signals.transitions.sparse_sum(history[-1:], np.ones(1)),
    )


def filled(seed: int = 0) -> ItemSignals:
    rng = np.random.default_rng(seed)
    signals = ItemSignals(neighbours=8)
    for _ in range(300):
        history = rng.integers(0, 40, size=int(rng.integers(0, 12)))
        signals.observe(int(rng.integers(0, 40)), history)
    return signals


def assert_same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    assert len(got) == len(want) == 5
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_history_sums_equal_a_fresh_sum_and_are_kept_until_the_signals_change() -> None:
    signals = filled()
    history = [3, 7, 11, 7, 20]
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
