"""The checkpoint codec: nested state with numpy arrays as one binary blob, and the two
blobs a worker writes (the shared model, and users, offsets and dedup window per
partition). The commit order they follow is in :mod:`streamrec.checkpointing`.

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
    """The shared model and the version it was written at (for WATCH-based merging)."""

    state: dict
    version: int = 0

    def to_bytes(self) -> bytes:
        return dumps({"state": self.state, "version": self.version})

    @classmethod
    def from_bytes(cls, blob: bytes) -> SharedCheckpoint:
        data = loads(blob)
        return cls(data["state"], int(data["version"]))


@dataclass
class PartitionCheckpoint:
    """One partition number across the input topics: its users, offsets and dedup window."""

    users: dict
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
