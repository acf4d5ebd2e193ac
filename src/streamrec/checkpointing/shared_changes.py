"""What changed in the shared model's hash, so a merge reads and writes only that.

A write records the model fields it set and deleted (:func:`change_field`,
the last :data:`CHANGES_KEPT` kept); a worker that keeps its copy of the
stored model as of its last sync reads the records since, then only the fields
they name, and patches its copy
(:func:`streamrec.checkpointing.shared_patch.patch_shared`, the same state as
decoding the whole hash). A merge encodes only the rows whose values differ
from the stored ones (:func:`changed_item_rows`, :func:`changed_neighbour_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing import index_log
from streamrec.checkpointing.packing import pack, unpack
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    item_fields,
    neighbour_field,
)
from streamrec.core.arrays import rows_differ, run_cells
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
        here = run_cells(start[same_shape], lengths)
        there = run_cells(old_start[same_shape], lengths)
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
