"""Checkpoints: worker state, consumed offsets and the dedup window in one blob.

The commit order of the worker, written down once (as Quix Streams does):

1. side outputs (dead letters, cluster lifecycle events) are produced and flushed;
2. the batch's Redis writes (recs, assignments) succeed;
3. the checkpoint is written to Redis in one MULTI/EXEC: the shared model
   (clusters, items, labels; merged with other workers' under WATCH, see
   :mod:`streamrec.sync`) and, per owned partition, a
   :class:`PartitionCheckpoint` (its users' profiles, its next offsets, its
   dedup window);
4. the same offsets are committed to the Kafka consumer group.

A crash before 3 replays the batch from the previous checkpoint onto the
previous state, which rewrites the same Redis values (effectively once). A
crash between 3 and 4 leaves Kafka behind the checkpoint: on restart the
worker seeks to the checkpoint's offsets, which win over the group's. Events
redelivered for any other reason are dropped by the dedup window. Because
the shared model and the partitions' offsets change in one transaction, no
event's contribution is merged twice or lost.

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
from collections import OrderedDict
from collections.abc import Iterable, Sequence
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


class DedupWindow:
    """The last ``size`` event ids seen, with their user and partition, oldest evicted first.

    >>> window = DedupWindow(2)
    >>> [window.add(e) for e in ["a", "b", "a", "c", "a"]]  # 'a' is forgotten by the end
    [True, True, False, True, True]
    """

    def __init__(self, size: int = 100_000, entries: Iterable[Sequence] = ()) -> None:
        self.size = size
        self._ids: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self.extend(entries)

    def extend(self, entries: Iterable[Sequence]) -> None:
        for entry in entries:
            self.add(str(entry[0]), str(entry[1]), int(entry[2]) if len(entry) > 2 else -1)

    def add(self, event_id: str, owner: str = "", partition: int = -1) -> bool:
        """Record ``event_id``; False when it was already in the window."""
        if self.size <= 0:
            return True
        if event_id in self._ids:
            return False
        self._ids[event_id] = (owner, partition)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def forget_owner(self, owner: str) -> int:
        """Drop every entry of one user (for deletion requests)."""
        return self._drop(lambda value: value[0] == owner)

    def drop_partition(self, partition: int) -> int:
        return self._drop(lambda value: value[1] == partition)

    def _drop(self, doomed) -> int:  # type: ignore[no-untyped-def]
        gone = [i for i, value in self._ids.items() if doomed(value)]
        for event_id in gone:
            del self._ids[event_id]
        return len(gone)

    def entries(self, partition: int | None = None) -> list[list]:
        return [[i, o, p] for i, (o, p) in self._ids.items()
                if partition is None or p == partition]


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
        return cls(data["users"], {k: int(v) for k, v in data["offsets"].items()},
                   [list(e) for e in data["dedup"]])


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def partition_of(key: str) -> int:
    """The partition number of a ``topic:partition`` key."""
    return int(key.rpartition(":")[2])
