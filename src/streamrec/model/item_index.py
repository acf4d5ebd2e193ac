"""Nearest items by cosine: an exact scan over small catalogues, HNSW above, with a
log of the index's changes so that a restored worker rebuilds the very same graph.

An HNSW graph depends on the order of its inserts and deletions and on the
levels its seeded generator drew for them, not only on the vectors it holds:
an index rebuilt from the restored item vectors finds other neighbours than
the one a worker that never stopped kept growing (at 8,000 items every user's
candidate set differed). So every change is an :class:`IndexOp`, applied by
one function (:meth:`ItemIndex.apply`) and, when ``keep_log`` is set, kept in
order until a checkpoint takes it (:meth:`ItemIndex.drain`). Applying the ops
of every checkpoint, in order, to an empty index gives the same graph and the
same generator position, so the same answers from then on.

>>> index = ItemIndex(2, exact_below=0, keep_log=True)
>>> items = ItemStats(2, 100.0)
>>> for n, vector in enumerate([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]):
...     items.add_text(items.row(f"i{n}"), np.array(vector, dtype=np.float32))
>>> index.nearest(items, np.array([1.0, 0.0], dtype=np.float32), 2).tolist()
[0, 2]
>>> again = ItemIndex(2, exact_below=0)
>>> again.replay(index.drain())
>>> again.nearest(items, np.array([1.0, 0.0], dtype=np.float32), 2).tolist()
[0, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import hnswlib
import numpy as np

from streamrec.core.arrays import common_prefix
from streamrec.model.items import ItemStats

_ROW_BITS = (1 << 32) - 1  # a label is generation << 32 | row


@dataclass(frozen=True)
class IndexOp:
    """One change to the HNSW index: labels marked deleted, then rows inserted in order.

    The first op of an index creates it (its inserts are every item with text then)."""

    deleted: np.ndarray  # int64 labels
    labels: np.ndarray  # int64 labels inserted, in insert order
    counts: np.ndarray  # int64 review counts of the inserted rows when inserted
    vectors: np.ndarray  # float32 (inserts x dim) unit vectors as inserted


class ItemIndex:
    """Nearest items by cosine: exact below ``exact_below`` items, HNSW (hnswlib) above.

    The HNSW index is built once the catalogue passes ``exact_below``; after
    that only items whose text vector changed since the last query are
    (re)inserted (``ItemStats.changed``), so the cost follows the traffic, not
    the catalogue.
    """

    def __init__(
        self,
        dim: int,
        exact_below: int = 5000,
        m: int = 16,
        ef: int = 64,
        keep_log: bool = False,
        threads: int = 1,
    ) -> None:
        if exact_below < 0:
            raise ValueError(f"exact_below must be >= 0, got {exact_below}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.dim, self.exact_below, self.m, self.ef = dim, exact_below, m, ef
        self.keep_log = keep_log  # a checkpoint will drain the ops (the worker sets it)
        self.threads = threads  # for queries made together (prefetch); inserts use one
        self._answers: dict[tuple[int, bytes], np.ndarray] = {}  # prefetched, this graph
        self._index: hnswlib.Index | None = None
        self._live: int | None = None  # rows in the index (deleted entries left out)
        self._indexed_at = np.zeros(0, dtype=np.int64)  # review count when inserted (0: not)
        self._labels = np.zeros(0, dtype=np.int64)  # last label of each row (-1: none yet)
        self._log: list[IndexOp] = []

    @property
    def built(self) -> bool:
        return self._index is not None

    def nearest(self, items: ItemStats, vector: np.ndarray, k: int) -> np.ndarray:
        """Rows of up to ``k`` items nearest to the unit ``vector``."""
        unit = items.unit_matrix()
        n = unit.shape[0]
        if k <= 0 or n == 0:
            return np.zeros(0, dtype=np.int64)
        if n <= self.exact_below:
            # in the matrix's float32, as HNSW does: a float64 vector would copy the catalogue
            sims = unit @ vector.astype(unit.dtype, copy=False)
            k = min(k, n)
            return np.argpartition(-sims, k - 1)[:k].astype(np.int64)
        index, count = self._synced(items)
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        k = min(k, count)
        query = vector.astype(np.float32)
        if self._answers:  # answered ahead by prefetch (the graph has not changed since)
            answer = self._answers.get((k, query.tobytes()))
            if answer is not None:
                return answer
        index.set_ef(max(self.ef, k))
        labels, _ = index.knn_query(query[None, :], k=k, num_threads=1)
        return labels[0].astype(np.int64) & _ROW_BITS

    def prefetch(self, items: ItemStats, vectors: np.ndarray, ks: list[int]) -> None:
        """Answer :meth:`nearest` of each row of ``vectors`` (with its own k) ahead, the
        queries of equal k in one call on ``threads`` threads, and keep the answers until
        the graph changes. A query only reads the graph, so the answers are the ones
        :meth:`nearest` gives alone. Nothing is kept for the exact scan."""
        self._answers = {}
        if items.unit_matrix().shape[0] <= self.exact_below or not ks:
            return
        index, count = self._synced(items)
        if count == 0:
            return
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        capped = np.minimum(np.asarray(ks, dtype=np.int64), count)
        for k in np.unique(capped[capped > 0]).tolist():
            at = np.flatnonzero(capped == k)
            index.set_ef(max(self.ef, k))
            labels, _ = index.knn_query(queries[at], k=k, num_threads=self.threads)
            rows = labels.astype(np.int64) & _ROW_BITS
            for n, row in zip(at.tolist(), rows, strict=True):
                row.flags.writeable = False  # shared by every caller until the graph changes
                self._answers[(k, queries[n].tobytes())] = row

    def sync(self, items: ItemStats) -> None:
        """Insert the changed items now (the graph, once the catalogue passes
        ``exact_below``), not at the next query: an engine calls it after every batch,
        so when and how often it is read never changes the graph it answers from."""
        if items.unit_matrix().shape[0] > self.exact_below:
            self._synced(items)

    def _synced(self, items: ItemStats) -> tuple[hnswlib.Index, int]:
        """The graph with the changed items inserted, and how many live entries it holds."""
        index = self._sync(items)
        if self._live is None:
            self._live = int(np.count_nonzero(self._indexed_at))
        return index, self._live

    def _sync(self, items: ItemStats) -> hnswlib.Index:
        """Insert new items; an item whose review count doubled since it was indexed is
        inserted again under a new label and its old entry deleted (O(log reviews)
        inserts per item; an in-place HNSW update costs several inserts)."""
        if self._index is not None and not items.changed:
            return self._index  # nothing new to insert: the common case between reviews
        unit = items.unit_matrix()
        if self._index is None:
            rows = _with_text(unit, np.arange(unit.shape[0]))
        else:
            rows = np.fromiter(sorted(items.changed), dtype=np.int64, count=len(items.changed))
        items.changed.clear()
        self._grow(unit.shape[0])
        counts = items.vectors.counts[rows].astype(np.int64)
        due = (self._indexed_at[rows] == 0) | (counts >= 2 * self._indexed_at[rows])
        rows, counts = rows[due], counts[due]  # the others: looked at again at their next review
        old = self._indexed_at[rows] > 0
        labelled = self._labels[rows] >= 0  # a new label never repeats an old one
        generation = np.where(labelled, (self._labels[rows] >> 32) + 1, 0)
        op = IndexOp(
            deleted=self._labels[rows][old],
            labels=(generation << 32) | rows,
            counts=np.maximum(counts, 1),
            vectors=np.ascontiguousarray(unit[rows], dtype=np.float32),
        )
        if self._index is None or rows.size:
            self.apply(op)
        assert self._index is not None
        return self._index

    def apply(self, op: IndexOp) -> None:
        """Make one change (creating the index on the first); the only writer of the graph."""
        rows = op.labels & _ROW_BITS
        self._answers = {}  # the graph changes
        if self._index is None:
            self._index = hnswlib.Index(space="ip", dim=self.dim)
            top = int(rows.max()) + 1 if rows.size else 0
            self._index.init_index(max(1024, 2 * top), M=self.m, ef_construction=self.ef)
            self._index.set_num_threads(1)  # deterministic inserts
        if rows.size:
            self._grow(int(rows.max()) + 1)
        for label in op.deleted.tolist():
            self._index.mark_deleted(label)
        self._indexed_at[op.deleted & _ROW_BITS] = 0
        needed = self._index.get_current_count() + rows.size
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
        if rows.size:
            self._index.add_items(op.vectors, op.labels, num_threads=1)
        self._labels[rows] = op.labels
        self._indexed_at[rows] = op.counts
        self._live = None  # recounted on the next query
        if self.keep_log:
            self._log.append(op)

    def follow(self, items: ItemStats, old_ids: list, renewed: np.ndarray) -> None:
        """Another item layout was loaded into ``items`` (a merge; ``old_ids`` was the
        layout before, ``renewed`` the former rows whose unit vector the load changed):
        rows that now hold another item leave the index (one op), and they, the rows
        whose vector changed and the new rows are inserted as after a review
        (``items.changed``). Rebuilding costs seconds per 10^4 items."""
        if self._index is None:
            return
        new_ids, unit = list(items.ids), items.unit_matrix()
        size = min(len(old_ids), self._indexed_at.size)
        same = common_prefix(old_ids[:size], new_ids)  # a merge keeps theirs' rows first
        moved = [r for r in range(same, size) if r >= len(new_ids) or new_ids[r] != old_ids[r]]
        indexed = [r for r in moved if self._indexed_at[r] > 0]
        if indexed:
            empty = np.zeros(0, dtype=np.int64)
            vectors = np.zeros((0, self.dim), dtype=np.float32)
            self.apply(IndexOp(self._labels[indexed], empty, empty, vectors))
        common = min(len(old_ids), unit.shape[0])
        differs = renewed[renewed < common]
        rows = np.concatenate([np.array(moved, np.int64), differs, np.arange(common, len(new_ids))])
        items.changed.update(_with_text(unit, rows[rows < unit.shape[0]]).tolist())

    def drain(self) -> list[IndexOp]:
        """The ops since the last drain, oldest first (a checkpoint stores them)."""
        ops, self._log = self._log, []
        return ops

    def replay(self, ops: list[IndexOp]) -> None:
        """Apply a stored log, in order, to this empty index (without logging it again)."""
        if self._index is not None:
            raise ValueError("replay needs an empty index")
        keep, self.keep_log = self.keep_log, False
        try:
            for op in ops:
                self.apply(op)
        finally:
            self.keep_log = keep

    def _grow(self, size: int) -> None:
        if self._indexed_at.size < size:
            grown = max(size, 2 * self._indexed_at.size)
            extra = np.zeros(grown - self._indexed_at.size, np.int64)
            self._indexed_at = np.concatenate([self._indexed_at, extra])
            self._labels = np.concatenate([self._labels, extra - 1])


def _with_text(unit: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Those of ``rows`` whose item has a text vector (only they are indexed)."""
    return rows[np.abs(unit[rows]).sum(axis=1) > 0]
