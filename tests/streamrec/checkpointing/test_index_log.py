"""The index log as hash fields: split into chunks, read back in order, replayed."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.checkpointing import index_log
from streamrec.model.item_index import ItemIndex
from streamrec.model.items import ItemStats

DIM = 16


def _items(n: int, seed: int) -> ItemStats:
    rng = np.random.default_rng(seed)
    items = ItemStats(DIM)
    for row, vector in enumerate(rng.standard_normal((n, DIM)).astype(np.float32)):
        items.add_text(items.row(f"i{row}"), vector / np.linalg.norm(vector))
    return items


def test_a_log_split_into_small_chunks_replays_to_the_same_index(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(index_log, "CHUNK_INSERTS", 7)
    items = _items(120, 0)
    index = ItemIndex(DIM, exact_below=10, keep_log=True)
    query = items.unit_matrix()[5]
    index.nearest(items, query, 10)  # the first op inserts all 120 rows
    for _ in range(3):  # a popular item's count doubles: deleted and inserted again
        items.add_text(3, query)
    index.nearest(items, query, 10)
    ops = index.drain()
    fields = index_log.encode_log("w0", 4, ops)
    assert len(fields) == -(-sum(op.labels.size for op in ops) // 7)  # every chunk full
    fields[index_log.meta_field("w0")] = index_log.encode_meta(4 + len(fields), {9, 2})
    fields |= {index_log.chunk_field("w0", n): b"" for n in range(4)}  # stored before
    fields = {k: v for k, v in fields.items() if v}  # ... but lost: the log is unusable
    assert index_log.read_log(fields, "w0") is None
    first = index_log.encode_log("w0", 0, ops)
    chunks = len(first)
    first[index_log.meta_field("w0")] = index_log.encode_meta(chunks, {9, 2})
    replayed_ops, pending, count = index_log.read_log(first, "w0")  # type: ignore[misc]
    assert (pending, count) == ([2, 9], chunks)
    assert sum(op.deleted.size for op in replayed_ops) == 1
    again = ItemIndex(DIM, exact_below=10)
    again.replay(replayed_ops)
    for q in items.unit_matrix()[:20]:
        assert again.nearest(items, q, 10).tolist() == index.nearest(items, q, 10).tolist()
    assert index_log.read_log(first, "w1") is None  # another worker's log is its own
    with pytest.raises(ValueError, match="empty index"):
        again.replay(replayed_ops)
