"""Compiled loops for the per-event hot path (numba); their callers keep the numpy code.

A user's history sums (:meth:`streamrec.model.sparse_rows.SparseRows.sparse_sum`)
run at every first engagement and every list a user is served; in numpy they are a
dozen passes over the history's cells (repeat, multiply, bincount per weighting,
then a gather per sum). :func:`weighted_cell_sums` makes one pass, adding the same
products in the same order, so the sums are the same to the bit (a test compares
both on random tables); the feature matrix's loop is in
:mod:`streamrec.model.feature_kernel`. Where numba cannot be imported the
callers' numpy code runs (:data:`COMPILED` says which).

>>> cols, vals = np.array([5, 2, 5]), np.array([1.0, 2.0, 4.0])
>>> weights = np.array([[1.0, 0.5]])  # one weighting; row 0 holds 2 cells, row 1 one
>>> unique, sums = weighted_cell_sums(cols, vals, np.array([2, 1]), weights)
>>> unique.tolist(), sums.tolist()
([2, 5], [[2.0, 3.0]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; the numpy path remains
    numba = None

COMPILED = numba is not None
DENSE_SPAN = 4  # columns found by a scan of their span when it is at most 4x the cells


# the lowest set bit's place in a 64-bit word: de Bruijn multiply and look-up
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_BIT_PLACE = np.array(
    [0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
     62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
     63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
     46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6],
    dtype=np.int64,
)  # fmt: skip


_ONE = np.uint64(1)
_TOP6 = np.uint64(58)  # a de Bruijn product's top six bits name the place


def _lowest_bit_place(word: np.uint64) -> int:
    """The place (0-63) of the lowest set bit of a non-zero ``word``."""
    return _BIT_PLACE[((word & (~word + _ONE)) * _DEBRUIJN) >> _TOP6]


def _mark_bit(bits: np.ndarray, summary: np.ndarray, col: int) -> None:
    """Set ``col``'s bit in ``bits`` and its word's bit in ``summary``."""
    word = col >> 6
    bits[word] |= _ONE << np.uint64(col & 63)
    summary[word >> 6] |= _ONE << np.uint64(word & 63)


def _drain_bits(bits: np.ndarray, summary: np.ndarray, span: int, out: np.ndarray) -> int:
    """Write the set bits' places below ``span`` to ``out`` in order, zero both bitmaps
    (only the words ``summary`` marks are read) and return how many were set."""
    n = 0
    for group in range((span + 4095) >> 12):
        words = summary[group]
        summary[group] = 0
        while words != 0:
            word = (group << 6) + _lowest(words)
            words &= words - _ONE  # the lowest set bit cleared
            x = bits[word]
            bits[word] = 0
            while x != 0:
                out[n] = (word << 6) + _lowest(x)
                n += 1
                x &= x - _ONE
    return n


_lowest: Any = numba.njit(cache=True)(_lowest_bit_place) if numba is not None else None
_mark: Any = numba.njit(cache=True)(_mark_bit) if numba is not None else None
_drain: Any = numba.njit(cache=True)(_drain_bits) if numba is not None else None


def _sum_cells(
    cols: np.ndarray,
    vals: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    acc: np.ndarray,
    touched: np.ndarray,
    bits: np.ndarray,
    summary: np.ndarray,
    span: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per weighting ``j``: sum over rows ``k`` of ``weights[j, k] * vals`` of the row's
    cells (``lengths[k]`` of them from ``starts[k]``), per column. ``acc`` (at least
    ``span`` x weightings zeros: a column's sums side by side) and the column marks are
    zeroed scratch, left as they were found. The columns (all below ``span``) come out
    sorted without a sort: with many cells over few columns they are marked in
    ``touched`` (as many False as ``acc`` has rows) and all ``span`` is scanned;
    otherwise in the bitmap ``bits``, whose non-zero words ``summary`` marks, read off
    in order (only the words a column fell in)."""
    n_weights = weights.shape[0]
    weight = np.empty(n_weights)
    total = 0
    for row in range(lengths.size):
        total += lengths[row]
    dense = span <= DENSE_SPAN * total
    for row in range(lengths.size):
        for j in range(n_weights):
            weight[j] = weights[j, row]
        cell = starts[row]
        for _ in range(lengths[row]):
            col = cols[cell]
            value = vals[cell]
            if dense:
                touched[col] = True
            else:
                _mark(bits, summary, col)
            for j in range(n_weights):
                if weight[j] != 0.0:  # adding a 0.0 product leaves a sum's bits as they are
                    acc[col, j] += value * weight[j]  # bincount's product, in its order
            cell += 1
    unique = np.empty(min(total, span), np.int64)
    n = 0
    if dense:
        for col in range(span):
            if touched[col]:
                touched[col] = False
                unique[n] = col
                n += 1
    else:
        n = _drain(bits, summary, span, unique)
    sums = np.empty((n_weights, n))
    for k in range(n):
        col = unique[k]
        for j in range(n_weights):
            sums[j, k] = acc[col, j]
            acc[col, j] = 0.0
    return unique[:n].copy(), sums


