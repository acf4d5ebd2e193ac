"""The shared model as hash fields: a global field, and per item row its statistics
(``i{row}``) and its neighbour rows (``n{row}``), so a checkpoint writes the global
field and the items that changed (the commit order is in :mod:`streamrec.checkpointing`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.item_packing import ItemArrays, pack_items, pack_neighbours
from streamrec.checkpointing.packing import unpack
from streamrec.core.decay import REBASE_AT, rebase_factor
from streamrec.model.items import ItemStats
from streamrec.model.signals import ItemSignals
from streamrec.model.sparse_rows import NEIGHBOURS

GLOBAL = "global"  # the hash field of everything that is not per item
REBASES_KEPT = 64  # bases remembered per decayed counter; then every item is written again


def item_field(row: int) -> str:
    """The hash field of one item row: its id, statistics and signal values."""
    return f"i{row}"


_ITEM_FIELDS: list[list[str]] = [[]]  # item_field of rows 0, 1, ... (replaced, never grown)


def item_fields(n: int) -> list[str]:
    """:func:`item_field` of rows ``0 .. n - 1``; each name is made once per process (a
    merge and a restore name every item of the catalogue)."""
    names = _ITEM_FIELDS[0]
    if len(names) < n:
        names = names + [item_field(row) for row in range(len(names), n)]
        _ITEM_FIELDS[0] = names  # a new list: a reader holding the old one is not affected
    return names[:n]


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
    against, then every per-item value as raw bytes (layout as :func:`split_users`;
    the row's arrays as :meth:`ItemStats.item_state` and :meth:`ItemSignals.item_state`
    give them, packed many at once by :func:`pack_items`)."""
    bases = [items.trending.t0, items.engagement.t0, *(t.t0 for t in signals.trends)]
    vectors = items.vectors
    arrays = ItemArrays(
        vectors.ids,
        vectors.sums,
        vectors.counts,
        vectors.last_ts,
        items.popularity,
        items.trending.stored,
        items.engagement.stored,
        _signal_columns(
            signals.count, signals.first_seen, signals.last_seen, [t.stored for t in signals.trends]
        ),
    )
    return pack_items(arrays, bases, rows)


def _signal_columns(
    count: np.ndarray, first_seen: np.ndarray, last_seen: np.ndarray, trends: list[np.ndarray]
) -> list[tuple[np.ndarray, float]]:
    """The signal arrays of an item field and their defaults."""
    columns = [(count, 0.0), (first_seen, -1.0), (last_seen, 0.0), *((t, 0.0) for t in trends)]
    return [(np.asarray(a, dtype=np.float64), d) for a, d in columns]


def encode_neighbours(signals: ItemSignals, rows: Iterable[int]) -> dict[str, bytes]:
    """The neighbour fields of those ``rows`` with a co-occurrence or transition row:
    their places in the tables and their rows (:meth:`ItemSignals.neighbour_state`,
    packed many at once by :func:`pack_neighbours`)."""
    return pack_neighbours(
        {"co": signals.co.state(), "transitions": signals.transitions.state()}, rows
    )


def split_shared(
    state: dict,
    version: int,
    history: list[list] | None = None,
    item_rows: Iterable[int] | None = None,
    neighbour_rows: Iterable[int] | None = None,
) -> dict[str, bytes]:
    """The fields of a whole shared state (a merged state, tests): the global field, the
    item fields of ``item_rows`` and the neighbour fields of ``neighbour_rows`` (default
    every item). Items are written against the state's bases; ``history``: the bases'
    past to keep in the global field (fields already stored against an earlier base
    stay readable).

    Encoded from the state's arrays, as :func:`encode_items` and
    :func:`encode_neighbours` encode a model holding it (the same bytes), without
    building one: a merge writes a few rows of a large catalogue."""
    items, signals = state["items"], state["signals"]
    head = {**state, "items": _items_head(items), "signals": _signals_head(signals)}
    every = range(len(items["vectors"]["ids"]))
    history = history or [[base] for base in decay_bases(head)]
    return {
        GLOBAL: encode_global(head, version, history),
        **_state_items(items, signals, every if item_rows is None else item_rows),
        **_state_neighbours(signals, every if neighbour_rows is None else neighbour_rows),
    }


def _items_head(items: dict) -> dict:
    """:meth:`ItemStats.global_state` of a model holding the item state ``items``."""
    sums = np.asarray(items["vectors"]["sums"])
    return {
        "vector_half_life": items["vector_half_life"],
        "dim": int(sums.shape[1]),
        "n_items": len(items["vectors"]["ids"]),
        "trending": _counter_head(items["trending"]),
        "engagement": _counter_head(items["engagement"]),
        "cluster_rows": {str(k): int(v) for k, v in items["cluster_rows"].items()},
        "free_rows": [int(r) for r in items["free_rows"]],
    }


def _counter_head(counter: dict) -> dict:
    stored = np.asarray(counter["stored"])
    return {
        "t0": float(counter["t0"]),
        "half_life": float(counter["half_life"]),
        "size": list(stored.shape),
    }


