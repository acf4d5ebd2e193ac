"""What the personal ranker learns from: item engagement signals on a clock of
first user-item engagements.

:class:`ItemSignals` keeps what the evaluation showed to predict the next pick
on review data: popularity over several horizons, how recently and how long
ago an item was first seen, item-item co-occurrence (items engaged with by
the same users) and transitions (the item a user picked right after another).

Co-occurrence and transitions keep at most ``limit`` neighbours per item
(heavy hitters): a row that reaches ``2 * limit`` cells is pruned to its
``limit`` largest, so memory is items x limit, not items squared, and the
amortised cost of an update stays constant. Counts of neighbours that were
pruned and come back restart from zero (an underestimate, as in lossy counting).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from streamrec.core.decay import DecayedCounts, decay

TREND_HALF_LIVES = (100.0, 300.0, 1000.0, 3000.0)  # in engagements
HISTORY = 50  # co-occurrence looks at a user's last 50 items (bounded work per event)
NEIGHBOURS = 1024  # default top-M neighbours kept per item
DENSE_SPAN = 4  # sum rows densely when their columns span at most 4x their cell count


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
        span = int(cols.max()) + 1 if cols.size else 0
        if span <= DENSE_SPAN * cols.size:  # many cells over few columns: O(cells + span), no sort
            present = np.zeros(span, dtype=bool)
            present[cols] = True
            unique = np.flatnonzero(present)
            index, bins = cols, span
        else:
            unique, index = np.unique(cols, return_inverse=True)
            bins = unique.size
        # bincount adds each bin's cells in input order either way: the same sums
        sums = [
            np.bincount(index, weights=vals * np.repeat(w, lengths), minlength=bins)
            for w in (weights, *more)
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
        ``rows`` mapping (old row -> merged row, -1: dropped); cells near zero go."""
        totals: dict[tuple[int, int], float] = {}
        for table, mapping, sign in ((base, rows[0], -1), (mine, rows[1], 1), (theirs, rows[2], 1)):
            for i, j, v in zip(
                np.asarray(table["rows"]).tolist(),
                np.asarray(table["cols"]).tolist(),
                np.asarray(table["values"]).tolist(),
                strict=True,
            ):
                key = (int(mapping[i]), int(mapping[j]))
                if key[0] >= 0 and key[1] >= 0:
                    totals[key] = totals.get(key, 0.0) + sign * v
        table = SparseRows(int(mine.get("limit", NEIGHBOURS)))
        rows: dict[int, dict[int, float]] = defaultdict(dict)
        for (i, j), v in totals.items():
            if v > 1e-9:
                rows[i][j] = v
        for i, cells in rows.items():  # the merged row keeps its top-M too
            table._set_row(i, _top(cells, table.limit) if len(cells) > table.limit else cells)
        return table.state()


def _top(cells: dict[int, float], limit: int) -> dict[int, float]:
    """The ``limit`` largest cells (ties: the lower column), as a new row."""
    kept = sorted(cells.items(), key=lambda cell: (-cell[1], cell[0]))[:limit]
    return dict(kept)


