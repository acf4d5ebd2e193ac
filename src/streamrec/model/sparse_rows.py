"""Rows of a sparse item x item matrix with at most ``limit`` neighbours per row
(heavy hitters): a row that reaches ``2 * limit`` cells is pruned to its ``limit``
largest, so memory is items x limit, not items squared, and the amortised cost of an
update stays constant. Counts of neighbours that were pruned and come back restart
from zero (an underestimate, as in lossy counting).

>>> table = SparseRows(limit=2)
>>> for col, value in ((1, 1.0), (2, 5.0), (1, 1.0)):
...     table.add(0, col, value)
>>> table.rows
{0: {1: 2.0, 2: 5.0}}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from streamrec.core.arrays import unique_inverse
from streamrec.model.kernels import COMPILED, DENSE_SPAN, weighted_cell_sums

NEIGHBOURS = 1024  # default top-M neighbours kept per item


class SparseRows:
    """Rows of a sparse item x item matrix that grow one cell at a time.

    Each row keeps its cells in numpy arrays (columns and values in insertion
    order, with spare capacity) and a column -> slot map, so an update is one
    slot write and a read is two views: the rows of a user's history are summed
    without walking dictionaries, however often they change.
    """

    def __init__(self, limit: int = NEIGHBOURS) -> None:
        if limit < 1:
            raise ValueError(f"neighbours per item must be >= 1, got {limit}")
        self.limit = limit
        self._slots: dict[int, dict[int, int]] = {}  # row -> column -> slot
        self._cols: dict[int, np.ndarray] = {}
        self._vals: dict[int, np.ndarray] = {}
        self._scratch = np.zeros(0, dtype=np.intp)  # sparse_sum's column -> bin buffer

    @property
    def rows(self) -> dict[int, dict[int, float]]:
        """Every row as ``{column: value}`` (a copy, for inspection and state)."""
        return {
            row: dict(zip(*(a.tolist() for a in self.arrays(row)), strict=True))
            for row in self._slots
        }

    def add(self, row: int, col: int, value: float = 1.0) -> None:
        slots = self._slots.get(row)
        if slots is None:
            slots = self._slots[row] = {}
            self._cols[row] = np.zeros(8, dtype=np.int64)
            self._vals[row] = np.zeros(8)
        slot = slots.get(col)
        if slot is not None:
            self._vals[row][slot] += value
            return
        slot = len(slots)
        if slot == self._cols[row].size:
            self._cols[row] = np.concatenate([self._cols[row], np.zeros(slot, dtype=np.int64)])
            self._vals[row] = np.concatenate([self._vals[row], np.zeros(slot)])
        slots[col] = slot
        self._cols[row][slot] = col
        self._vals[row][slot] = value
        if slot + 1 >= 2 * self.limit:
            cols, vals = self.arrays(row)
            self._set_row(
                row, _top(dict(zip(cols.tolist(), vals.tolist(), strict=True)), self.limit)
            )

    def _set_row(self, row: int, cells: dict[int, float]) -> None:
        """Replace a row by ``cells`` (their order is the row's slot order)."""
        capacity = max(8, 2 * len(cells))
        cols, vals = np.zeros(capacity, dtype=np.int64), np.zeros(capacity)
        cols[: len(cells)] = list(cells.keys())
        vals[: len(cells)] = list(cells.values())
        self._slots[row] = {col: n for n, col in enumerate(cells)}
        self._cols[row], self._vals[row] = cols, vals

    def sparse_sum(
        self, rows: list[int], weights: np.ndarray, *more: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """sum_k weights[k] * row(rows[k]) as sorted unique columns and their values;
        each array of ``more`` weighs the same rows again (one more values array each)."""
        parts = [self.arrays(r) for r in rows]
        if not parts:
            return (np.zeros(0, dtype=np.int64), *tuple(np.zeros(0) for _ in range(1 + len(more))))
        cols = np.concatenate([c for c, _ in parts])
        lengths = np.fromiter((c.size for c, _ in parts), dtype=np.int64, count=len(parts))
        vals = np.concatenate([v for _, v in parts])
        if COMPILED:  # one pass, the same sums (kernels.py)
            unique, sums = weighted_cell_sums(cols, vals, lengths, np.array([weights, *more]))
            return (unique, *sums)
        return self._numpy_sum(cols, vals, lengths, [weights, *more])

    def _numpy_sum(
        self, cols: np.ndarray, vals: np.ndarray, lengths: np.ndarray, weights: list[np.ndarray]
    ) -> tuple[np.ndarray, ...]:
        """:meth:`sparse_sum` in numpy, after the rows' cells were joined."""
        span = int(cols.max()) + 1 if cols.size else 0
        if span <= DENSE_SPAN * cols.size:  # many cells over few columns: O(cells + span), no sort
            present = np.zeros(span, dtype=bool)
            present[cols] = True
            unique = np.flatnonzero(present)
            index, bins = cols, span
        else:
            if self._scratch.size < span:
                self._scratch = np.zeros(max(span, 2 * self._scratch.size), dtype=np.intp)
            unique, index = unique_inverse(cols, self._scratch)
            bins = unique.size
        # bincount adds each bin's cells in input order either way: the same sums
        sums = [
            np.bincount(index, weights=vals * np.repeat(w, lengths), minlength=bins)
            for w in weights
        ]
        if bins != unique.size:
            sums = [total[unique] for total in sums]
        return (unique, *sums)

    def arrays(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The row's columns and values in slot order (views: read them before the next add)."""
        slots = self._slots.get(row)
        if slots is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        n = len(slots)
        return self._cols[row][:n], self._vals[row][:n]

    def weighted_sum(self, rows: list[int], weights: np.ndarray, size: int) -> np.ndarray:
        """sum_k weights[k] * row(rows[k]) as a dense vector of ``size``."""
        parts = [self.arrays(r) for r in rows]
        if not parts:
            return np.zeros(size)
        cols = np.concatenate([c for c, _ in parts])
        vals = np.concatenate([v * w for (_, v), w in zip(parts, weights.tolist(), strict=True)])
        keep = cols < size
        return np.bincount(cols[keep], weights=vals[keep], minlength=size)[:size]

    def state(self) -> dict[str, np.ndarray]:
        parts = [(row, *self.arrays(row)) for row in self._slots]
        return {
            "rows": np.concatenate(
                [np.full(c.size, r, dtype=np.int64) for r, c, _ in parts] or [np.zeros(0, np.int64)]
            ),
            "cols": np.concatenate([c for _, c, _ in parts] or [np.zeros(0, np.int64)]),
            "values": np.concatenate([v for _, _, v in parts] or [np.zeros(0)]),
            "limit": self.limit,
        }

    def positions(self) -> dict[int, int]:
        """Each row's place in :meth:`state` (rows are never removed, so a row keeps it)."""
        return {row: n for n, row in enumerate(self._slots)}

    def row_state(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """A row's columns and values in :meth:`state` order (copies: they outlive adds)."""
        cols, values = self.arrays(row)
        return cols.copy(), values.copy()

    @staticmethod
    def segments(state: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row of a :meth:`state`: its place (-1: none), first cell and cell count.
        A row's cells are contiguous and every row holds a cell (a table never empties
        one), so the n-th run of cells is the row at place n (:meth:`positions`)."""
        rows = np.asarray(state["rows"], dtype=np.int64)
        size = int(rows.max()) + 1 if rows.size else 0
        place = np.full(size, -1)
        start, length = np.zeros(size, np.int64), np.zeros(size, np.int64)
        if rows.size:
            first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            owners = rows[first]
            place[owners] = np.arange(first.size)
            start[owners] = first
            length[owners] = np.diff(np.r_[first, rows.size])
        return place, start, length

    @staticmethod
    def join_rows(limit: int, rows: list[tuple[int, int, np.ndarray, np.ndarray]]) -> dict:
        """The :meth:`state` of rows given as (position, row, columns, values): rows in
        the order of their positions, so that a loaded table iterates as the original."""
        rows = sorted(rows, key=lambda entry: entry[0])
        count = sum(len(cols) for _, _, cols, _ in rows)
        state_rows, cols, values = (
            np.zeros(count, np.int64),
            np.zeros(count, np.int64),
            np.zeros(count),
        )
        at = 0
        for _, row, row_cols, row_values in rows:
            end = at + len(row_cols)
            state_rows[at:end], cols[at:end], values[at:end] = row, row_cols, row_values
            at = end
        return {"rows": state_rows, "cols": cols, "values": values, "limit": limit}

    @classmethod
    def from_state(cls, data: dict) -> SparseRows:
        table = cls(int(data.get("limit", NEIGHBOURS)))
        rows: dict[int, dict[int, float]] = defaultdict(dict)
        for i, j, v in zip(
            np.asarray(data["rows"]).tolist(),
            np.asarray(data["cols"]).tolist(),
            np.asarray(data["values"]).tolist(),
            strict=True,
        ):
            rows[i][j] = v
        for i, cells in rows.items():
            table._set_row(i, cells)
        return table

    @staticmethod
    def merge(
        base: dict, mine: dict, theirs: dict, rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> dict:
        """Cells add up: ``theirs + mine - base``, each state re-indexed through its
        ``rows`` mapping (old row -> merged row, -1: dropped); cells near zero go.

        Theirs' rows and cells keep their order (and so their places), and a cell
        this worker did not change keeps theirs' value to the bit: a row only
        theirs changed comes out as theirs.
        """

        def cells(table: dict, mapping: np.ndarray) -> Iterator[tuple[tuple[int, int], float]]:
            for i, j, v in zip(
                mapping[np.asarray(table["rows"], dtype=np.int64)].tolist(),
                mapping[np.asarray(table["cols"], dtype=np.int64)].tolist(),
                np.asarray(table["values"]).tolist(),
                strict=True,
            ):
                if i >= 0 and j >= 0:
                    yield (i, j), v

        change: dict[tuple[int, int], float] = {}  # mine - base: exactly 0 where unchanged
        for key, v in cells(base, rows[0]):
            change[key] = change.get(key, 0.0) - v
        for key, v in cells(mine, rows[1]):
            change[key] = change.get(key, 0.0) + v
        merged: dict[int, dict[int, float]] = defaultdict(dict)
        for (i, j), v in cells(theirs, rows[2]):
            merged[i][j] = v + change.pop((i, j), 0.0)
        for (i, j), v in change.items():  # cells theirs does not have, after theirs'
            merged[i][j] = v
        table = SparseRows(int(mine.get("limit", NEIGHBOURS)))
        for i, row in merged.items():  # the merged row keeps its top-M too
            kept = {j: v for j, v in row.items() if v > 1e-9}
            if kept:
                table._set_row(i, _top(kept, table.limit) if len(kept) > table.limit else kept)
        return table.state()


def _top(cells: dict[int, float], limit: int) -> dict[int, float]:
    """The ``limit`` largest cells (ties: the lower column), as a new row."""
    kept = sorted(cells.items(), key=lambda cell: (-cell[1], cell[0]))[:limit]
    return dict(kept)
