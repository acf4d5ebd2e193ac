"""The nearest-item index's log as fields of the shared model's hash, per worker.

An HNSW graph is a function of the order of its changes, not of the item
vectors alone (:mod:`streamrec.model.item_index`), so a worker with a static
instance id stores its index's ops: field ``a:{instance}:{seq}`` holds the ops
of one stretch (at most :data:`CHUNK_INSERTS` inserts, far below Redis's 512 MB
per value), field ``a:{instance}`` how many stretches the log has and the rows
changed since the index last synced. They are written in the checkpoint's
MULTI/EXEC, so the log always matches the stored model; a restored worker
replays them in order. Each worker has its own log (its own graph): a merge
of other workers' changes reloads the model and starts this worker's log anew.

>>> op = IndexOp(np.zeros(0, np.int64), np.arange(3), np.ones(3, np.int64),
...              np.eye(3, dtype=np.float32))
>>> fields = encode_log("w0", 0, [op])
>>> fields[meta_field("w0")] = encode_meta(len(fields), [2])
>>> ops, pending, count = read_log(fields, "w0")
>>> [o.labels.tolist() for o in ops], pending, count
([[0, 1, 2]], [2], 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing.packing import pack, unpack
from streamrec.model.item_index import IndexOp

PREFIX = "a:"  # every index-log field starts so (no item or neighbour field does)
CHUNK_INSERTS = 16_384  # inserts per field: 25 MB of 384-d vectors


def meta_field(instance: str) -> str:
    return f"{PREFIX}{instance}"


def chunk_field(instance: str, seq: int) -> str:
    return f"{PREFIX}{instance}:{seq}"


def is_chunk_of(name: str, instance: str) -> bool:
    return name.startswith(f"{PREFIX}{instance}:")


def encode_log(instance: str, first: int, ops: list[IndexOp]) -> dict[str, bytes]:
    """Fields ``first``, ``first + 1``, ... holding ``ops`` in order (a long insert is
    split across fields: hnswlib inserts one row after another either way)."""
    chunks: list[list[IndexOp]] = [[]]
    room = CHUNK_INSERTS
    for op in ops:
        deleted = op.deleted
        start = 0
        while True:
            if room == 0:
                chunks.append([])
                room = CHUNK_INSERTS
            end = min(op.labels.size, start + room)
            cut = slice(start, end)
            chunks[-1].append(IndexOp(deleted, op.labels[cut], op.counts[cut], op.vectors[cut]))
            room -= end - start
            deleted, start = deleted[:0], end
            if start >= op.labels.size:
                break
    if not chunks[-1]:
        chunks.pop()
    return {chunk_field(instance, first + n): _pack(ops) for n, ops in enumerate(chunks)}


def encode_meta(chunks: int, pending: Iterable[int]) -> bytes:
    """How many chunk fields the log has, and the rows changed since the last sync."""
    rows = np.array(sorted(pending), dtype=np.int64)
    return pack({"chunks": chunks}, {"pending": rows})


def read_log(
    fields: Mapping[str, bytes], instance: str
) -> tuple[list[IndexOp], list[int], int] | None:
    """The ops of ``instance``'s log in order, its pending rows and its chunk count
    (None: no log, or a chunk missing)."""
    meta = fields.get(meta_field(instance))
    if meta is None:
        return None
    head, arrays = unpack(meta)
    count = int(head["chunks"])
    names = [chunk_field(instance, n) for n in range(count)]
    if any(name not in fields for name in names):
        return None
    ops = [op for name in names for op in _unpack(fields[name])]
    return ops, arrays["pending"].tolist(), count


def _pack(ops: list[IndexOp]) -> bytes:
    arrays = {}
    for n, op in enumerate(ops):
        arrays |= {f"d{n}": op.deleted, f"l{n}": op.labels, f"c{n}": op.counts}
        arrays[f"v{n}"] = op.vectors
    return pack({"ops": len(ops)}, arrays)


def _unpack(value: bytes) -> list[IndexOp]:
    head, arrays = unpack(value)
    return [
        IndexOp(arrays[f"d{n}"], arrays[f"l{n}"], arrays[f"c{n}"], arrays[f"v{n}"])
        for n in range(int(head["ops"]))
    ]
