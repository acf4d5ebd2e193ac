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

import numpy as np

from streamrec.core.arrays import run_cells, runs, unique_inverse
from streamrec.model.kernels import COMPILED, DENSE_SPAN, weighted_cell_sums
from streamrec.model.sparse_merge import merge_tables

NEIGHBOURS = 1024  # default top-M neighbours kept per item


class SparseRows:
    """Rows of a sparse item x item matrix that grow one cell at a time.

    Every row's cells live in one arena (columns and values in insertion order,
    each row a run with spare room) and a column -> slot map per row, so an update
    is one slot write, and the rows of a user's history are summed in one compiled
    call that reads the runs in place (no per-row Python, no joined copy). A row
    that outgrows its run moves to the arena's end with twice the room: the runs it
    left behind (8 + 16 + ... cells) are fewer than its room, so the arena holds
    less than twice the rows' room (items x 4 limit at most).
    """

    def __init__(self, limit: int = NEIGHBOURS) -> None:
        if limit < 1:
            raise ValueError(f"neighbours per item must be >= 1, got {limit}")
        self.limit = limit
        self._slots: dict[int, dict[int, int]] = {}  # row -> column -> slot
        self._start = np.zeros(0, dtype=np.int64)  # row -> its run's first cell
        self._size = np.zeros(0, dtype=np.int64)  # row -> cells in use (0: no row)
        self._room = np.zeros(0, dtype=np.int64)  # row -> its run's length
        self._cols = np.zeros(0, dtype=np.int64)  # the arena
        self._vals = np.zeros(0)
        self._end = 0  # the arena's first free cell
        self._span = 0  # above every column ever stored
        self._scratch = np.zeros(0, dtype=np.intp)  # the numpy sum's column -> bin buffer

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
            self._place(row, 8)
        slot = slots.get(col)
        if slot is not None:
            self._vals[self._start[row] + slot] += value
            return
        slot = len(slots)
        if slot == self._room[row]:
            self._place(row, 2 * slot)
        slots[col] = slot
        at = self._start[row] + slot
        self._cols[at] = col
        self._vals[at] = value
        self._size[row] = slot + 1
        if col >= self._span:
            self._span = col + 1
        if slot + 1 >= 2 * self.limit:
            cols, vals = self.arrays(row)
            self._set_row(
                row, _top(dict(zip(cols.tolist(), vals.tolist(), strict=True)), self.limit)
            )

    def _place(self, row: int, room: int) -> None:
        """Give ``row`` a run of ``room`` cells at the arena's end, its cells moved there."""
        self._rows_up_to(row + 1)
        if self._end + room > self._cols.size:  # the arena doubles
            size = max(self._end + room, 2 * self._cols.size, 4096)
            self._cols = np.concatenate([self._cols, np.zeros(size - self._cols.size, np.int64)])
            self._vals = np.concatenate([self._vals, np.zeros(size - self._vals.size)])
        start, size = int(self._start[row]), int(self._size[row])
        end = self._end
        self._cols[end : end + size] = self._cols[start : start + size]
        self._vals[end : end + size] = self._vals[start : start + size]
        self._start[row], self._room[row] = end, room
        self._end = end + room

    def _rows_up_to(self, count: int) -> None:
        """Room in the per-row arrays for rows below ``count`` (new rows hold no cells)."""
        if count <= self._start.size:
            return
        grow = max(count, 2 * self._start.size, 1024) - self._start.size
        self._start = np.concatenate([self._start, np.zeros(grow, dtype=np.int64)])
        self._size = np.concatenate([self._size, np.zeros(grow, dtype=np.int64)])
        self._room = np.concatenate([self._room, np.zeros(grow, dtype=np.int64)])

    def _set_row(self, row: int, cells: dict[int, float]) -> None:
        """Replace a row by ``cells`` (their order is the row's slot order)."""
        if row not in self._slots:
            self._slots[row] = {}
            self._place(row, max(8, 2 * len(cells)))
        elif self._room[row] < len(cells):
            self._place(row, 2 * len(cells))
        start, n = int(self._start[row]), len(cells)
        self._cols[start : start + n] = list(cells.keys())
        self._vals[start : start + n] = list(cells.values())
        self._size[row] = n
        self._slots[row] = {col: k for k, col in enumerate(cells)}
        if cells:
            self._span = max(self._span, max(cells) + 1)

    def sparse_sum(
        self, rows: list[int], weights: np.ndarray, *more: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """sum_k weights[k] * row(rows[k]) as sorted unique columns and their values;
        each array of ``more`` weighs the same rows again (one more values array each)."""
        if not rows:
            return (np.zeros(0, dtype=np.int64), *tuple(np.zeros(0) for _ in range(1 + len(more))))
        cols, vals, starts, lengths, span = self.runs(rows)
        if COMPILED:  # one pass over the runs in place, the same sums (kernels.py)
            unique, sums = weighted_cell_sums(
                cols, vals, lengths, np.array([weights, *more]), starts, span
            )
            return (unique, *sums)
        cells = run_cells(starts, lengths)
        return self._numpy_sum(self._cols[cells], self._vals[cells], lengths, [weights, *more])

    def runs(self, rows: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Where the cells of ``rows`` lie, for a compiled reader: the arena's columns and
        values, each row's first cell and cell count, and a bound above every column."""
        at = np.asarray(rows, dtype=np.int64)
        try:
            return self._cols, self._vals, self._start[at], self._size[at], self._span
        except IndexError:  # rows past the table: none of their cells
            at = np.where(at < self._size.size, at, self._size.size)
            self._rows_up_to(self._size.size + 1)
            return self._cols, self._vals, self._start[at], self._size[at], self._span

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
        if row not in self._slots:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        start = int(self._start[row])
        end = start + int(self._size[row])
        return self._cols[start:end], self._vals[start:end]

    def state(self) -> dict[str, np.ndarray]:
        """Every row's cells in slot order, rows in the order they first held one."""
        order = np.fromiter(self._slots, dtype=np.int64, count=len(self._slots))
        lengths = self._size[order] if order.size else np.zeros(0, np.int64)
        cells = run_cells(self._start[order], lengths) if order.size else np.zeros(0, np.int64)
        return {
            "rows": np.repeat(order, lengths),
            "cols": self._cols[cells],
            "values": self._vals[cells],
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
            first, lengths = runs(rows)
            owners = rows[first]
            place[owners] = np.arange(first.size)
            start[owners], length[owners] = first, lengths
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
        rows = np.asarray(data["rows"], dtype=np.int64)
        cols = np.asarray(data["cols"], dtype=np.int64)
        values = np.asarray(data["values"], dtype=np.float64)
        if not rows.size:
            return table
        first, lengths = runs(rows)
        owners = rows[first]
        if np.bincount(owners).max() > 1 or not table._loadrun_cells(
            owners, first, lengths, cols, values
        ):
            return cls._from_cells(table, rows, cols, values)  # rows split or repeated cells
        return table

    def _loadrun_cells(
        self,
        owners: np.ndarray,
        first: np.ndarray,
        lengths: np.ndarray,
        cols: np.ndarray,
        values: np.ndarray,
    ) -> bool:
        """Lay out rows given as runs of a state in one pass (room as :meth:`_set_row`
        gives); False when a row repeats a column (the state is then read cell by cell)."""
        listed = cols.tolist()
        slots: dict[int, dict[int, int]] = {}
        for row, start, length in zip(
            owners.tolist(), first.tolist(), lengths.tolist(), strict=True
        ):
            slots[row] = dict(zip(listed[start : start + length], range(length), strict=True))
            if len(slots[row]) != length:
                return False
        rooms = np.maximum(8, 2 * lengths)
        starts = np.cumsum(rooms) - rooms
        self._rows_up_to(int(owners.max()) + 1)
        self._start[owners], self._size[owners], self._room[owners] = starts, lengths, rooms
        self._end = int(rooms.sum())
        self._cols = np.zeros(max(self._end, 4096), dtype=np.int64)
        self._vals = np.zeros(self._cols.size)
        at = run_cells(starts, lengths)
        self._cols[at], self._vals[at] = cols, values
        self._span = int(cols.max()) + 1
        self._slots = slots
        return True

    @staticmethod
    def _from_cells(
        table: SparseRows, rows: np.ndarray, cols: np.ndarray, values: np.ndarray
    ) -> SparseRows:
        cells: dict[int, dict[int, float]] = defaultdict(dict)
        for i, j, v in zip(rows.tolist(), cols.tolist(), values.tolist(), strict=True):
            cells[i][j] = v
        for i, row in cells.items():
            table._set_row(i, row)
        return table

    @staticmethod
    def merge(
        base: dict, mine: dict, theirs: dict, rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> dict:
        """Cells add up: ``theirs + mine - base``, each state re-indexed through its
        ``rows`` mapping (old row -> merged row, -1: dropped); cells near zero go, and
        a merged row keeps its top ``limit`` (:func:`streamrec.model.sparse_merge.merge_tables`).

        Theirs' rows and cells keep their order (and so their places), and a cell
        this worker did not change keeps theirs' value to the bit: a row only
        theirs changed comes out as theirs.
        """
        limit = int(mine.get("limit", NEIGHBOURS))
        return merge_tables(base, mine, theirs, rows, limit)


def _top(cells: dict[int, float], limit: int) -> dict[int, float]:
    """The ``limit`` largest cells (ties: the lower column), as a new row."""
    kept = sorted(cells.items(), key=lambda cell: (-cell[1], cell[0]))[:limit]
    return dict(kept)