_compiled: Any = numba.njit(cache=True)(_sum_cells) if numba is not None else None


class _Scratch:
    """Zeroed buffers the compiled loops borrow (grown by doubling, never shrunk; the
    GIL is held throughout, so one call uses them at a time)."""

    acc = np.zeros((0, 0))
    touched = np.zeros(0, dtype=np.bool_)
    bits = np.zeros(0, dtype=np.uint64)
    summary = np.zeros(0, dtype=np.uint64)

    @classmethod
    def ensure(cls, span: int, columns: int = 1) -> None:
        """Room for values below ``span`` (and ``columns`` sums per value in ``acc``)."""
        if cls.acc.shape[0] >= span and cls.acc.shape[1] >= columns:
            return
        size = max(span, 2 * cls.acc.shape[0])
        cls.acc = np.zeros((size, max(columns, cls.acc.shape[1])))
        cls.touched = np.zeros(size, dtype=np.bool_)
        cls.bits = np.zeros((size + 63) // 64, dtype=np.uint64)
        cls.summary = np.zeros((size + 4095) // 4096, dtype=np.uint64)


def weighted_cell_sums(
    cols: np.ndarray,
    vals: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    starts: np.ndarray | None = None,
    span: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique columns of the rows' cells and, per row of ``weights`` (weightings x
    rows), the sums ``sum_k weights[j, k] * cells of row k`` at each column (weightings x
    columns).

    Row ``k`` holds the ``lengths[k]`` cells of ``cols``/``vals`` from ``starts[k]``
    (default: the rows one after another); ``span``: above every column (default: the
    cells' maximum + 1). Needs numba (:data:`COMPILED`); callers keep their numpy code
    for when it is missing."""
    if _compiled is None:
        raise RuntimeError("numba is not installed: use the numpy path")
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if starts is None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if lengths.size else lengths
    if span is None:
        span = int(cols.max()) + 1 if cols.size else 0
    _Scratch.ensure(span, weights.shape[0])
    return _compiled(
        np.ascontiguousarray(cols, dtype=np.int64),
        np.ascontiguousarray(vals, dtype=np.float64),
        np.ascontiguousarray(starts, dtype=np.int64),
        lengths,
        np.ascontiguousarray(weights, dtype=np.float64),
        _Scratch.acc,
        _Scratch.touched,
        _Scratch.bits,
        _Scratch.summary,
        span,
    )


def _sum_two(
    cols: np.ndarray,
    vals: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray,
    span: int,
    cols2: np.ndarray,
    vals2: np.ndarray,
    starts2: np.ndarray,
    lengths2: np.ndarray,
    weights2: np.ndarray,
    span2: int,
    acc: np.ndarray,
    touched: np.ndarray,
    bits: np.ndarray,
    summary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_sum_cells` of two tables' rows in one call (the scratch is zeroed again
    between them)."""
    unique, sums = _compiled(
        cols, vals, starts, lengths, weights, acc, touched, bits, summary, span
    )
    unique2, sums2 = _compiled(
        cols2, vals2, starts2, lengths2, weights2, acc, touched, bits, summary, span2
    )
    return unique, sums, unique2, sums2


_two: Any = numba.njit(cache=True)(_sum_two) if numba is not None else None


def weighted_cell_sums_of_two(
    first: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray],
    second: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`weighted_cell_sums` of two tables at once (one call: a user's history reads
    co-occurrence and transition rows together). Each table is given as
    :meth:`~streamrec.model.sparse_rows.SparseRows.runs` answers (cols, vals, starts,
    lengths, span) plus the weights (float64, weightings x rows); the answer is both
    (columns, sums) pairs."""
    if _two is None:
        raise RuntimeError("numba is not installed: use the numpy path")
    cols, vals, starts, lengths, span, weights = first
    cols2, vals2, starts2, lengths2, span2, weights2 = second
    _Scratch.ensure(max(span, span2), max(weights.shape[0], weights2.shape[0]))
    return _two(
        cols, vals, starts, lengths, weights, span,
        cols2, vals2, starts2, lengths2, weights2, span2,
        _Scratch.acc, _Scratch.touched, _Scratch.bits, _Scratch.summary,
    )  # fmt: skip


def _union_rows(
    rows: np.ndarray,
    ends: np.ndarray,
    cuts: np.ndarray,
    seen: np.ndarray,
    touched: np.ndarray,
    bits: np.ndarray,
    summary: np.ndarray,
    span: int,
    size: int,
) -> np.ndarray:
    """The sorted distinct rows kept of parts (``rows[ends[p-1]:ends[p]]``), each cut to
    its first ``cuts[p]`` rows outside ``seen``, at most ``size`` (the lowest). The
    scratch (``touched``: marks of ``seen``; the bitmaps: the rows kept) is zeroed and
    left so; every value is below ``span``."""
    for row in seen:
        touched[row] = True
    start = 0
    for part in range(ends.size):
        kept = 0
        for at in range(start, ends[part]):
            if kept == cuts[part]:
                break
            row = rows[at]
            if not touched[row]:
                _mark(bits, summary, row)
                kept += 1
        start = ends[part]
    for row in seen:
        touched[row] = False
    out = np.empty(min(rows.size, span), np.int64)
    n = _drain(bits, summary, span, out)
    return out[: min(n, size)].copy()


_union: Any = numba.njit(cache=True)(_union_rows) if numba is not None else None


def union_rows(parts: list[np.ndarray], cuts: list[int], seen: np.ndarray, size: int) -> np.ndarray:
    """Each part without ``seen`` rows, cut to its first ``cuts`` rows; the sorted union
    of what is kept, at most ``size`` rows (the lowest). Needs numba (:data:`COMPILED`).

    >>> union_rows([np.array([9, 4, 7]), np.array([4, 2])], [2, 5], np.array([4]), 10)
    array([2, 7, 9])
    """
    if _union is None:
        raise RuntimeError("numba is not installed: use the numpy path")
    rows = np.concatenate(parts).astype(np.int64, copy=False)
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    seen = np.ascontiguousarray(seen, dtype=np.int64)
    span = max(int(rows.max()), int(seen.max()) if seen.size else 0) + 1
    _Scratch.ensure(span)
    ends = np.cumsum(np.fromiter((p.size for p in parts), dtype=np.int64, count=len(parts)))
    return _union(
        rows,
        ends,
        np.asarray(cuts, dtype=np.int64),
        seen,
        _Scratch.touched,
        _Scratch.bits,
        _Scratch.summary,
        span,
        size,
    )
