"""Item fields (``i{row}``) of many rows at once: the bytes :func:`packing.pack` makes
for each, with the per-row Python cut to joining a few byte strings.

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
