"""Item fields (``i{row}``) and neighbour fields (``n{row}``) of many rows at once: the
bytes :func:`packing.pack` makes for each, the per-row Python cut to joining a few
byte strings.

A checkpoint writes every item changed since the last one and a merge every
item either worker changed: thousands of rows, each packed on its own cost
~40 µs (a dict of six arrays, the header encoded, six ``tobytes``). Here the
fixed-size arrays of all rows go into one record array and one ``tobytes``,
the engagement columns and signal values are gathered once, and each row's
header is spliced from its id and a cached layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from streamrec.checkpointing.packing import frame, layout_json
from streamrec.model.sparse_rows import SparseRows


class ItemArrays(NamedTuple):
    """Every per-item array an item field holds, over the catalogue's rows."""

    ids: Sequence[str | None]
    sums: np.ndarray  # (items x dim)
    counts: np.ndarray
    last_ts: np.ndarray
    popularity: np.ndarray
    trending: np.ndarray
    engagement: np.ndarray  # (clusters x items)
    signals: list[tuple[np.ndarray, float]]  # count, sightings, trends: (values, default)


def pack_items(arrays: ItemArrays, bases: list[float], rows: Iterable[int]) -> dict[str, bytes]:
    """``{"i{row}": pack({"id": id, "bases": bases}, the row's arrays)}`` for ``rows``:
    the row of each array, the engagement column up to its last non-zero, and the
    signal values when any differs from its default."""
    at = np.fromiter(sorted(rows), dtype=np.int64)
    if not at.size:
        return {}
    fixed = [
        ("items.sums", arrays.sums, (arrays.sums.shape[1],)),
        ("items.counts", arrays.counts, (1,)),
        ("items.last_ts", arrays.last_ts, (1,)),
        ("items.popularity", arrays.popularity, (1,)),
        ("items.trending", arrays.trending, (1,)),
    ]
    records = np.empty(at.size, dtype=[(name, a.dtype, shape) for name, a, shape in fixed])
    for name, values, _ in fixed:
        records[name] = values[at] if values.ndim > 1 else values[at, None]
    width, body = records.dtype.itemsize, records.tobytes()
    layout = tuple((name, a.dtype.str, shape) for name, a, shape in fixed)
    engagement = np.ascontiguousarray(arrays.engagement[:, at].T)  # a row per item
    lengths = _counted(engagement)
    values, defaults = _signal_values(arrays.signals, at)
    written = (values != defaults).any(axis=1)  # not all defaults: the values are stored
    kind, value_kind = engagement.dtype.str, values.dtype.str
    prefix = '{"id": '
    middle = ', "bases": ' + json.dumps(bases) + ', "rows": '
    out = {}
    for k, (row, length, has) in enumerate(
        zip(at.tolist(), lengths.tolist(), written.tolist(), strict=True)
    ):
        shapes = (*layout, ("items.engagement", kind, (length,)))
        if has:
            shapes += (("values", value_kind, (values.shape[1],)),)
        head = prefix + json.dumps(arrays.ids[row]) + middle + layout_json(shapes) + "}"
        parts = [body[k * width : (k + 1) * width], engagement[k, :length].tobytes()]
        if has:
            parts.append(values[k].tobytes())
        out[f"i{row}"] = frame(head, b"".join(parts))
    return out


def _counted(columns: np.ndarray) -> np.ndarray:
    """Per row: the length up to its last non-zero value (0: none)."""
    nonzero = columns != 0
    if not columns.shape[1]:
        return np.zeros(columns.shape[0], dtype=np.int64)
    return np.where(nonzero.any(axis=1), columns.shape[1] - nonzero[:, ::-1].argmax(axis=1), 0)


def _signal_values(
    columns: list[tuple[np.ndarray, float]], at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's signal values (a row past an array's end holds its default), and the
    defaults."""
    values = np.empty((at.size, len(columns)))
    for k, (column, default) in enumerate(columns):
        inside = at < len(column)
        values[:, k] = default
        values[inside, k] = np.asarray(column, dtype=np.float64)[at[inside]]
    return values, np.array([default for _, default in columns])


def pack_neighbours(tables: dict[str, dict], rows: Iterable[int]) -> dict[str, bytes]:
    """``{"n{row}": pack({"places": places}, its rows of both tables)}`` for those
    ``rows`` with a row in either table (``tables``: the co-occurrence and transition
    :meth:`SparseRows.state`); a table's place -1 and empty arrays where it has none."""
    at = np.fromiter(sorted(rows), dtype=np.int64)
    runs = []
    for name in ("co", "transitions"):
        table = tables[name]
        place, start, length = SparseRows.segments(table)
        inside = at < place.size
        row_place = np.full(at.size, -1)
        row_place[inside] = place[at[inside]]
        held = row_place >= 0
        first, count = np.zeros(at.size, np.int64), np.zeros(at.size, np.int64)
        first[held], count[held] = start[at[held]], length[at[held]]
        cols = np.asarray(table["cols"], dtype=np.int64)
        values = np.asarray(table["values"], dtype=np.float64)
        runs.append((name, row_place.tolist(), first.tolist(), count.tolist(), cols, values))
    out = {}
    (_, co_place, co_first, co_count, co_cols, co_values) = runs[0]
    (_, tr_place, tr_first, tr_count, tr_cols, tr_values) = runs[1]
    kinds = (co_cols.dtype.str, co_values.dtype.str, tr_cols.dtype.str, tr_values.dtype.str)
    for k, row in enumerate(at.tolist()):
        if co_place[k] < 0 and tr_place[k] < 0:
            continue
        co = slice(co_first[k], co_first[k] + co_count[k])
        tr = slice(tr_first[k], tr_first[k] + tr_count[k])
        layout = (
            ("co_cols", kinds[0], (co_count[k],)),
            ("co_values", kinds[1], (co_count[k],)),
            ("transitions_cols", kinds[2], (tr_count[k],)),
            ("transitions_values", kinds[3], (tr_count[k],)),
        )
        head = f'{{"places": [{co_place[k]}, {tr_place[k]}], "rows": {layout_json(layout)}}}'
        body = b"".join(
            (
                co_cols[co].tobytes(),
                co_values[co].tobytes(),
                tr_cols[tr].tobytes(),
                tr_values[tr].tobytes(),
            )
        )
        out[f"n{row}"] = frame(head, body)
    return out