def _signals_head(signals: dict) -> dict:
    """:meth:`ItemSignals.global_state` of a model holding the signal state ``signals``."""
    return {
        "clock": int(signals["clock"]),
        "size": len(signals["count"]),
        "trends": [
            {"t0": float(t["t0"]), "half_life": float(t["half_life"]), "size": len(t["stored"])}
            for t in signals["trends"]
        ],
        "limits": [int(signals[name].get("limit", NEIGHBOURS)) for name in ("co", "transitions")],
    }


def _state_items(items: dict, signals: dict, rows: Iterable[int]) -> dict[str, bytes]:
    """:func:`encode_items` of ``rows`` of a model holding these item and signal states."""
    vectors = items["vectors"]
    arrays = ItemArrays(
        vectors["ids"],
        np.asarray(vectors["sums"], dtype=np.float32),
        np.asarray(vectors["counts"], dtype=np.int32),
        np.asarray(vectors["last_ts"], dtype=np.float64),
        np.asarray(items["popularity"], dtype=np.float64),
        np.asarray(items["trending"]["stored"], dtype=np.float64),
        np.atleast_2d(np.asarray(items["engagement"]["stored"], dtype=np.float64)),
        _signal_columns(
            signals["count"],
            signals["first_seen"],
            signals["last_seen"],
            [t["stored"] for t in signals["trends"]],
        ),
    )
    bases = [float(items["trending"]["t0"]), float(items["engagement"]["t0"])]
    bases += [float(t["t0"]) for t in signals["trends"]]
    return pack_items(arrays, bases, rows)


def _state_neighbours(signals: dict, rows: Iterable[int]) -> dict[str, bytes]:
    """:func:`encode_neighbours` of ``rows`` of a model holding the signal state."""
    return pack_neighbours(signals, rows)


def join_shared(fields: Mapping[str | bytes, bytes]) -> SharedCheckpoint:
    """The whole shared state (and version) from its fields (a hash read back)."""
    named = {(k.decode() if isinstance(k, bytes) else k): bytes(v) for k, v in fields.items()}
    head = SharedCheckpoint.from_bytes(named[GLOBAL])
    n = int(head.state["items"]["n_items"])
    values = list(map(named.get, item_fields(n)))
    missing = values.count(None)
    if missing:
        raise ValueError(f"shared checkpoint lacks {missing} of {n} item fields")
    history = head.history or [[base] for base in decay_bases(head.state)]
    latest = [past[-1] for past in history]
    half_lives = decay_half_lives(head.state)
    ids, stats, signals = [], [], []
    split: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}  # per set of array names
    for value in values:
        meta, arrays = unpack(value)  # type: ignore[arg-type]
        if meta["bases"] != latest:  # written before a rebase
            arrays = caught_up(arrays, meta["bases"], history, half_lives)
        ids.append(meta["id"])
        names = tuple(arrays)
        parts = split.get(names)
        if parts is None:
            parts = split[names] = (
                [k for k in names if k.startswith("items.")],
                [k for k in names if "." not in k],
            )
        stats.append({k[6:]: arrays[k] for k in parts[0]})
        signals.append({k: arrays[k] for k in parts[1]})
    neighbours = {}
    for name, value in named.items():
        if name.startswith("n"):
            meta, arrays = unpack(value)
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


def rebase_factors(past: list, base: float, half_life: float) -> list[float]:
    """The factors of the rebases in a counter's bases ``past`` since ``base``, in order."""
    steps = itertools.pairwise(past[past.index(base) :])
    return [rebase_factor(before, after, half_life) for before, after in steps]


def caught_up(
    arrays: dict[str, np.ndarray], bases: list, history: list[list], half_lives: list[float]
) -> dict[str, np.ndarray]:
    """An item field's decayed values re-expressed against the latest bases of
    ``history``, as the rebases did it to the live counters: one float64
    multiplication per rebase, in order (Python floats multiply as numpy's do)."""

    def factors(counter: int) -> list[float]:
        return rebase_factors(history[counter], bases[counter], half_lives[counter])

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


def caught_up_state(state: dict, history: list[list]) -> dict | None:
    """A shared ``state`` with its decayed counters re-expressed against the latest
    bases of ``history`` (which holds each counter's base): what reading its item
    fields under that history gives, the same multiplications in the same order as
    :func:`caught_up`. ``state`` is not modified; None when a base is not in the
    history (the fields cannot be caught up: read them all)."""
    items, signals = state["items"], state["signals"]
    counters = [items["trending"], items["engagement"], *signals["trends"]]
    moved = []
    for counter, past in zip(counters, history, strict=True):
        if counter["t0"] not in past:
            return None
        stored = np.asarray(counter["stored"])
        for factor in rebase_factors(past, counter["t0"], float(counter["half_life"])):
            stored = stored * factor
        moved.append({**counter, "stored": stored, "t0": past[-1]})
    trending, engagement, *trends = moved
    return {
        **state,
        "items": {**items, "trending": trending, "engagement": engagement},
        "signals": {**signals, "trends": trends},
    }
