"""What changed in the shared model's hash, so a merge reads and writes only that.

A write records the model fields it set and deleted (:func:`change_field`,
the last :data:`CHANGES_KEPT` kept); a worker that keeps its copy of the
stored model as of its last sync reads the records since, then only the fields
they name, and patches its copy (:func:`patch_shared`, the same state as
decoding the whole hash). A merge encodes only the rows whose values differ
from the stored ones (:func:`changed_item_rows`, :func:`changed_neighbour_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing import index_log
from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.packing import pack, unpack
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    caught_up,
    decay_bases,
    decay_half_lives,
    item_field,
    item_fields,
    neighbour_field,
)
from streamrec.core.arrays import rows_differ
from streamrec.model.signals import ItemSignals
from streamrec.model.sparse_rows import SparseRows

CHANGES = "c"  # prefix of the fields that list what each write changed (change_field)
CHANGES_KEPT = 256  # change records kept: a worker further behind reads the whole hash


def is_model_field(name: str) -> bool:
    """A field of the model itself: not an index log's, not a change record."""
    return not name.startswith((index_log.PREFIX, CHANGES))


def model_fields(fields: dict[str, bytes]) -> dict[str, bytes]:
    """The shared model's own fields (what a merge starts from)."""
    return {k: v for k, v in fields.items() if is_model_field(k)}


def with_change_record(
    changes: tuple[dict[str, bytes], list[str]], version: int
) -> tuple[dict[str, bytes], list[str]]:
    """A write's (fields, deleted) plus the record of what it changes in the model, and
    the record that falls out of the kept window deleted."""
    fields, deleted = changes
    written = [k for k in fields if is_model_field(k)]
    record = encode_changes(written, [k for k in deleted if is_model_field(k)])
    old = [change_field(version - CHANGES_KEPT)] if version > CHANGES_KEPT else []
    return {**fields, change_field(version): record}, [*deleted, *old]


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


def patched_fields(
    fields: Mapping[str, bytes], written: Mapping[str, bytes], deleted: Iterable[str]
) -> dict[str, bytes]:
    """``fields`` after a write of ``written`` and ``deleted`` (dict copies and set
    operations: a catalogue's fields, not a loop over them)."""
    out = dict(fields)
    for name in set(deleted) & out.keys():
        del out[name]
    out.update(written)
    return out


def merged_fields(
    stored: dict[str, bytes], fields: dict[str, bytes], merged: dict
) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """For a merge that encoded ``fields`` of the ``merged`` state over the ``stored``
    hash: the merged model's fields (stored ones it keeps, its own), those of its
    fields whose bytes differ from the stored ones (what it writes), and the stored
    model fields the merged state no longer has (what it deletes)."""
    n_items = len(merged["items"]["vectors"]["ids"])
    names = {GLOBAL, *item_fields(n_items)}
    names |= {neighbour_field(r) for r in neighbour_rows(merged["signals"]).tolist()}
    other = stored.keys() - names  # index logs, change records, model fields gone
    model = patched_fields(stored, fields, other - fields.keys())
    changed = {k: v for k, v in fields.items() if stored.get(k) != v}
    return model, changed, [k for k in other if is_model_field(k)]


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
        arrays = caught_up(arrays, meta["bases"], history, decay_half_lives(head))
    return meta["id"], arrays


def _grown(values: np.ndarray, shape: tuple, fill: float = 0.0) -> np.ndarray:
    """A new array of ``shape`` holding ``values`` where they overlap, ``fill`` elsewhere."""
    values = np.asarray(values)
    if values.shape == shape:  # one pass (a full-then-copy wrote items x dim twice)
        return values.copy()
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
    place = SparseRows.segments(table)[0]
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


def changed_item_rows(state: dict, former: dict) -> np.ndarray:
    """Item rows of shared ``state`` whose item field (:func:`encode_items`) may differ
    from ``former``'s: rows ``former`` lacks, another id, or any per-item value not
    equal. A merge keeps the other workers' rows, so it encodes only these."""
    items, was = state["items"], former["items"]
    ids, old_ids = items["vectors"]["ids"], was["vectors"]["ids"]
    n, common = len(ids), min(len(ids), len(old_ids))
    differs = np.ones(n, dtype=bool)
    if ids[:common] == old_ids[:common]:  # a merge keeps the rows: one C comparison
        kept = np.ones(common, dtype=bool)
    else:
        pairs = zip(ids[:common], old_ids[:common], strict=True)
        kept = np.fromiter((a == b for a, b in pairs), bool, common)

    def unequal(now: np.ndarray, before: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per common row: values differ (rows past an array's end hold ``fill``)."""
        now, before = np.asarray(now), np.asarray(before)
        out = np.zeros(common, dtype=bool)
        shared = min(common, len(now), len(before))
        out[:shared] = rows_differ(now, before, shared)
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
    now, was = SparseRows.segments(table), SparseRows.segments(former)
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


def _padded(values: np.ndarray, size: int, fill: int) -> np.ndarray:
    out = np.full(size, fill, dtype=np.int64)
    out[: values.size] = values
    return out


def _rows(matrix: np.ndarray, height: int) -> np.ndarray:
    """``matrix`` with zero rows added up to ``height``."""
    out = np.zeros((height, matrix.shape[1]))
    out[: matrix.shape[0]] = matrix
    return out
