"""The 3-way merge of two workers' neighbour tables (:meth:`SparseRows.merge`), in numpy.

Cells add up: ``theirs + (mine - base)``, each state's rows and columns first
mapped to the merged item rows. Cell by cell in dicts, a merge at 10^5 items
walked millions of cells in Python (~0.5 s a table). Here the rows that mine
and base hold alike (this worker did not touch them since its last sync) pass
theirs' cells through, and only the others are keyed and summed. The float
steps and every order are the dict algorithm's: ``change = (0 - base) + mine``
in base-then-mine order, ``theirs + change`` (``+ 0.0`` where none), theirs'
rows and cells first, cells theirs lacks after them in the change's order, cells
of at most ``1e-9`` dropped, a row over ``limit`` cut to its largest (ties: the
lower column). The result is the same state to the bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from streamrec.core.arrays import run_cells, runs

DROP_BELOW = 1e-9  # merged cells at or under this are gone (a change that cancelled out)


class Cells(NamedTuple):
    """A table's cells mapped to merged rows (row, column, value), in state order."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray

    def where(self, keep: np.ndarray) -> Cells:
        return Cells(self.rows[keep], self.cols[keep], self.values[keep])


def merge_tables(
    base: dict, mine: dict, theirs: dict, rows: tuple[np.ndarray, ...], limit: int
) -> dict:
    """The :meth:`SparseRows.state` of ``theirs + mine - base`` (see the module)."""
    size = max((int(mapping.max()) + 1 if mapping.size else 0) for mapping in rows)
    states = zip((base, mine, theirs), rows, strict=True)
    b, m, t = (_mapped(table, mapping) for table, mapping in states)
    touched = _rows_differ(b, m, size)
    b, m = b.where(touched[b.rows]), m.where(touched[m.rows])
    # change = mine - base on the touched rows, one entry per cell, in the dicts' order
    keys = np.concatenate([b.rows * size + b.cols, m.rows * size + m.cols])
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    change = np.zeros(unique.size)
    change[inverse[: b.rows.size]] = 0.0 - b.values
    at_mine = inverse[b.rows.size :]
    change[at_mine] = change[at_mine] + m.values
    # theirs' cells take their change (+ 0.0 where none), the others follow in order
    their_keys = t.rows * size + t.cols
    place = np.minimum(np.searchsorted(unique, their_keys), max(unique.size - 1, 0))
    hit = unique[place] == their_keys if unique.size else np.zeros(their_keys.size, bool)
    t = Cells(t.rows, t.cols, t.values + np.where(hit, change[place] if unique.size else 0.0, 0.0))
    used = np.zeros(unique.size, dtype=bool)
    used[place[hit]] = True
    extra = np.flatnonzero(~used)
    extra = extra[np.argsort(first[extra], kind="stable")]
    others = Cells(unique[extra] // size, unique[extra] % size, change[extra])
    merged = _joined(t, others, size)
    merged = merged.where(merged.values > DROP_BELOW)
    merged = _cut(merged, limit)
    return {"rows": merged.rows, "cols": merged.cols, "values": merged.values, "limit": limit}


def _mapped(table: dict, mapping: np.ndarray) -> Cells:
    rows = mapping[np.asarray(table["rows"], dtype=np.int64)]
    cols = mapping[np.asarray(table["cols"], dtype=np.int64)]
    keep = (rows >= 0) & (cols >= 0)
    return Cells(rows[keep], cols[keep], np.asarray(table["values"], dtype=np.float64)[keep])


def _row_runs(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's first cell and cell count; None when a row's cells are not one run."""
    start, length = np.zeros(size, np.int64), np.zeros(size, np.int64)
    if rows.size:
        first, lengths = runs(rows)
        owners = rows[first]
        if np.bincount(owners, minlength=size).max() > 1:
            return None
        start[owners], length[owners] = first, lengths
    return start, length


def _rows_differ(a: Cells, b: Cells, size: int) -> np.ndarray:
    """Per merged row: whether ``a`` and ``b`` hold other cells, or the same in another
    order (every row, when a row is split over runs: the keyed path is exact anyway)."""
    runs_a, runs_b = _row_runs(a.rows, size), _row_runs(b.rows, size)
    if runs_a is None or runs_b is None:
        return np.ones(size, dtype=bool)
    (start, length), (b_start, b_length) = runs_a, runs_b
    differs = length != b_length
    alike = np.flatnonzero(~differs & (length > 0))
    if alike.size:  # cell by cell where the lengths agree
        lengths = length[alike]
        owner = np.repeat(alike, lengths)
        here, there = run_cells(start[alike], lengths), run_cells(b_start[alike], lengths)
        bad = (a.cols[here] != b.cols[there]) | (a.values[here] != b.values[there])
        differs[np.unique(owner[bad])] = True
    return differs


def _joined(theirs: Cells, others: Cells, size: int) -> Cells:
    """Theirs' cells with ``others`` after each row's own, rows in order of first
    appearance (theirs' rows, then new ones): the merged dict's insertion order."""
    rank = np.full(size, -1, dtype=np.int64)
    if theirs.rows.size:
        first = runs(theirs.rows)[0]
        if np.bincount(theirs.rows[first], minlength=size).max() > 1:  # split rows: sort
            appears = np.unique(theirs.rows, return_index=True)[1]
            first = np.sort(appears)
            order_t = np.argsort(_ranked(rank, theirs.rows[first], 0)[theirs.rows], kind="stable")
            theirs = theirs.where(order_t)
        else:
            _ranked(rank, theirs.rows[first], 0)
    known = int(rank.max()) + 1 if theirs.rows.size else 0
    new = others.rows[rank[others.rows] < 0]
    if new.size:
        appears = np.sort(np.unique(new, return_index=True)[1])
        _ranked(rank, new[appears], known)
    their_rank, other_rank = rank[theirs.rows], rank[others.rows]
    order = np.argsort(other_rank, kind="stable")
    others, other_rank = others.where(order), other_rank[order]
    at = np.searchsorted(their_rank, other_rank, side="right")
    return Cells(*(np.insert(a, at, b) for a, b in zip(theirs, others, strict=True)))


def _ranked(rank: np.ndarray, rows: np.ndarray, start: int) -> np.ndarray:
    rank[rows] = np.arange(start, start + rows.size)
    return rank


def _cut(cells: Cells, limit: int) -> Cells:
    """Rows of more than ``limit`` cells keep their ``limit`` largest, largest first
    (ties: the lower column); rows are contiguous runs here."""
    if not cells.rows.size:
        return cells
    first, counts = runs(cells.rows)
    over = np.flatnonzero(counts > limit)
    if not over.size:
        return cells
    starts, lengths = first[over], counts[over]
    members = run_cells(starts, lengths)
    within = members - np.repeat(starts, lengths)  # each cell's place in its row
    owner = np.repeat(np.arange(over.size), lengths)
    ranked = members[np.lexsort((cells.cols[members], -cells.values[members], owner))]
    kept = within < limit
    out = [a.copy() for a in cells]
    targets = members[kept]  # the first ``limit`` places of each long row
    for column, source in zip(out, cells, strict=True):
        column[targets] = source[ranked[kept]]
    alive = np.ones(cells.rows.size, dtype=bool)
    alive[members] = False
    alive[targets] = True
    return Cells(*(a[alive] for a in out))
