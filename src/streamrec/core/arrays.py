"""Set operations on integer row arrays, sort-based; row norms without the overhead of
``np.linalg.norm``.

numpy 2.3+ routes ``np.unique`` through a hash table before sorting; on the few
thousand int64 rows a candidate union holds that is 4-10x slower than one sort
(measured: 864 us against about 100 us for 8,000 rows). These return exactly what
``np.unique`` / ``np.isin`` return, and tests hold them to it.

>>> unique_rows(np.array([5, 1, 5, 3])).tolist()
[1, 3, 5]
>>> values, index = unique_inverse(np.array([5, 1, 5, 3]))
>>> values.tolist(), index.tolist()
([1, 3, 5], [2, 0, 2, 1])
>>> values, index = unique_inverse(np.array([5, 1, 5, 3]), scratch=np.zeros(6, np.intp))
>>> values.tolist(), index.tolist()
([1, 3, 5], [2, 0, 2, 1])
>>> member_of(np.array([4, 2, 9]), np.array([9, 4])).tolist()
[True, False, True]
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


def _first_of_runs(ordered: np.ndarray) -> np.ndarray:
    mask = np.empty(ordered.size, dtype=bool)
    mask[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=mask[1:])
    return mask


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first index and the length of each run of equal neighbours in a 1-d array.

    >>> [a.tolist() for a in runs(np.array([4, 4, 7, 4]))]
    [[0, 2, 3], [2, 1, 1]]
    """
    first = np.flatnonzero(_first_of_runs(values))
    return first, np.diff(np.r_[first, values.size])


def run_cells(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions of runs (``starts[k]``, ``lengths[k]`` long), one after another.

    >>> run_cells(np.array([10, 3]), np.array([2, 3])).tolist()
    [10, 11, 3, 4, 5]
    """
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def unique_rows(rows: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array (``np.unique(rows)``)."""
    ordered = np.sort(rows)
    return ordered[_first_of_runs(ordered)]


def unique_inverse(
    rows: np.ndarray, scratch: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, return_inverse=True)`` for a 1-d array.

    ``scratch``: an integer array longer than ``rows.max()`` that may be overwritten
    (a caller's reused buffer); the inverse is then one gather through it after an
    unstable sort, 4-7x faster than the stable argsort on a few thousand rows."""
    if scratch is not None:
        ordered = np.sort(rows)
        unique = ordered[_first_of_runs(ordered)]
        scratch[unique] = np.arange(unique.size)
        return unique, scratch[rows]
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    first = _first_of_runs(ordered)
    index = np.empty(rows.size, dtype=np.intp)
    index[order] = np.cumsum(first) - 1
    return ordered[first], index


BLOCK_ROWS = 8192  # rows compared at once by rows_differ


def rows_differ(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Per row ``r < n``: whether row ``r`` of ``a`` and of ``b`` differ (any value of a
    multi-dimensional row). Views compared in blocks: no temporaries the size of the
    arrays, which at 10^5 items x 384 floats are 150 MB.

    >>> rows_differ(np.array([[1, 2], [3, 4], [5, 6]]), np.array([[1, 2], [3, 0], [5, 6]]), 3)
    array([False,  True, False])
    """
    out = np.zeros(n, dtype=bool)
    for start in range(0, n, BLOCK_ROWS):
        at = slice(start, min(start + BLOCK_ROWS, n))
        out[at] = (a[at] != b[at]).reshape(at.stop - at.start, -1).any(axis=1)
    return out


def member_of(rows: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Whether each of ``rows`` is in ``pool`` (``np.isin(rows, pool)``)."""
    if pool.size == 0 or rows.size == 0:
        return np.zeros(rows.shape, dtype=bool)
    ordered = np.sort(pool)
    at = np.searchsorted(ordered, rows)
    at[at == ordered.size] = 0
    return ordered[at] == rows


def row_norms(matrix: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a real 2-d array, as a column: the very sums of
    ``np.linalg.norm(matrix, axis=-1, keepdims=True)`` (squares, then ``add.reduce``)
    without its argument handling, which costs more than the sum on one 384-d row."""
    return np.sqrt(np.add.reduce(matrix * matrix, axis=-1, keepdims=True))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (zero rows stay zero)."""
    return matrix / np.maximum(row_norms(matrix), 1e-12)


def rows_in(order: dict[str, int], ids: list[str | None]) -> np.ndarray:
    """Each id's row in ``order`` (-1: absent or None): where a state's rows go in a merge.

    The longest prefix of ``ids`` that is also the prefix of ``order``'s keys (a
    merge keeps theirs' rows first) maps without a lookup per id.

    >>> rows_in({"a": 0, "b": 1}, ["b", None, "c", "a"]).tolist()
    [1, -1, -1, 0]
    >>> rows_in({"a": 0, "b": 1, "c": 2}, ["a", "b", "d"]).tolist()
    [0, 1, -1]
    """
    numbered = np.fromiter(order.values(), dtype=np.int64, count=len(order))
    in_order = np.array_equal(numbered, np.arange(len(order)))  # key n at row n
    same = common_prefix(list(order), ids) if in_order else 0
    rest = np.fromiter(
        (order.get(i, -1) if i is not None else -1 for i in ids[same:]),
        dtype=np.int64,
        count=len(ids) - same,
    )
    return np.concatenate([np.arange(same, dtype=np.int64), rest])


def common_prefix(a: list, b: list) -> int:
    """The length of the longest common prefix (list comparisons run in C)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while low < high:  # a[:low] matches, a[:high] does not
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


_IMMUTABLE = (str, bytes, int, float, bool, complex, type(None), np.generic)


def copy_state(state: object) -> object:
    """A copy of a nested state (dicts, lists, tuples, arrays) sharing nothing mutable
    with it: what ``copy.deepcopy`` gives, without its per-object memo walk. A list of
    ids is copied in one step (strings are immutable), so a state of 10^5 items costs
    array copies, not 10^5 Python calls.

    >>> state = {"ids": ["a", "b"], "sums": np.zeros(2), "rows": [[1], [2]]}
    >>> copied = copy_state(state)
    >>> copied["rows"][0].append(3); copied["sums"][0] = 1.0
    >>> state["rows"][0], float(state["sums"][0])
    ([1], 0.0)
    """
    kind = type(state)
    if kind is np.ndarray:
        return state.copy()  # type: ignore[union-attr]
    if kind is dict:
        return {key: copy_state(value) for key, value in state.items()}  # type: ignore[union-attr]
    if kind is list or kind is tuple:
        items: list | tuple = state  # type: ignore[assignment]
        if all(isinstance(item, _IMMUTABLE) for item in items):
            return list(items) if kind is list else items
        copied = [copy_state(item) for item in items]
        return copied if kind is list else tuple(copied)
    if isinstance(state, _IMMUTABLE):
        return state
    return copy.deepcopy(state)  # anything else (subclasses too): the general copy


@contextmanager
def small_pages() -> Iterator[None]:
    """New numpy arrays get the kernel's normal pages while inside (numpy's default is
    to ask for huge pages on every array of 4 MB or more).

    For bursts of short-lived (items x dim) arrays, as a checkpoint's merge makes:
    where the kernel compacts memory to hand out huge pages (transparent huge pages on
    madvise, Debian's default), each such array stalled for up to a second in a worker
    that had run a while, longer than it took to fill. Long-lived arrays made outside
    keep huge pages: their rows are gathered at every batch, and fewer TLB misses make
    the worker's batches faster (``benchmarks/results/README.md``)."""
    switch = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    if switch is None:  # a numpy without the switch: nothing to change
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)