class ItemSignals:
    """Engagement statistics per item, updated on each first user-item engagement."""

    def __init__(self, neighbours: int = NEIGHBOURS) -> None:
        self.clock = 0
        self.count = np.zeros(1024)
        self.trends = [DecayedCounts(h, capacity=1024) for h in TREND_HALF_LIVES]
        self.first_seen = np.full(1024, -1.0)
        self.last_seen = np.zeros(1024)
        self.co = SparseRows(neighbours)
        self.transitions = SparseRows(neighbours)
        # item rows whose values (counts, trends, sightings), and whose co-occurrence or
        # transition rows, changed since the last checkpoint wrote them
        self.dirty: set[int] = set()
        self.dirty_neighbours: set[int] = set()

    def ensure(self, size: int) -> None:
        if size <= len(self.count):
            return
        grow = max(size, 2 * len(self.count)) - len(self.count)
        self.count = np.concatenate([self.count, np.zeros(grow)])
        self.first_seen = np.concatenate([self.first_seen, np.full(grow, -1.0)])
        self.last_seen = np.concatenate([self.last_seen, np.zeros(grow)])
        for trend in self.trends:
            trend.ensure(len(self.count))

    def observe(self, item: int, history: np.ndarray) -> None:
        """A first engagement of a user with ``item``; ``history``: the user's earlier items."""
        self.clock += 1
        self.ensure(item + 1)
        self.dirty.add(item)
        if len(history):  # its co-occurrence row and the history's (transitions: the last's)
            self.dirty_neighbours.add(item)
            self.dirty_neighbours.update(history[-HISTORY:].tolist())
        self.count[item] += 1
        for trend in self.trends:
            trend.add(np.array([item]), np.array([1.0]), self.clock)
        if self.first_seen[item] < 0:
            self.first_seen[item] = self.clock
        self.last_seen[item] = self.clock
        for other in history[-HISTORY:].tolist():
            self.co.add(item, other)
            self.co.add(other, item)
        if len(history):
            self.transitions.add(int(history[-1]), item)

    def state(self) -> dict:
        return {
            "clock": self.clock,
            "count": self.count.copy(),
            "trends": [t.state() for t in self.trends],
            "first_seen": self.first_seen.copy(),
            "last_seen": self.last_seen.copy(),
            "co": self.co.state(),
            "transitions": self.transitions.state(),
        }

    def load(self, state: dict) -> None:
        self.clock = int(state["clock"])
        self.count = np.asarray(state["count"], dtype=np.float64).copy()
        self.trends = [DecayedCounts.from_state(t) for t in state["trends"]]
        self.first_seen = np.asarray(state["first_seen"], dtype=np.float64).copy()
        self.last_seen = np.asarray(state["last_seen"], dtype=np.float64).copy()
        self.co = SparseRows.from_state(state["co"])
        self.transitions = SparseRows.from_state(state["transitions"])
        self.ensure(len(self.count))
        self.dirty.clear()  # what was loaded is what the checkpoint holds
        self.dirty_neighbours.clear()

    # -- item by item (incremental checkpoints) ----------------------------------------

    def global_state(self) -> dict:
        """:meth:`state` without its per-item arrays (:meth:`item_state` gives them row by
        row) but with their sizes."""
        return {
            "clock": self.clock,
            "size": len(self.count),
            "trends": [{"t0": t.t0, "half_life": t.half_life, "size": t.size} for t in self.trends],
            "limits": [self.co.limit, self.transitions.limit],
        }

    def item_state(self, row: int) -> dict[str, np.ndarray]:
        """Item ``row``'s values of the per-item arrays of :meth:`state`: count, first and
        last sighting, trends (none while all are defaults, so the bytes do not change
        when the arrays grow)."""

        def at(values: np.ndarray, default: float) -> float:
            return float(values[row]) if row < len(values) else default

        values = np.array(
            [at(self.count, 0.0), at(self.first_seen, -1.0), at(self.last_seen, 0.0)]
            + [at(t.stored, 0.0) for t in self.trends]
        )
        defaults = np.array([0.0, -1.0, 0.0] + [0.0] * len(self.trends))
        return {} if np.array_equal(values, defaults) else {"values": values}

    def neighbour_state(
        self, row: int, positions: tuple[dict[int, int], dict[int, int]]
    ) -> tuple[list[int], dict[str, np.ndarray]]:
        """Item ``row``'s place in the co-occurrence and transition tables (-1: no row;
        ``positions`` from :meth:`SparseRows.positions`) and its rows of both."""
        places, arrays = [], {}
        for name, table, position in zip(
            ("co", "transitions"), (self.co, self.transitions), positions, strict=True
        ):
            places.append(position.get(row, -1))
            arrays[f"{name}_cols"], arrays[f"{name}_values"] = table.row_state(row)
        return places, arrays

    @staticmethod
    def join_state(
        head: dict,
        rows: list[dict[str, np.ndarray]],
        neighbours: dict[int, tuple[list[int], dict[str, np.ndarray]]],
    ) -> dict:
        """The :meth:`state` whose :meth:`global_state` is ``head``, whose items'
        :meth:`item_state` values are ``rows`` (in row order) and whose
        :meth:`neighbour_state` values are ``neighbours`` (by row; absent: no rows)."""
        size = int(head["size"])
        count, first_seen, last_seen = np.zeros(size), np.full(size, -1.0), np.zeros(size)
        trends = [np.zeros(int(t["size"])) for t in head["trends"]]
        tables: tuple[list, list] = ([], [])
        for r, arrays in enumerate(rows):
            if "values" in arrays:  # not all defaults: inside every array
                values = arrays["values"].tolist()
                count[r], first_seen[r], last_seen[r] = values[:3]
                for trend, value in zip(trends, values[3:], strict=True):
                    trend[r] = value
        for r, (places, arrays) in neighbours.items():
            for name, place, table in zip(("co", "transitions"), places, tables, strict=True):
                if place >= 0:
                    table.append((place, r, arrays[f"{name}_cols"], arrays[f"{name}_values"]))
        return {
            "clock": int(head["clock"]),
            "count": count,
            "trends": [
                {"stored": values, "t0": t["t0"], "half_life": t["half_life"]}
                for t, values in zip(head["trends"], trends, strict=True)
            ],
            "first_seen": first_seen,
            "last_seen": last_seen,
            "co": SparseRows.join_rows(int(head["limits"][0]), tables[0]),
            "transitions": SparseRows.join_rows(int(head["limits"][1]), tables[1]),
        }

    @staticmethod
    def merge(
        base: dict,
        mine: dict,
        theirs: dict,
        *,
        item_ids: tuple[list, list, list],
        order: dict[str, int],
    ) -> dict:
        """Counts and co-occurrences add up (``theirs + mine - base``), trends decay to
        the merged clock, first and last sightings keep the earliest and latest.

        ``item_ids`` names each state's item rows; ``order`` maps item ids to
        the merged rows.
        """
        size = len(order)

        def rows(ids: list) -> np.ndarray:
            return np.array(
                [order.get(i, -1) if i is not None else -1 for i in ids], dtype=np.int64
            )

        def aligned(values: np.ndarray, ids: list, fill: float = 0.0) -> np.ndarray:
            out = np.full(size, fill)
            mapping = rows(ids)[: len(values)]
            keep = mapping >= 0
            out[mapping[keep]] = np.asarray(values)[: len(mapping)][keep]
            return out

        (b, lo, c), (b_ids, l_ids, c_ids) = (base, mine, theirs), item_ids
        elapsed = int(lo["clock"]) - int(b["clock"])
        clock = int(c["clock"]) + elapsed
        count = (
            aligned(c["count"], c_ids) + aligned(lo["count"], l_ids) - aligned(b["count"], b_ids)
        )
        trends = []
        for tb, tl, tc in zip(b["trends"], lo["trends"], c["trends"], strict=True):
            half_life = float(tl["half_life"])
            fade = decay(elapsed, half_life)

            def value(t: dict, ids: list, at: int, half_life: float = half_life) -> np.ndarray:
                return aligned(np.asarray(t["stored"]) * decay(at - float(t["t0"]), half_life), ids)

            merged = (
                value(tc, c_ids, int(c["clock"])) * fade
                + value(tl, l_ids, int(lo["clock"]))
                - value(tb, b_ids, int(b["clock"])) * fade
            )
            trends.append(
                {"stored": np.clip(merged, 0, None), "t0": float(clock), "half_life": half_life}
            )

        def ages(state: dict, ids: list, key: str) -> np.ndarray:
            seen = aligned(state[key], ids, fill=-1.0)
            return np.where(seen >= 0, int(state["clock"]) - seen, np.inf)

        first_c, first_l = ages(c, c_ids, "first_seen"), ages(lo, l_ids, "first_seen")
        first_age = np.maximum(
            np.where(np.isinf(first_c), -np.inf, first_c),
            np.where(np.isinf(first_l), -np.inf, first_l),
        )
        last_age = np.minimum(ages(c, c_ids, "last_seen"), ages(lo, l_ids, "last_seen"))
        mappings = (rows(b_ids), rows(l_ids), rows(c_ids))
        return {
            "clock": clock,
            "count": count,
            "trends": trends,
            "first_seen": np.where(np.isfinite(first_age), clock - first_age, -1.0),
            "last_seen": np.where(np.isfinite(last_age), clock - last_age, 0.0),
            "co": SparseRows.merge(b["co"], lo["co"], c["co"], mappings),
            "transitions": SparseRows.merge(
                b["transitions"], lo["transitions"], c["transitions"], mappings
            ),
        }
