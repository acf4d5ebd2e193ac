"""What a learning step's features read of a user's history sums, without the sums.

A first engagement featurises 11 rows (the pick and its negatives), yet the
kNN and transition columns need the history's sums over thousands of cells:
their values at those rows and, as normalisers, their maxima. Sorting every
column of the sums (:func:`streamrec.model.kernels.weighted_cell_sums_of_two`)
is most of a learning step's cost. :func:`read_history` adds the same products
in the same order into a dense scratch, finds each maximum over the distinct
columns met and keeps only the columns the rows and the maxima are on, so
:func:`streamrec.model.feature_kernel.fill_features` reads the same values and
the same normalisers: the features are the same to the bit.

>>> cols, vals = np.array([5, 2, 5, 7]), np.array([1.0, 2.0, 4.0, 3.0])
>>> co = (cols, vals, np.array([0, 2]), np.array([2, 1]), 8)  # row 0: cells 0-1, row 1: 2
>>> weights = np.array([[1.0, 0.5], [1.0, 1.0]])  # kNN and recent weightings of the rows
>>> t = (cols, vals, np.array([3]), np.array([1]), 8)  # one transition row: column 7
>>> reads = read_history(co, weights, t, np.ones(1), np.ones(8), 8, np.array([2]))
>>> reads.cols.tolist(), reads.knn.tolist(), reads.t_cols.tolist(), reads.transition.tolist()
([2, 5], [2.0, 3.0], [2, 7], [0.0, 3.0])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from streamrec.model.kernels import numba


class HistoryReads(NamedTuple):
    """The entries of :class:`~streamrec.model.signals.HistorySums` the features of some
    rows read: the rows' columns and those of the maxima, sorted, and their sums."""

    cols: np.ndarray
    knn: np.ndarray
    knn_recent: np.ndarray
    t_cols: np.ndarray
    transition: np.ndarray


def _add_cells(
    cols: np.ndarray,
    vals: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    acc: np.ndarray,
    touched: np.ndarray,
) -> np.ndarray:
    """``acc[col, j] += value * weights[j, row]`` over the rows' cells, in the order and
    with the zero-weight skip of :func:`streamrec.model.kernels._sum_cells`; returns the
    distinct columns in the order first met (marked in ``touched``)."""
    total = 0
    for row in range(lengths.size):
        total += lengths[row]
    unique = np.empty(total, np.int64)
    n = 0
    for row in range(lengths.size):
        cell = starts[row]
        for _ in range(lengths[row]):
            col = cols[cell]
            if not touched[col]:
                touched[col] = True
                unique[n] = col
                n += 1
            value = vals[cell]
            for j in range(weights.shape[0]):
                weight = weights[j, row]
                if weight != 0.0:
                    acc[col, j] += value * weight
            cell += 1
    return unique[:n]


def _clear(unique: np.ndarray, acc: np.ndarray, touched: np.ndarray) -> None:
    for col in unique:
        touched[col] = False
        acc[col, 0] = 0.0
        acc[col, 1] = 0.0


def _kept(rows: np.ndarray, size: int, extra: np.ndarray) -> np.ndarray:
    """Sorted distinct rows below ``size`` and the non-negative ``extra`` columns."""
    keep = np.empty(rows.size + extra.size, np.int64)
    n = 0
    for r in rows:
        if r < size:
            keep[n] = r
            n += 1
    for col in extra:
        if col >= 0:
            keep[n] = col
            n += 1
    return np.unique(keep[:n])


def _read(
    cols: np.ndarray,
    vals: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    t_cols: np.ndarray,
    t_vals: np.ndarray,
    t_starts: np.ndarray,
    t_lengths: np.ndarray,
    t_weights: np.ndarray,
    count: np.ndarray,
    size: int,
    rows: np.ndarray,
    acc: np.ndarray,
    touched: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`read_history` compiled; ``acc`` and ``touched`` are zeroed scratch, left so.
    The maxima are those of the sums below ``size`` (kNN and recent divided by
    ``sqrt(max(count, 1))`` as the features divide): a maximum does not depend on the
    order its values are met in."""
    unique = _add_cells(cols, vals, starts, lengths, weights, acc, touched)
    tops = np.full(3, -1)
    top_knn, top_recent = 0.0, 0.0
    for col in unique:
        if col >= size:
            continue
        norm = np.sqrt(max(count[col], 1.0))
        knn, recent = acc[col, 0] / norm, acc[col, 1] / norm
        if tops[0] < 0 or knn > top_knn:
            tops[0], top_knn = col, knn
        if tops[1] < 0 or recent > top_recent:
            tops[1], top_recent = col, recent
    keep = _kept(rows, size, tops)
    knn_sums, recent_sums = acc[keep, 0].copy(), acc[keep, 1].copy()
    _clear(unique, acc, touched)
    unique = _add_cells(t_cols, t_vals, t_starts, t_lengths, t_weights, acc, touched)
    top_t = 0.0
    for col in unique:
        if col < size and (tops[2] < 0 or acc[col, 0] > top_t):
            tops[2], top_t = col, acc[col, 0]
    t_keep = _kept(rows, size, tops[2:])
    transition = acc[t_keep, 0].copy()
    _clear(unique, acc, touched)
    return keep, knn_sums, recent_sums, t_keep, transition


_compiled: Any = None
if numba is not None:
    _add_cells = numba.njit(cache=True)(_add_cells)
    _clear = numba.njit(cache=True)(_clear)
    _kept = numba.njit(cache=True)(_kept)
    _compiled = numba.njit(cache=True)(_read)


class _Scratch:
    """Zeroed between calls; grown by doubling, never shrunk."""

    acc = np.zeros((0, 2))
    touched = np.zeros(0, dtype=np.bool_)


Runs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]


def read_history(
    co: Runs,
    co_weights: np.ndarray,
    transitions: Runs,
    t_weights: np.ndarray,
    count: np.ndarray,
    size: int,
    rows: np.ndarray,
) -> HistoryReads:
    """The kNN (``co_weights[0]``), recent (``[1]``) and transition (``t_weights``) sums
    of a history at ``rows`` and at the columns holding each one's maximum (the kNN
    ones divided by ``sqrt(max(count, 1))``), columns below ``size`` only.

    ``co`` and ``transitions`` are :meth:`~streamrec.model.sparse_rows.SparseRows.runs`
    answers (cols, vals, starts, lengths, span), the weights one row per weighting.
    Needs numba (:data:`streamrec.model.kernels.COMPILED`)."""
    if _compiled is None:
        raise RuntimeError("numba is not installed: use the numpy path")
    span = max(co[4], transitions[4], size)  # the rows are read too: below size
    if min(_Scratch.acc.shape[0], _Scratch.touched.size) < span:
        grown = max(span, 2 * _Scratch.acc.shape[0])
        _Scratch.acc, _Scratch.touched = np.zeros((grown, 2)), np.zeros(grown, dtype=np.bool_)
    return HistoryReads(
        *_compiled(
            *co[:4],
            np.ascontiguousarray(co_weights[:2], dtype=np.float64),
            *transitions[:4],
            np.ascontiguousarray(t_weights, dtype=np.float64).reshape(1, -1),
            count,
            size,
            np.asarray(rows, dtype=np.int64),
            _Scratch.acc,
            _Scratch.touched,
        )
    )
