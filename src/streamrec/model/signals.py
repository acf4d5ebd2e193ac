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

import numpy as np

from streamrec.core.arrays import rows_in
from streamrec.core.decay import DecayedCounts, merged_base, merged_stored
from streamrec.model.history import HISTORY, HistorySums, history_weights
from streamrec.model.history_reads import HistoryReads, read_history
from streamrec.model.kernels import COMPILED, weighted_cell_sums_of_two
from streamrec.model.sparse_rows import NEIGHBOURS, SparseRows

TREND_HALF_LIVES = (100.0, 300.0, 1000.0, 3000.0)  # in engagements
READ_ROWS = 64  # features of at most this many rows read the sums' entries they need only


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
        self.version = 0  # moves on every change: keys the last history_sums answer
        self._sums: tuple[tuple[int, tuple[int, ...]], HistorySums] | None = None

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
        self.version += 1
        self.ensure(item + 1)
        self.dirty.add(item)
        if len(history):  # its co-occurrence row and the history's (transitions: the last's)
            self.dirty_neighbours.add(item)
            self.dirty_neighbours.update(history[-HISTORY:].tolist())
        self.count[item] += 1
        for trend in self.trends:
            trend.add_one(item, 1.0, self.clock)
        if self.first_seen[item] < 0:
            self.first_seen[item] = self.clock
        self.last_seen[item] = self.clock
        for other in history[-HISTORY:].tolist():
            self.co.add(item, other)
            self.co.add(other, item)
        if len(history):
            self.transitions.add(int(history[-1]), item)

    def history_sums(self, seen: list[int]) -> HistorySums:
        """The sums a user's last :data:`HISTORY` items (of ``seen``, oldest first) feed,
        read-only: features and candidates of one serve share them, so the cut to the
        recent items is made here, once for both. The last answer is kept while nothing
        changes (a replay serves a user, then learns from their pick, on one state)."""
        history = seen[-HISTORY:]
        key = (self.version, tuple(history))
        if self._sums is None or self._sums[0] != key:
            co_weights, last, t_weights = history_weights(self.count, history)
            if COMPILED:  # both tables in one compiled call: the same sums
                parts = weighted_cell_sums_of_two(
                    (*self.co.runs(history), np.array(co_weights)),
                    (*self.transitions.runs(last), np.array(t_weights)),
                )
                for array in parts:  # the sums are rows of two blocks: read-only with them
                    array.flags.writeable = False
                cols, co_sums, t_cols, t_sums = parts
                sums = HistorySums(cols, *co_sums, t_cols, *t_sums)
            else:
                sums = HistorySums(
                    *self.co.sparse_sum(history, *co_weights),
                    *self.transitions.sparse_sum(last, *t_weights),
                )
                for array in sums:
                    array.flags.writeable = False
            self._sums = key, sums
        return self._sums[1]

    def history_reads(
        self, seen: list[int], rows: np.ndarray, size: int
    ) -> HistorySums | HistoryReads:
        """What the features of ``rows`` (below ``size``) read of :meth:`history_sums`:
        the sums kept from the last call when they are this history's, else, for a few
        rows (a learning step's 11), only their entries and those of the maxima
        (:func:`~streamrec.model.history_reads.read_history`: the same values, without
        ordering every column of the sums). Needs numba for the second."""
        history = seen[-HISTORY:]
        kept = self._sums is not None and self._sums[0] == (self.version, tuple(history))
        if kept or rows.size > READ_ROWS:
            return self.history_sums(seen)
        co_weights, last, t_weights = history_weights(self.count, history)
        return read_history(
            self.co.runs(history),
            np.array(co_weights),
            self.transitions.runs(last),
            t_weights[0],
            self.count,
            size,
            rows,
        )

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
        self.version += 1
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
        columns = [np.zeros(size), np.full(size, -1.0), np.zeros(size)]
        columns += [np.zeros(int(t["size"])) for t in head["trends"]]
        tables: tuple[list, list] = ([], [])
        for r, arrays in enumerate(rows):
            if "values" in arrays:  # not all defaults: inside every array
                ItemSignals.put_values(columns, r, arrays["values"].tolist())
        for r, (places, arrays) in neighbours.items():
            for name, place, table in zip(("co", "transitions"), places, tables, strict=True):
                if place >= 0:
                    table.append((place, r, arrays[f"{name}_cols"], arrays[f"{name}_values"]))
        return ItemSignals.from_columns(
            head,
            columns,
            SparseRows.join_rows(int(head["limits"][0]), tables[0]),
            SparseRows.join_rows(int(head["limits"][1]), tables[1]),
        )

    @staticmethod
    def put_values(columns: list[np.ndarray], row: int, values: list[float]) -> None:
        """One item's :meth:`item_state` values into the per-item ``columns`` (count,
        first and last sighting, then one per trend)."""
        for column, value in zip(columns, values, strict=True):
            column[row] = value

    @staticmethod
    def from_columns(head: dict, columns: list[np.ndarray], co: dict, transitions: dict) -> dict:
        """The :meth:`state` whose :meth:`global_state` is ``head``, from its per-item
        ``columns`` (as :meth:`put_values` fills them) and its two tables' states."""
        return {
            "clock": int(head["clock"]),
            "count": columns[0],
            "trends": [
                {"stored": values, "t0": t["t0"], "half_life": t["half_life"]}
                for t, values in zip(head["trends"], columns[3:], strict=True)
            ],
            "first_seen": columns[1],
            "last_seen": columns[2],
            "co": co,
            "transitions": transitions,
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
        """Counts and co-occurrences add up (``theirs + mine - base``), trends stay
        stored against theirs' bases, moved on when old
        (:func:`~streamrec.core.decay.merged_stored`),
        first and last sightings keep the earliest and latest.

        ``item_ids`` names each state's item rows; ``order`` maps item ids to
        the merged rows. This worker's events since base come after theirs on
        the merged clock: its sightings since base move on by how far theirs'
        clock moved, theirs keep their clock. An item this worker did not
        change comes out as theirs to the bit.
        """
        size = len(order)

        # each state's rows -> merged rows, once: every per-item array of a state uses it
        b_rows, l_rows, c_rows = (rows_in(order, ids) for ids in item_ids)

        def aligned(values: np.ndarray, rows: np.ndarray, fill: float = 0.0) -> np.ndarray:
            out = np.full(size, fill)
            mapping = rows[: len(values)]
            keep = mapping >= 0
            out[mapping[keep]] = np.asarray(values)[: len(mapping)][keep]
            return out

        b, lo, c = base, mine, theirs
        elapsed = int(lo["clock"]) - int(b["clock"])
        grown = int(c["clock"]) - int(b["clock"])
        clock = int(c["clock"]) + elapsed
        count = aligned(c["count"], c_rows) + (
            aligned(lo["count"], l_rows) - aligned(b["count"], b_rows)
        )

        def trend(tb: dict, tl: dict, tc: dict) -> dict:
            half_life = float(tl["half_life"])
            t0 = merged_base(float(tc["t0"]), clock, half_life)
            stored = merged_stored(
                tuple(
                    aligned(t["stored"], rows)
                    for t, rows in ((tb, b_rows), (tl, l_rows), (tc, c_rows))
                ),
                (float(tb["t0"]), float(tl["t0"]), float(tc["t0"])),
                grown=grown,
                half_life=half_life,
                size=size,
                out_base=t0,
            )
            return {"stored": stored, "t0": t0, "half_life": half_life}

        trends = [trend(*t) for t in zip(b["trends"], lo["trends"], c["trends"], strict=True)]

        def sightings(key: str, fill: float) -> tuple[np.ndarray, np.ndarray]:
            """Theirs', and this worker's on the merged clock (NaN: none since base)."""
            mine_now, at_base = aligned(lo[key], l_rows, fill), aligned(b[key], b_rows, fill)
            moved = np.where((mine_now != at_base) & (mine_now >= 0), mine_now + grown, np.nan)
            return aligned(c[key], c_rows, fill), moved

        first_c, first_l = sightings("first_seen", -1.0)
        last_c, last_l = sightings("last_seen", 0.0)
        return {
            "clock": clock,
            "count": count,
            "trends": trends,
            "first_seen": np.where((first_c < 0) & ~np.isnan(first_l), first_l, first_c),
            "last_seen": np.where(last_l > last_c, last_l, last_c),
            "co": SparseRows.merge(b["co"], lo["co"], c["co"], (b_rows, l_rows, c_rows)),
            "transitions": SparseRows.merge(
                b["transitions"], lo["transitions"], c["transitions"], (b_rows, l_rows, c_rows)
            ),
        }
