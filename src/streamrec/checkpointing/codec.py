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
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.core.decay import REBASE_AT
from streamrec.model.items import ItemStats
from streamrec.model.signals import ItemSignals

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
    """One compact value per user of a profiles export: a JSON header (history, dtypes,
    shapes) and the user's row of every array as raw bytes (no npz per user)."""
    arrays = {k: np.asarray(v) for k, v in users.items() if k not in _NOT_ROWS}
    lengths = np.asarray(users.get("seen_lengths", []), dtype=np.int64).tolist()
    seen, start, out = list(users.get("seen_items", [])), 0, {}
    for n, user_id in enumerate(users["ids"]):
        rows = {k: np.asarray(a[n]) for k, a in arrays.items()}  # tobytes is C order
        own, start = seen[start : start + lengths[n]], start + lengths[n]
        history = [v.item() if isinstance(v, np.generic) else v for v in own]
        head = json.dumps(
            {"seen": history, "rows": [[k, r.dtype.str, list(r.shape)] for k, r in rows.items()]}
        ).encode()
        body = b"".join(r.tobytes() for r in rows.values())
        out[user_id] = len(head).to_bytes(4, "little") + head + body
    return out


def join_users(values: dict) -> dict:
    """The profiles export of users from their :func:`split_users` values (any order)."""
    ids, seen, lengths, columns = [], [], [], {}  # type: ignore[var-annotated]
    for user_id, value in values.items():
        value = bytes(value)
        size = int.from_bytes(value[:4], "little")
        head, offset = json.loads(value[4 : 4 + size]), 4 + size
        ids.append(user_id.decode() if isinstance(user_id, bytes) else user_id)
        seen += head["seen"]
        lengths.append(len(head["seen"]))
        for name, dtype, shape in head["rows"]:
            count = int(np.prod(shape)) if shape else 1
            row = np.frombuffer(value, dtype=np.dtype(dtype), count=count, offset=offset)
            offset += row.nbytes
            columns.setdefault(name, []).append(row.reshape(tuple(shape)))
    users = {name: np.stack(rows) for name, rows in columns.items()}
    return {**users, "ids": ids, "seen_items": seen, "seen_lengths": np.array(lengths, np.int64)}


def with_users(part: PartitionCheckpoint, values: dict) -> PartitionCheckpoint:
    """The partition with its users from the per-user hash (a checkpoint written before
    checkpoints were incremental keeps its users in the blob)."""
    if values:
        part.users = join_users(values)
    return part


# -- the shared model field by field (incremental shared checkpoints) --------------------

GLOBAL = "global"  # the hash field of everything that is not per item
REBASES_KEPT = 64  # bases remembered per decayed counter; then every item is written again


def item_field(row: int) -> str:
    """The hash field of one item row: its id, statistics and signal values."""
    return f"i{row}"


def neighbour_field(row: int) -> str:
    """The hash field of one item row's co-occurrence and transition rows (apart: an
    engagement changes those of every item in the user's history, and only those)."""
    return f"n{row}"


def encode_global(state: dict, version: int, history: list[list]) -> bytes:
    """The global field: a shared state whose items and signals are ``global_state()``,
    and the history of its decay bases."""
    return SharedCheckpoint(state, version, history).to_bytes()


def encode_items(items: ItemStats, signals: ItemSignals, rows: Iterable[int]) -> dict[str, bytes]:
    """The item fields of ``rows``: the id and the decay bases the values are stored
    against, then every per-item value as raw bytes (layout as :func:`split_users`)."""
    bases = [items.trending.t0, items.engagement.t0, *(t.t0 for t in signals.trends)]
    out = {}
    for row in sorted(rows):
        item_id, stats = items.item_state(row)
        arrays = {**{f"items.{k}": v for k, v in stats.items()}, **signals.item_state(row)}
        out[item_field(row)] = _pack({"id": item_id, "bases": bases}, arrays)
    return out


def encode_neighbours(signals: ItemSignals, rows: Iterable[int]) -> dict[str, bytes]:
    """The neighbour fields of those ``rows`` with a co-occurrence or transition row:
    their places in the tables and their rows."""
    positions = (signals.co.positions(), signals.transitions.positions())
    out = {}
    for row in sorted(rows):
        places, arrays = signals.neighbour_state(row, positions)
        if places != [-1, -1]:
            out[neighbour_field(row)] = _pack({"places": places}, arrays)
    return out


def split_shared(state: dict, version: int) -> dict[str, bytes]:
    """Every field of a whole shared state (a merged state, tests)."""
    items = ItemStats(int(state["dim"]), float(state["items"]["vector_half_life"]))
    items.load(state["items"])
    signals = ItemSignals()
    signals.load(state["signals"])
    head = {**state, "items": items.global_state(), "signals": signals.global_state()}
    rows = range(items.n_items)
    history = [[base] for base in decay_bases(head)]  # every item is written against them
    return {
        GLOBAL: encode_global(head, version, history),
        **encode_items(items, signals, rows),
        **encode_neighbours(signals, rows),
    }


