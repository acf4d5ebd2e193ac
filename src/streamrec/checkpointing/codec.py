"""The checkpoint codec: nested state with numpy arrays as one binary blob, and the two
blobs a worker writes (the shared model, and users, offsets and dedup window per
partition), and users one hash value each. The shared model's per-item fields are in
:mod:`streamrec.checkpointing.shared_fields`; the commit order they follow is in
:mod:`streamrec.checkpointing`.

The blob is an ``.npz`` archive (no pickle): arrays stay binary and the rest
of the nested state travels as JSON.

>>> blob = dumps({"a": np.arange(3), "b": {"c": [1, "x", None]}})
>>> state = loads(blob)
>>> state["a"].tolist(), state["b"]
([0, 1, 2], {'c': [1, 'x', None]})
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.checkpointing.packing import pack, unpack

_ARRAY = "__array__"
_META = "__meta__"


def dumps(state: dict) -> bytes:
    arrays: dict[str, np.ndarray] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {_ARRAY: key}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [encode(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    meta = json.dumps(encode(state)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{_META: np.frombuffer(meta, dtype=np.uint8)})
    return buffer.getvalue()


def loads(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays.pop(_META).tobytes())

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_ARRAY}:
                return arrays[value[_ARRAY]]
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(meta)


@dataclass
class SharedCheckpoint:
    """The shared model and the version it was written at (for WATCH-based merging);
    in the global field also the history of the decay bases (:func:`follow_bases`)."""

    state: dict
    version: int = 0
    history: list[list] | None = None

    def to_bytes(self) -> bytes:
        data = {"state": self.state, "version": self.version}
        return dumps(data if self.history is None else {**data, "history": self.history})

    @classmethod
    def from_bytes(cls, blob: bytes) -> SharedCheckpoint:
        data = loads(blob)
        return cls(data["state"], int(data["version"]), data.get("history"))


@dataclass
class PartitionCheckpoint:
    """One partition number across the input topics: its users, offsets and dedup window."""

    users: dict  # in the blob only for checkpoints from before the per-user hash
    offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> next offset
    dedup: list[list] = field(default_factory=list)  # [event_id, user_id, partition]

    def to_bytes(self) -> bytes:
        return dumps({"users": self.users, "offsets": self.offsets, "dedup": self.dedup})

    @classmethod
    def from_bytes(cls, blob: bytes) -> PartitionCheckpoint:
        data = loads(blob)
        return cls(
            data["users"],
            {k: int(v) for k, v in data["offsets"].items()},
            [list(e) for e in data["dedup"]],
        )


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def partition_of(key: str) -> int:
    """The partition number of a ``topic:partition`` key."""
    return int(key.rpartition(":")[2])


# -- users one by one (incremental partition checkpoints) --------------------------------

_NOT_ROWS = ("ids", "seen_items", "seen_lengths")


def split_users(users: dict) -> dict[str, bytes]:
    """One compact value per user of a profiles export (:func:`~streamrec.checkpointing.
    packing.pack`: the user's history in the header, their row of every array as bytes)."""
    arrays = {k: np.asarray(v) for k, v in users.items() if k not in _NOT_ROWS}
    lengths = np.asarray(users.get("seen_lengths", []), dtype=np.int64).tolist()
    seen, start, out = list(users.get("seen_items", [])), 0, {}
    for n, user_id in enumerate(users["ids"]):
        own, start = seen[start : start + lengths[n]], start + lengths[n]
        history = [v.item() if isinstance(v, np.generic) else v for v in own]
        out[user_id] = pack({"seen": history}, {k: a[n] for k, a in arrays.items()})
    return out


def join_users(values: dict) -> dict:
    """The profiles export of users from their :func:`split_users` values (any order)."""
    ids, seen, lengths, columns = [], [], [], {}  # type: ignore[var-annotated]
    for user_id, value in values.items():
        head, rows = unpack(bytes(value))
        ids.append(user_id.decode() if isinstance(user_id, bytes) else user_id)
        seen += head["seen"]
        lengths.append(len(head["seen"]))
        for name, row in rows.items():
            columns.setdefault(name, []).append(row)
    users = {name: np.stack(rows) for name, rows in columns.items()}
    return {**users, "ids": ids, "seen_items": seen, "seen_lengths": np.array(lengths, np.int64)}


def with_users(part: PartitionCheckpoint, values: dict) -> PartitionCheckpoint:
    """The partition with its users from the per-user hash (a checkpoint written before
    checkpoints were incremental keeps its users in the blob)."""
    if values:
        part.users = join_users(values)
    return part
