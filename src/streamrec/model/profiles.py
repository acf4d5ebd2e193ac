"""Interest vectors: decayed means of embeddings, kept per user and per item.

Each row holds a decayed sum ``s <- s * g + w * x`` where ``g`` halves the
weight of old updates every ``half_life`` updates of that row, so a user's
recent comments count more than old ones. The served vector is ``s / |s|``.

>>> table = VectorTable(dim=2, half_life=1.0)
>>> _ = table.update("u1", np.array([1.0, 0.0]))
>>> _ = table.update("u1", np.array([0.0, 1.0]))
>>> [round(float(v), 3) for v in table.vector("u1")]
[0.447, 0.894]
"""

from __future__ import annotations

from array import array

import numpy as np

from streamrec.core.arrays import unit_rows
from streamrec.core.decay import decay


class VectorTable:
    """Rows of decayed vector sums keyed by string id, stored in one growable matrix."""

    def __init__(self, dim: int, half_life: float, capacity: int = 1024) -> None:
        self.dim = dim
        self.half_life = float(half_life)
        self.gamma = decay(1.0, self.half_life)
        self.index: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.sums = np.zeros((capacity, dim), dtype=np.float32)
        self.counts = np.zeros(capacity, dtype=np.int32)
        self.last_ts = np.zeros(capacity, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    def _grow(self, rows: int) -> None:
        capacity = self.sums.shape[0]
        if rows <= capacity:
            return
        while capacity < rows:
            capacity *= 2
        self.sums = _grown(self.sums, capacity)
        self.counts = _grown(self.counts, capacity)
        self.last_ts = _grown(self.last_ts, capacity)
        self._grow_extra(capacity)

    def _grow_extra(self, capacity: int) -> None:
        """Subclasses grow their own per-row arrays here."""

    def row(self, key: str) -> int:
        """The row of ``key``, created empty when new."""
        found = self.index.get(key)
        if found is not None:
            return found
        row = len(self.ids)
        self._grow(row + 1)
        self.index[key] = row
        self.ids.append(key)
        self._init_row(row)
        return row

    def _init_row(self, row: int) -> None:
        """Subclasses reset their own per-row state here."""

    def update(self, key: str, vector: np.ndarray, weight: float = 1.0, ts: float = 0.0) -> int:
        row = self.row(key)
        self.sums[row] *= self.gamma
        self.sums[row] += weight * vector
        self.counts[row] += 1
        self.last_ts[row] = max(self.last_ts[row], ts)
        return row

    def vector(self, key: str) -> np.ndarray | None:
        row = self.index.get(key)
        return None if row is None else self.vectors(np.array([row]))[0]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """Unit vectors of the given rows (zero rows stay zero)."""
        return unit_rows(self.sums[rows])

    def matrix(self) -> np.ndarray:
        """Unit vectors of every row, in row order."""
        return self.vectors(np.arange(self.n_rows))

    def remove(self, key: str) -> bool:
        """Forget ``key``: its row is zeroed and never handed out again."""
        row = self.index.pop(key, None)
        if row is None:
            return False
        self.ids[row] = None
        self.sums[row] = 0
        self.counts[row] = 0
        self.last_ts[row] = 0
        self._init_row(row)
        return True

    def state(self, copy: bool = True) -> dict:
        """Ids and per-row arrays; without ``copy`` the vector sums are a view (for a
        reader that is done before the table changes again)."""
        n = self.n_rows
        return {
            "ids": list(self.ids),
            "sums": self.sums[:n].copy() if copy else self.sums[:n],
            "counts": self.counts[:n].copy(),
            "last_ts": self.last_ts[:n].copy(),
        }

    def load(self, state: dict) -> None:
        ids = list(state["ids"])
        self.ids, self.index = [], {}  # empty while the arrays grow, as before
        self._grow(max(len(ids), 1))
        self.ids = ids
        self.index = dict(zip(ids, range(len(ids)), strict=True))  # ids are unique
        self.index.pop(None, None)  # type: ignore[call-overload]  # freed rows
        n = len(ids)
        self.sums[:n] = state["sums"]
        self.counts[:n] = state["counts"]
        self.last_ts[:n] = state["last_ts"]


class UserProfiles(VectorTable):
    """User interest vectors plus what the recommender needs per user.

    Per user: cluster assignment with the top-2 clusters and similarities, and
    the rows of items the user engaged with (to never recommend them back).
    """

    def __init__(
        self, dim: int, half_life: float, capacity: int = 1024, max_seen: int = 1000
    ) -> None:
        self.max_seen = max_seen  # the history is bounded: the oldest items are forgotten
        self.dirty: set[str] = set()  # users changed since the last checkpoint
        self.erased: dict[str, int] = {}  # users erased since then -> their partition
        self.cluster = np.full(capacity, -1, dtype=np.int64)
        self.cluster2 = np.full(capacity, -1, dtype=np.int64)
        self.sim = np.zeros((capacity, 2), dtype=np.float32)
        self.partition = np.full(capacity, -1, dtype=np.int32)  # Kafka partition of the user
        self.last = np.zeros((capacity, dim), dtype=np.float16)  # the latest review's vector
        self.seen: list[array] = []
        super().__init__(dim, half_life, capacity)

    def _grow_extra(self, capacity: int) -> None:
        self.cluster = _grown(self.cluster, capacity, fill=-1)
        self.cluster2 = _grown(self.cluster2, capacity, fill=-1)
        self.sim = _grown(self.sim, capacity)
        self.partition = _grown(self.partition, capacity, fill=-1)
        self.last = _grown(self.last, capacity)

    def _init_row(self, row: int) -> None:
        if row == len(self.seen):
            self.seen.append(array("i"))
        else:
            self.seen[row] = array("i")
        self.cluster[row] = -1
        self.cluster2[row] = -1
        self.sim[row] = 0
        self.partition[row] = -1
        self.last[row] = 0

    def mark_seen(self, row: int, item_row: int) -> None:
        self.dirty.add(self.ids[row])  # type: ignore[arg-type]
        seen = self.seen[row]
        if item_row not in seen:
            seen.append(item_row)
            if len(seen) > self.max_seen:
                del seen[: len(seen) - self.max_seen]

    def seen_items(self, key: str) -> np.ndarray:
        row = self.index.get(key)
        if row is None:
            return np.zeros(0, dtype=np.int32)
        return np.array(self.seen[row], dtype=np.int32)  # a copy: the array keeps growing

    def assign(self, rows: np.ndarray, top_ids: np.ndarray, top_sims: np.ndarray) -> np.ndarray:
        """Store top-2 clusters for ``rows``; return the rows whose first cluster changed."""
        changed = rows[self.cluster[rows] != top_ids[:, 0]]
        self.dirty.update(self.ids[r] for r in rows.tolist())  # type: ignore[misc]
        self.cluster[rows] = top_ids[:, 0]
        self.cluster2[rows] = top_ids[:, 1]
        self.sim[rows] = top_sims
        return changed

    def update(self, key: str, vector: np.ndarray, weight: float = 1.0, ts: float = 0.0) -> int:
        """As :meth:`VectorTable.update`, also keeping the vector as the user's last."""
        row = super().update(key, vector, weight, ts)
        self.last[row] = vector
        self.dirty.add(key)
        return row

    def rows_of_partition(self, partition: int) -> np.ndarray:
        live = np.array([key is not None for key in self.ids], dtype=bool)
        return np.flatnonzero(live & (self.partition[: self.n_rows] == partition))

    def export(self, rows: np.ndarray | None = None, item_ids: list | None = None) -> dict:
        """The given users (default: all), their history as item ids when ``item_ids`` maps
        item rows to ids (so the history survives a renumbering of items)."""
        if rows is None:
            rows = np.array(
                [r for r, key in enumerate(self.ids) if key is not None], dtype=np.int64
            )
        seen = [np.frombuffer(self.seen[r], dtype=np.int32) for r in rows]
        flat = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int32)
        return {
            "ids": [self.ids[r] for r in rows],
            "sums": self.sums[rows].copy(),
            "counts": self.counts[rows].copy(),
            "last_ts": self.last_ts[rows].copy(),
            "cluster": self.cluster[rows].copy(),
            "cluster2": self.cluster2[rows].copy(),
            "sim": self.sim[rows].copy(),
            "partition": self.partition[rows].copy(),
            "last": self.last[rows].copy(),
            "seen_lengths": np.array([len(s) for s in seen], dtype=np.int64),
            "seen_items": [item_ids[i] for i in flat.tolist()] if item_ids is not None else flat,
        }

    def absorb(self, state: dict, item_row=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Add exported users (replacing same-id rows); ``item_row`` maps item ids to rows."""
        rows = np.array([self.row(key) for key in state["ids"]], dtype=np.int64)
        if rows.size:
            self.sums[rows] = state["sums"]
            self.counts[rows] = state["counts"]
            self.last_ts[rows] = state["last_ts"]
            self.cluster[rows] = state["cluster"]
            self.cluster2[rows] = state["cluster2"]
            self.sim[rows] = state["sim"]
            self.partition[rows] = state["partition"]
            self.last[rows] = state["last"]
        seen = list(state["seen_items"])
        if item_row is not None:
            seen = [item_row(i) for i in seen]
        offsets = np.concatenate([[0], np.cumsum(state["seen_lengths"])]).astype(np.int64)
        self.dirty.difference_update(state["ids"])  # as checkpointed: clean
        for n, row in enumerate(rows.tolist()):
            own = seen[offsets[n] : offsets[n + 1]][-self.max_seen :]
            self.seen[row] = array("i", [int(i) for i in own])
        return rows

    def remap_items(self, mapping: np.ndarray) -> None:
        """Renumber item rows in every history (``mapping[old_row] = new_row``)."""
        for row, seen in enumerate(self.seen):
            if len(seen):
                self.seen[row] = array("i", mapping[np.frombuffer(seen, dtype=np.int32)].tolist())

    def state(self) -> dict:
        return self.export()

    def load(self, state: dict) -> None:
        self.index, self.ids, self.seen = {}, [], []
        self.dirty, self.erased = set(), {}
        self.absorb(state)


def _grown(values: np.ndarray, capacity: int, fill: float = 0) -> np.ndarray:
    shape = (capacity, *values.shape[1:])
    grown = np.full(shape, fill, dtype=values.dtype)
    grown[: values.shape[0]] = values
    return grown