def join_shared(fields: Mapping[str | bytes, bytes]) -> SharedCheckpoint:
    """The whole shared state (and version) from its fields (a hash read back)."""
    named = {(k.decode() if isinstance(k, bytes) else k): bytes(v) for k, v in fields.items()}
    head = SharedCheckpoint.from_bytes(named[GLOBAL])
    n = int(head.state["items"]["n_items"])
    missing = [r for r in range(n) if item_field(r) not in named]
    if missing:
        raise ValueError(f"shared checkpoint lacks {len(missing)} of {n} item fields")
    history = head.history or [[base] for base in decay_bases(head.state)]
    half_lives = decay_half_lives(head.state)
    ids, stats, signals = [], [], []
    for row in range(n):
        meta, arrays = _unpack(named[item_field(row)])
        if meta["bases"] != [past[-1] for past in history]:  # written before a rebase
            arrays = _caught_up(arrays, meta["bases"], history, half_lives)
        ids.append(meta["id"])
        stats.append({k[6:]: v for k, v in arrays.items() if k.startswith("items.")})
        signals.append({k: v for k, v in arrays.items() if "." not in k})
    neighbours = {}
    for name, value in named.items():
        if name.startswith("n"):
            meta, arrays = _unpack(value)
            neighbours[int(name[1:])] = (meta["places"], arrays)
    state = dict(head.state)
    state["items"] = ItemStats.join_state(head.state["items"], ids, stats)
    state["signals"] = ItemSignals.join_state(head.state["signals"], signals, neighbours)
    return SharedCheckpoint(state, head.version, history)


def read_shared(fields: Mapping[str | bytes, bytes], former: bytes | None) -> dict | None:
    """The shared state from its hash's ``fields``, else from a value of the former
    one-value layout (None: no shared model yet)."""
    if fields:
        return join_shared(fields).state
    return None if former is None else SharedCheckpoint.from_bytes(former).state


def decay_bases(state: dict) -> list:
    """The bases ``t0`` of the decayed counters with per-item values (item trending and
    engagement, the signals' trends) of a shared state or a global field's."""
    items, signals = state["items"], state["signals"]
    return [items["trending"]["t0"], items["engagement"]["t0"]] + [
        t["t0"] for t in signals["trends"]
    ]


def decay_half_lives(state: dict) -> list[float]:
    """The half-lives of the counters of :func:`decay_bases`, in the same order."""
    items, signals = state["items"], state["signals"]
    counters = [items["trending"], items["engagement"], *signals["trends"]]
    return [float(c["half_life"]) for c in counters]


def follow_bases(
    history: list[list], bases: list, half_lives: list[float], kept: int = REBASES_KEPT
) -> list[list] | None:
    """Each counter's bases since the oldest an item field may be stored against, now
    that they are ``bases``; None when some item fields could not be caught up
    exactly, so every item must be written again.

    A counter rebases (:class:`~streamrec.core.decay.DecayedCounts`) when its
    base is ``REBASE_AT`` half-lives old, multiplying every value by one factor
    of the old and new base. Item fields not written since are caught up on
    reading with the same factors, in the same order, so the values are the
    same to the bit; that needs every base in between: a move of less than
    twice ``REBASE_AT`` half-lives is one rebase, a longer one may hide another.
    """
    out = []
    for past, base, half_life in zip(history, bases, half_lives, strict=True):
        if base == past[-1]:
            out.append(past)
        elif past[-1] < base < past[-1] + 2 * REBASE_AT * half_life and len(past) < kept:
            out.append([*past, base])
        else:
            return None
    return out


def _caught_up(
    arrays: dict[str, np.ndarray], bases: list, history: list[list], half_lives: list[float]
) -> dict[str, np.ndarray]:
    """An item field's decayed values re-expressed against the latest bases of
    ``history``, as the rebases did it to the live counters: one float64
    multiplication per rebase, in order (Python floats multiply as numpy's do)."""

    def factors(counter: int) -> list[float]:
        past = history[counter]
        steps = itertools.pairwise(past[past.index(bases[counter]) :])
        return [2.0 ** (-((after - before) / half_lives[counter])) for before, after in steps]

    def caught_up(value: float, counter: int) -> float:
        for factor in factors(counter):
            value = value * factor
        return value

    out = dict(arrays)
    out["items.trending"] = np.array([caught_up(float(arrays["items.trending"][0]), 0)])
    engagement = arrays["items.engagement"]
    for factor in factors(1):
        engagement = engagement * factor
    out["items.engagement"] = engagement
    if "values" in arrays:  # count, first and last sighting, then one value per trend
        values = arrays["values"].tolist()
        values[3:] = [caught_up(v, 2 + n) for n, v in enumerate(values[3:])]
        out["values"] = np.array(values)
    return out


def _pack(head: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """A JSON header (``head`` and each array's name, dtype and shape), then the arrays'
    raw bytes."""
    rows = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {**head, "rows": [[k, r.dtype.str, list(r.shape)] for k, r in rows.items()]}
    encoded = json.dumps(meta).encode()
    body = b"".join(r.tobytes() for r in rows.values())
    return len(encoded).to_bytes(4, "little") + encoded + body


def _unpack(value: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    size = int.from_bytes(value[:4], "little")
    head, offset = json.loads(value[4 : 4 + size]), 4 + size
    arrays = {}
    for name, dtype, shape in head.pop("rows"):
        count = math.prod(shape)  # 1 for a scalar's []; math, not numpy: per item, it shows
        arrays[name] = np.frombuffer(value, np.dtype(dtype), count, offset).reshape(shape)
        offset += arrays[name].nbytes
    return head, arrays
