"""Item state: text vectors, popularity (all-time and trending) and per-cluster engagement.

All counters forget on the engine's event clock (one tick per event), so a
half-life of 1000 means the engagement of 1000 events ago weighs half.

>>> items = ItemStats(dim=2, trending_half_life=10.0)
>>> items.engage(items.row("strings"), engagement_weight(5.0), cluster_id=-1, clock=0)
>>> items.engage(items.row("pedal"), engagement_weight(None), cluster_id=-1, clock=10)
>>> items.popularity[:2].tolist(), items.trending_scores(clock=10).tolist()
([1.5, 1.0], [0.75, 1.0])
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import LifecycleEvent
from streamrec.core.arrays import common_prefix, rows_differ
from streamrec.core.decay import DecayedCounts
from streamrec.model.items_merge import merge_items
from streamrec.model.profiles import VectorTable


def engagement_weight(rating: float | None) -> float:
    """Clicks weigh 1; a review weighs more the better its rating (1 star .7, 5 stars 1.5)."""
    return 1.0 if rating is None else 0.5 + rating / 5.0


class ItemStats:
    def __init__(
        self,
        dim: int,
        vector_half_life: float = 50.0,
        trending_half_life: float = 1000.0,
        engagement_half_life: float = 5000.0,
    ) -> None:
        self.vectors = VectorTable(dim, vector_half_life)
        self.popularity = np.zeros(1024, dtype=np.float64)
        self.trending = DecayedCounts(trending_half_life, capacity=1024)
        self.engagement = DecayedCounts(engagement_half_life, capacity=1024, rows=8)
        self.cluster_rows: dict[int, int] = {}
        self.free_rows: list[int] = []
        self.unit = np.zeros((1024, dim), dtype=np.float32)  # unit text vectors, kept per row
        self._top: dict[int, int] = {}  # engagement row (-1: trending) -> item row of its max
        self.changed: set[int] = set()  # rows whose unit vector changed (the ANN index reads it)
        self.dirty: set[int] = set()  # rows changed since the last checkpoint wrote them

    @property
    def n_items(self) -> int:
        return self.vectors.n_rows

    @property
    def ids(self) -> list[str | None]:
        return self.vectors.ids

    def row(self, item_id: str) -> int:
        if item_id not in self.vectors.index:  # a new row: the checkpoint does not hold it
            self.dirty.add(self.vectors.n_rows)
        row = self.vectors.row(item_id)
        if row >= self.popularity.shape[0]:
            grown = np.zeros(self.popularity.shape[0] * 2)
            grown[: self.popularity.shape[0]] = self.popularity
            self.popularity = grown
        self.trending.ensure(row + 1)
        self.engagement.ensure(row + 1)
        if row >= self.unit.shape[0]:
            grown = np.zeros((max(row + 1, 2 * self.unit.shape[0]), self.unit.shape[1]), np.float32)
            grown[: self.unit.shape[0]] = self.unit
            self.unit = grown
        return row

    def unit_matrix(self) -> np.ndarray:
        """Unit text vectors of every item (a view, updated in place as reviews arrive:
        no per-batch re-normalisation of the catalogue)."""
        return self.unit[: self.n_items]

    def cluster_row(self, cluster_id: int) -> int:
        found = self.cluster_rows.get(cluster_id)
        if found is not None:
            return found
        row = self.free_rows.pop() if self.free_rows else len(self.cluster_rows)
        self.engagement.ensure(self.engagement.size, rows=row + 1)
        self._touch_cluster_row(row)  # a freed row still holds its old cluster's counts
        self.engagement.stored[row] = 0.0
        self._top.pop(row, None)
        self.cluster_rows[cluster_id] = row
        return row

    def add_text(self, item_row: int, vector: np.ndarray) -> None:
        item_id = self.vectors.ids[item_row]
        assert item_id is not None
        self.vectors.update(item_id, vector)
        self.unit[item_row] = self.vectors.vectors(np.array([item_row]))[0]
        self.changed.add(item_row)
        self.dirty.add(item_row)

    def engage(self, item_row: int, weight: float, cluster_id: int, clock: float) -> None:
        """Count one engagement of a user of ``cluster_id`` (-1: unassigned) with an item."""
        self.popularity[item_row] += weight
        self.dirty.add(item_row)
        self.trending.add_one(item_row, weight, clock)
        self._raise(-1, item_row)
        if cluster_id >= 0:
            row = self.cluster_row(cluster_id)
            self.engagement.add_one((row, item_row), weight, clock)
            self._raise(row, item_row)

    def _stored(self, key: int) -> np.ndarray:
        return self.trending.stored if key < 0 else self.engagement.stored[key]

    def _raise(self, key: int, item_row: int) -> None:
        """Counts only grow between lifecycle events and decay uniformly, so the row of
        the maximum changes only to the row just engaged with."""
        stored, top = self._stored(key), self._top.get(key)
        if top is not None and stored[item_row] >= stored[top]:
            self._top[key] = item_row

    def unit_at(self, cluster_id: int | None, rows: np.ndarray) -> np.ndarray:
        """Trending (``cluster_id`` None) or a cluster's engagement at ``rows``, divided by
        its maximum over every item (``unit_max`` at O(rows): the max is tracked)."""
        key = -1 if cluster_id is None else self.cluster_rows.get(cluster_id)
        if key is None:
            return np.zeros(len(rows))
        stored = self._stored(key)
        if key not in self._top:
            self._top[key] = int(np.argmax(stored[: self.n_items])) if self.n_items else 0
        top = float(stored[self._top[key]])
        return stored[rows] / top if top > 0 else np.zeros(len(rows))

    def cluster_engagement(self, cluster_id: int, clock: float) -> np.ndarray:
        row = self.cluster_rows.get(cluster_id)
        if row is None:
            return np.zeros(self.n_items)
        return self.engagement.values(clock, row)[: self.n_items]

    def trending_scores(self, clock: float) -> np.ndarray:
        return self.trending.values(clock)[: self.n_items]

    def apply_lifecycle(self, event: LifecycleEvent) -> None:
        """Keep engagement rows in step with the clusters they belong to."""
        self._top.clear()  # rows moved: maxima are found again on their next read
        if event.kind == "merged" and event.cluster_id in self.cluster_rows:
            absorbed = self.cluster_rows.pop(event.cluster_id)
            kept = self.cluster_row(event.related[0])
            self._touch_cluster_row(absorbed)
            self.engagement.stored[kept] += self.engagement.stored[absorbed]
            self.free_rows.append(absorbed)
        elif event.kind == "split" and event.related and event.related[0] in self.cluster_rows:
            parent = self.cluster_rows[event.related[0]]
            child = self.cluster_row(event.cluster_id)
            self._touch_cluster_row(parent)
            self.engagement.stored[child] = self.engagement.stored[parent] * 0.5
            self.engagement.stored[parent] *= 0.5
        elif event.kind == "died" and event.cluster_id in self.cluster_rows:
            self.free_rows.append(self.cluster_rows.pop(event.cluster_id))

    def _touch_cluster_row(self, row: int) -> None:
        """A whole engagement row changes: the items with a count in it are dirty (their
        column of the row is in their checkpoint field)."""
        self.dirty.update(np.flatnonzero(self.engagement.stored[row, : self.n_items]).tolist())

    def state(self, copy: bool = True) -> dict:
        """Without ``copy`` the vector sums are a view (see :meth:`VectorTable.state`)."""
        return {
            "vector_half_life": self.vectors.half_life,
            "vectors": self.vectors.state(copy),
            "popularity": self.popularity[: self.n_items].copy(),
            "trending": self.trending.state(),
            "engagement": self.engagement.state(),
            "cluster_rows": {str(k): v for k, v in self.cluster_rows.items()},
            "free_rows": list(self.free_rows),
        }

    def load(self, state: dict) -> np.ndarray:
        """Adopt ``state``; returns the rows (of the former ones) whose unit vector it
        changed (the nearest-item index follows them)."""
        renew = self._renewed_rows(state["vectors"])  # before the table is overwritten
        old_n = self.n_items
        self.vectors.load(state["vectors"])
        n = self.n_items
        self.popularity = np.zeros(max(1024, self.vectors.sums.shape[0]))
        self.popularity[:n] = state["popularity"]
        self.trending = DecayedCounts.from_state(state["trending"])
        self.engagement = DecayedCounts.from_state(state["engagement"])
        self.cluster_rows = {int(k): int(v) for k, v in state["cluster_rows"].items()}
        self.free_rows = [int(r) for r in state["free_rows"]]
        self._top.clear()
        rows = np.flatnonzero(renew)
        former = rows[rows < old_n]
        before = self.unit[former]
        if self.unit.shape[0] < n:
            grown = np.zeros((max(1024, n), self.vectors.dim), dtype=np.float32)
            grown[:old_n] = self.unit[:old_n]
            self.unit = grown
        self.unit[n:old_n] = 0.0  # rows past the loaded items hold none
        self.unit[rows] = self.vectors.vectors(rows)  # row by row the bits of matrix()
        self.dirty.clear()  # what was loaded is what the checkpoint holds
        return former[np.any(self.unit[former] != before, axis=1)]

    def _renewed_rows(self, vectors: dict) -> np.ndarray:
        """Per row of the loaded ``vectors`` state: whether its item or vector sum differs
        from this table's (a merge changes a few). The other rows keep their unit
        vectors in place instead of the whole catalogue being normalised again (0.4 s
        at 10^5 items)."""
        ids = list(vectors["ids"])
        same = common_prefix(self.vectors.ids, ids)
        renew = np.ones(len(ids), dtype=bool)
        renew[:same] = rows_differ(np.asarray(vectors["sums"]), self.vectors.sums, same)
        return renew

    # -- item by item (incremental checkpoints) ----------------------------------------

    def global_state(self) -> dict:
        """:meth:`state` without its per-item arrays (:meth:`item_state` gives them row by
        row, so a checkpoint writes only the rows that changed) but with their sizes."""
        return {
            "vector_half_life": self.vectors.half_life,
            "dim": self.vectors.dim,
            "n_items": self.n_items,
            "trending": _decay_head(self.trending),
            "engagement": _decay_head(self.engagement),
            "cluster_rows": {str(k): v for k, v in self.cluster_rows.items()},
            "free_rows": list(self.free_rows),
        }

    def item_state(self, row: int) -> tuple[str | None, dict[str, np.ndarray]]:
        """The id of item ``row`` and its row of every per-item array of :meth:`state`:
        its column of the per-cluster engagement without the trailing zeros (the bytes
        do not change when rows are added)."""
        v = self.vectors
        one = slice(row, row + 1)
        column = self.engagement.stored[:, row]
        counted = np.flatnonzero(column)
        return v.ids[row], {
            "sums": v.sums[row],
            "counts": v.counts[one],
            "last_ts": v.last_ts[one],
            "popularity": self.popularity[one],
            "trending": self.trending.stored[one],
            "engagement": column[: counted[-1] + 1 if counted.size else 0],
        }

    @staticmethod
    def join_state(head: dict, ids: list, rows: list[dict[str, np.ndarray]]) -> dict:
        """The :meth:`state` whose :meth:`global_state` is ``head`` and whose items are
        ``ids`` with their :meth:`item_state` ``rows`` (in row order)."""
        n, dim = int(head["n_items"]), int(head["dim"])
        if len(ids) != n or len(rows) != n:
            raise ValueError(f"{n} items expected, got {len(ids)} ids and {len(rows)} rows")
        # each per-item array in one call; its values cast as row assignments do
        sums = np.array([row["sums"] for row in rows], dtype=np.float32).reshape(n, dim)
        trending = np.zeros(tuple(head["trending"]["size"]))
        trending[:n] = [row["trending"][0] for row in rows]
        engagement = np.zeros(tuple(head["engagement"]["size"]))
        counts = np.array([row["counts"][0] for row in rows], dtype=np.int32)
        last_ts = np.array([row["last_ts"][0] for row in rows], dtype=np.float64)
        popularity = np.array([row["popularity"][0] for row in rows], dtype=np.float64)
        for r, row in enumerate(rows):
            column = row["engagement"][: engagement.shape[0]]  # rows added later are zero
            if column.size:
                engagement[: len(column), r] = column
        return {
            "vector_half_life": head["vector_half_life"],
            "vectors": {"ids": list(ids), "sums": sums, "counts": counts, "last_ts": last_ts},
            "popularity": popularity,
            "trending": _decay_state(head["trending"], trending),
            "engagement": _decay_state(head["engagement"], engagement),
            "cluster_rows": dict(head["cluster_rows"]),
            "free_rows": list(head["free_rows"]),
        }

    # Each mergeable class owns its merge (the contract test runs them all).
    merge = staticmethod(merge_items)


def _decay_head(counts: DecayedCounts) -> dict:
    """A decayed counter without its values: base, half-life and the shape of the values."""
    return {"t0": counts.t0, "half_life": counts.half_life, "size": list(counts.stored.shape)}


def _decay_state(head: dict, stored: np.ndarray) -> dict:
    return {"stored": stored, "t0": head["t0"], "half_life": head["half_life"]}
