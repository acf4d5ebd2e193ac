"""What a user's history feeds: the items it reads, their weightings and the sums'
shape (:meth:`streamrec.model.signals.ItemSignals.history_sums` computes them)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from streamrec.core.decay import decay

HISTORY = 50  # co-occurrence looks at a user's last 50 items (bounded work per event)
RECENT = 10  # recent items whose co-occurrence rows feed the candidates
LAST = 3  # last items whose transitions feed the candidates


@functools.cache
def _history_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Recency (half-life 2 items, newest 1) and "among the last RECENT" weights of a
    history of ``n`` items, oldest first: the same few lengths on every event."""
    recency = decay(n - 1 - np.arange(n), 2.0)
    near = (np.arange(n) >= n - RECENT).astype(np.float64)
    return _read_only(recency), _read_only(near)


@functools.cache
def _last_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The last item's weight alone, and every one of the last ``n`` items' weight."""
    only_last = np.zeros(n)
    only_last[-1:] = 1.0
    return _read_only(only_last), _read_only(np.ones(n))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared between calls
    return array


class HistorySums(NamedTuple):
    """Sparse sums over a user's recent items: sorted columns and values per column.

    Co-occurrence rows of the whole history, weighted by 1/sqrt(count) (``knn``),
    by that times recency (``knn_recent``) and plainly over the last :data:`RECENT`
    items only (``near``: 0 on columns that only older rows hold); transition rows
    of the last :data:`LAST` items, the last one's alone (``transition``: 0 on
    columns only the others hold) and all plainly (``t_near``). Zero entries read
    as absent: every stored cell is positive, so a value is 0 exactly where no row
    with weight holds its column, and adding a 0.0 leaves a sum's bits unchanged.
    """

    cols: np.ndarray
    knn: np.ndarray
    knn_recent: np.ndarray
    near: np.ndarray
    t_cols: np.ndarray
    transition: np.ndarray
    t_near: np.ndarray


def history_weights(
    count: np.ndarray, history: list[int]
) -> tuple[tuple[np.ndarray, ...], list[int], tuple[np.ndarray, np.ndarray]]:
    """The co-occurrence weightings of a history's rows (1/sqrt(count), that times
    recency, the last RECENT), its last items and their transition weightings."""
    inverse = 1.0 / np.sqrt(np.maximum(count[history], 1.0))
    recency, near = _history_weights(len(history))
    last = history[-LAST:]
    return (inverse, inverse * recency, near), last, _last_weights(len(last))
