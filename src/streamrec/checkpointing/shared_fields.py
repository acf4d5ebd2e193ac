"""The shared model as hash fields: a global field, and per item row its statistics
(``i{row}``) and its neighbour rows (``n{row}``), so a checkpoint writes the global
field and the items that changed (the commit order is in :mod:`streamrec.checkpointing`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.packing import pack, unpack
from streamrec.core.decay import REBASE_AT
from streamrec.model.items import ItemStats
from streamrec.model.signals import ItemSignals
from streamrec.model.sparse_rows import NEIGHBOURS

GLOBAL = "global"  # the hash field of everything that is not per item
CHANGES = "c"  # prefix of the fields that list what each write changed (change_field)
CHANGES_KEPT = 256  # change records kept: a worker further behind reads the whole hash
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
        out[item_field(row)] = pack({"id": item_id, "bases": bases}, arrays)
    return out


def encode_neighbours(signals: ItemSignals, rows: Iterable[int]) -> dict[str, bytes]:
    """The neighbour fields of those ``rows`` with a co-occurrence or transition row:
    their places in the tables and their rows."""
    positions = (signals.co.positions(), signals.transitions.positions())
    out = {}
    for row in sorted(rows):
        places, arrays = signals.neighbour_state(row, positions)
        if places != [-1, -1]:
            out[neighbour_field(row)] = pack({"places": places}, arrays)
    return out


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
    ids = vectors["ids"]
    sums = np.asarray(vectors["sums"], dtype=np.float32)
    counts = np.asarray(vectors["counts"], dtype=np.int32)
    last_ts = np.asarray(vectors["last_ts"], dtype=np.float64)
    popularity = np.asarray(items["popularity"], dtype=np.float64)
    trending = np.asarray(items["trending"]["stored"], dtype=np.float64)
    engagement = np.atleast_2d(np.asarray(items["engagement"]["stored"], dtype=np.float64))
    columns = [
        (np.asarray(signals[key], dtype=np.float64), default)
        for key, default in (("count", 0.0), ("first_seen", -1.0), ("last_seen", 0.0))
    ] + [(np.asarray(t["stored"], dtype=np.float64), 0.0) for t in signals["trends"]]
    defaults = np.array([default for _, default in columns])
    bases = [float(items["trending"]["t0"]), float(items["engagement"]["t0"])]
    bases += [float(t["t0"]) for t in signals["trends"]]
    out = {}
    for row in sorted(rows):
        one = slice(row, row + 1)
        column = engagement[:, row]
        counted = np.flatnonzero(column)
        arrays = {
            "items.sums": sums[row],
            "items.counts": counts[one],
            "items.last_ts": last_ts[one],
            "items.popularity": popularity[one],
            "items.trending": trending[one],
            "items.engagement": column[: counted[-1] + 1 if counted.size else 0],
        }
        values = np.array([float(a[row]) if row < len(a) else d for a, d in columns])
        if not np.array_equal(values, defaults):
            arrays["values"] = values
        out[item_field(row)] = pack({"id": ids[row], "bases": bases}, arrays)
    return out


def _state_neighbours(signals: dict, rows: Iterable[int]) -> dict[str, bytes]:
    """:func:`encode_neighbours` of ``rows`` of a model holding the signal state."""
    tables = []
    for name in ("co", "transitions"):
        table = signals[name]
        place, start, length = _segments(table)
        cols = np.asarray(table["cols"], dtype=np.int64)
        values = np.asarray(table["values"], dtype=np.float64)
        tables.append((name, place, start, length, cols, values))
    out = {}
    for row in sorted(rows):
        places, arrays = [], {}
        for name, place, start, length, cols, values in tables:
            held = row < place.size and place[row] >= 0
            places.append(int(place[row]) if held else -1)
            at = slice(int(start[row]), int(start[row] + length[row])) if held else slice(0, 0)
            arrays[f"{name}_cols"], arrays[f"{name}_values"] = cols[at], values[at]
        if places != [-1, -1]:
            out[neighbour_field(row)] = pack({"places": places}, arrays)
    return out


def changed_item_rows(state: dict, former: dict) -> np.ndarray:
    """Item rows of shared ``state`` whose item field (:func:`encode_items`) may differ
    from ``former``'s: rows ``former`` lacks, another id, or any per-item value not
    equal. A merge keeps the other workers' rows, so it encodes only these."""
    items, was = state["items"], former["items"]
    ids, old_ids = items["vectors"]["ids"], was["vectors"]["ids"]
    n, common = len(ids), min(len(ids), len(old_ids))
    differs = np.ones(n, dtype=bool)
    kept = np.fromiter(
        (a == b for a, b in zip(ids[:common], old_ids[:common], strict=True)), bool, common
    )

    def unequal(now: np.ndarray, before: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per common row: values differ (rows past an array's end hold ``fill``)."""
        now, before = np.asarray(now), np.asarray(before)
        out = np.zeros(common, dtype=bool)
        shared = min(common, len(now), len(before))
        for start in range(0, shared, 8192):  # views in blocks: no copies of the arrays
            at = slice(start, min(start + 8192, shared))
            out[at] = (now[at] != before[at]).reshape(at.stop - at.start, -1).any(axis=1)
        for longer in (now, before):  # past the other's end: against the fill value
            tail = longer[shared : min(common, len(longer))]
            if len(tail):
                out[shared : shared + len(tail)] = (tail != fill).reshape(len(tail), -1).any(1)
        return out

    same = kept.copy()
    vectors, old_vectors = items["vectors"], was["vectors"]
    for key in ("sums", "counts", "last_ts"):
        same &= ~unequal(vectors[key], old_vectors[key])
    same &= ~unequal(items["popularity"], was["popularity"])
    same &= ~unequal(items["trending"]["stored"], was["trending"]["stored"])
    engagement, old_engagement = (np.atleast_2d(s["engagement"]["stored"]) for s in (items, was))
    height = max(engagement.shape[0], old_engagement.shape[0])
    same &= ~unequal(_rows(engagement, height).T, _rows(old_engagement, height).T)
    signals, old_signals = state["signals"], former["signals"]
    same &= ~unequal(signals["count"], old_signals["count"])
    same &= ~unequal(signals["first_seen"], old_signals["first_seen"], fill=-1.0)
    same &= ~unequal(signals["last_seen"], old_signals["last_seen"])
    for trend, old_trend in zip(signals["trends"], old_signals["trends"], strict=True):
        same &= ~unequal(trend["stored"], old_trend["stored"])
    differs[:common] = ~same
    return np.flatnonzero(differs)


def neighbour_rows(signals: dict) -> np.ndarray:
    """Item rows with a co-occurrence or transition row (those have a neighbour field)."""
    rows = [np.asarray(signals[name]["rows"], dtype=np.int64) for name in ("co", "transitions")]
    return np.unique(np.concatenate(rows))


def changed_neighbour_rows(signals: dict, former: dict) -> np.ndarray:
    """Item rows whose neighbour field (:func:`encode_neighbours`) may differ between the
    signal states ``signals`` and ``former``: another place in a table, other cells."""
    changed = [_changed_table_rows(signals[name], former[name]) for name in ("co", "transitions")]
    return np.union1d(*changed)


def _changed_table_rows(table: dict, former: dict) -> np.ndarray:
    """Rows of a :meth:`SparseRows.state` whose place or cells differ from ``former``'s."""
    now, was = _segments(table), _segments(former)
    size = max(now[0].size, was[0].size)
    fills = (-1, 0, 0)
    place, start, length = (_padded(a, size, f) for a, f in zip(now, fills, strict=True))
    old_place, old_start, old_length = (
        _padded(a, size, f) for a, f in zip(was, fills, strict=True)
    )
    differs = (place != old_place) | (length != old_length)
    same_shape = np.flatnonzero(~differs & (length > 0))
    if same_shape.size:  # cell by cell, where place and length agree
        lengths = length[same_shape]
        owner = np.repeat(same_shape, lengths)
        offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        here, there = start[owner] + offset, old_start[owner] + offset
        cols, old_cols = (np.asarray(t["cols"]) for t in (table, former))
        values, old_values = (np.asarray(t["values"]) for t in (table, former))
        bad = (cols[here] != old_cols[there]) | (values[here] != old_values[there])
        differs[np.unique(owner[bad])] = True
    return np.flatnonzero(differs)


def _segments(table: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item row of a table's state: its place (-1: none), first cell and cell count.
    A row's cells are contiguous and every row holds a cell (a table never empties
    one), so the n-th run of cells is the row at place n (:meth:`SparseRows.positions`)."""
    rows = np.asarray(table["rows"], dtype=np.int64)
    size = int(rows.max()) + 1 if rows.size else 0
    place, start, length = np.full(size, -1), np.zeros(size, np.int64), np.zeros(size, np.int64)
    if rows.size:
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        owners = rows[first]
        place[owners] = np.arange(first.size)
        start[owners] = first
        length[owners] = np.diff(np.r_[first, rows.size])
    return place, start, length


def _padded(values: np.ndarray, size: int, fill: int) -> np.ndarray:
    out = np.full(size, fill, dtype=np.int64)
    out[: values.size] = values
    return out


def _rows(matrix: np.ndarray, height: int) -> np.ndarray:
    """``matrix`` with zero rows added up to ``height``."""
    out = np.zeros((height, matrix.shape[1]))
    out[: matrix.shape[0]] = matrix
    return out


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
        meta, arrays = unpack(named[item_field(row)])
        if meta["bases"] != [past[-1] for past in history]:  # written before a rebase
            arrays = _caught_up(arrays, meta["bases"], history, half_lives)
        ids.append(meta["id"])
        stats.append({k[6:]: v for k, v in arrays.items() if k.startswith("items.")})
        signals.append({k: v for k, v in arrays.items() if "." not in k})
    neighbours = {}
    for name, value in named.items():
        if name.startswith("n"):
            meta, arrays = unpack(value)
            neighbours[int(name[1:])] = (meta["places"], arrays)
    state = dict(head.state)
    state["items"] = ItemStats.join_state(head.state["items"], ids, stats)
    state["signals"] = ItemSignals.join_state(head.state["signals"], signals, neighbours)
    return SharedCheckpoint(state, head.version, history)


def change_field(version: int) -> str:
    """The hash field listing what the write of ``version`` changed (see
    :func:`encode_changes`): a worker that last synced at an earlier version reads
    only those fields."""
    return f"{CHANGES}{version}"


def encode_changes(written: Iterable[str], deleted: Iterable[str]) -> bytes:
    """The model fields one write set and deleted (not its index log, not itself)."""
    return pack({"written": sorted(written), "deleted": sorted(deleted)}, {})


def changes_since(records: list[bytes]) -> tuple[set[str], set[str]]:
    """The fields written and deleted over consecutive writes' change records, oldest
    first: a field's last change decides."""
    written: set[str] = set()
    deleted: set[str] = set()
    for record in records:
        head, _ = unpack(record)
        written.difference_update(head["deleted"])
        deleted.difference_update(head["written"])
        written.update(head["written"])
        deleted.update(head["deleted"])
    return written, deleted


def patch_shared(
    state: dict, fields: Mapping[str, bytes], deleted: Iterable[str] = ()
) -> SharedCheckpoint | None:
    """What :func:`join_shared` reads from a hash that held ``state`` (as it decodes it)
    and then had ``fields`` written (the global field among them) and ``deleted``
    removed, decoding only those: a merge reads what the other workers changed, not the
    catalogue. ``state`` is not modified. None when a decay base moved or items went
    away in between (unchanged fields would need catching up: read them all)."""
    head = SharedCheckpoint.from_bytes(fields[GLOBAL])
    bases = decay_bases(head.state)
    n_old, n = len(state["items"]["vectors"]["ids"]), int(head.state["items"]["n_items"])
    if bases != decay_bases(state) or n < n_old:
        return None
    history = head.history or [[base] for base in bases]
    out = dict(head.state)
    rows = sorted(int(k[1:]) for k in fields if k.startswith("i") and k[1:].isdigit())
    decoded = {r: _item_arrays(fields[item_field(r)], history, head.state) for r in rows}
    out["items"] = _patched_items(state["items"], head.state["items"], decoded)
    out["signals"] = _patched_signals(state["signals"], head.state["signals"], decoded)
    changed = {int(k[1:]) for k in [*fields, *deleted] if k.startswith("n") and k[1:].isdigit()}
    neighbours = {
        r: unpack(fields[neighbour_field(r)]) for r in changed if neighbour_field(r) in fields
    }
    for place, name in enumerate(("co", "transitions")):
        out["signals"][name] = _patched_table(
            state["signals"][name],
            int(head.state["signals"]["limits"][place]),
            changed,
            {
                r: (meta["places"][place], arrays[f"{name}_cols"], arrays[f"{name}_values"])
                for r, (meta, arrays) in neighbours.items()
                if meta["places"][place] >= 0
            },
        )
    return SharedCheckpoint(out, head.version, history)


def _item_arrays(value: bytes, history: list[list], head: dict) -> tuple[str, dict]:
    """An item field's id and arrays, caught up to the latest bases."""
    meta, arrays = unpack(value)
    if meta["bases"] != [past[-1] for past in history]:
        arrays = _caught_up(arrays, meta["bases"], history, decay_half_lives(head))
    return meta["id"], arrays


def _grown(values: np.ndarray, shape: tuple, fill: float = 0.0) -> np.ndarray:
    """A new array of ``shape`` holding ``values`` where they overlap, ``fill`` elsewhere."""
    values = np.asarray(values)
    out = np.full(shape, fill, dtype=values.dtype)
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(shape, values.shape, strict=True))
    out[overlap] = values[overlap]
    return out


def _patched_items(items: dict, head: dict, decoded: dict[int, tuple[str, dict]]) -> dict:
    """:meth:`ItemStats.join_state`'s result for ``head``: ``items``' rows, ``decoded``
    rows replaced (arrays of the same shapes and dtypes)."""
    n, dim = int(head["n_items"]), int(head["dim"])
    vectors = items["vectors"]
    ids = list(vectors["ids"]) + [None] * (n - len(vectors["ids"]))
    sums = _grown(np.asarray(vectors["sums"], dtype=np.float32), (n, dim))
    counts = _grown(np.asarray(vectors["counts"], dtype=np.int32), (n,))
    last_ts = _grown(np.asarray(vectors["last_ts"], dtype=np.float64), (n,))
    popularity = _grown(np.asarray(items["popularity"], dtype=np.float64), (n,))
    trending = _grown(items["trending"]["stored"], tuple(head["trending"]["size"]))
    engagement = _grown(
        np.atleast_2d(items["engagement"]["stored"]), tuple(head["engagement"]["size"])
    )
    for r, (item_id, arrays) in decoded.items():
        ids[r] = item_id
        sums[r] = arrays["items.sums"]
        counts[r], last_ts[r] = arrays["items.counts"][0], arrays["items.last_ts"][0]
        popularity[r], trending[r] = arrays["items.popularity"][0], arrays["items.trending"][0]
        column = arrays["items.engagement"][: engagement.shape[0]]
        engagement[:, r] = 0.0
        engagement[: len(column), r] = column
    return {
        "vector_half_life": head["vector_half_life"],
        "vectors": {"ids": ids, "sums": sums, "counts": counts, "last_ts": last_ts},
        "popularity": popularity,
        "trending": {
            "stored": trending,
            "t0": head["trending"]["t0"],
            "half_life": head["trending"]["half_life"],
        },
        "engagement": {
            "stored": engagement,
            "t0": head["engagement"]["t0"],
            "half_life": head["engagement"]["half_life"],
        },
        "cluster_rows": dict(head["cluster_rows"]),
        "free_rows": list(head["free_rows"]),
    }


def _patched_signals(signals: dict, head: dict, decoded: dict[int, tuple[str, dict]]) -> dict:
    """:meth:`ItemSignals.join_state`'s per-item arrays for ``head``: ``signals``' values,
    ``decoded`` rows replaced (the tables are patched apart)."""
    size = int(head["size"])
    old = [signals["count"], signals["first_seen"], signals["last_seen"]]
    columns = [
        _grown(np.asarray(values, dtype=np.float64), (size,), fill)
        for values, fill in zip(old, (0.0, -1.0, 0.0), strict=True)
    ]
    columns += [
        _grown(np.asarray(trend["stored"], dtype=np.float64), (int(t["size"]),))
        for trend, t in zip(signals["trends"], head["trends"], strict=True)
    ]
    defaults = [0.0, -1.0, 0.0] + [0.0] * len(head["trends"])
    for r, (_, arrays) in decoded.items():
        values = arrays["values"].tolist() if "values" in arrays else defaults
        ItemSignals.put_values(columns, r, values)
    return ItemSignals.from_columns(head, columns, signals["co"], signals["transitions"])


def _patched_table(
    table: dict, limit: int, changed: set[int], rows: dict[int, tuple[int, np.ndarray, np.ndarray]]
) -> dict:
    """A :meth:`SparseRows.state` with the ``changed`` rows replaced by ``rows`` (row ->
    place, columns, values; a changed row not there has none): rows by place, as
    :meth:`SparseRows.join_rows` orders them. A row nobody changed keeps its place."""
    old_rows = np.asarray(table["rows"], dtype=np.int64)
    place = _segments(table)[0]
    keep = ~np.isin(old_rows, np.fromiter(changed, np.int64, len(changed)))
    new = sorted(rows.items(), key=lambda entry: entry[1][0])
    lengths = [len(cols) for _, (_, cols, _) in new]
    all_rows = np.concatenate(
        [old_rows[keep], np.repeat([r for r, _ in new], lengths).astype(np.int64)]
    )
    keys = np.concatenate(
        [place[old_rows[keep]], np.repeat([p for _, (p, _, _) in new], lengths).astype(np.int64)]
    )
    cols = np.concatenate(
        [
            np.asarray(table["cols"], dtype=np.int64)[keep],
            *(np.asarray(c, dtype=np.int64) for _, (_, c, _) in new),
        ]
    )
    values = np.concatenate(
        [
            np.asarray(table["values"], dtype=np.float64)[keep],
            *(np.asarray(v, dtype=np.float64) for _, (_, _, v) in new),
        ]
    )
    order = np.argsort(keys, kind="stable")
    return {"rows": all_rows[order], "cols": cols[order], "values": values[order], "limit": limit}


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
