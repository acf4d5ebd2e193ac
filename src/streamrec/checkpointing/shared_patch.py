"""A worker's copy of the stored shared model, patched with the fields other workers
wrote since its last sync (:func:`patch_shared`): the state decoding the whole hash
would give, decoding only those fields. Which fields they were, the change records
say (:mod:`streamrec.checkpointing.shared_changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.packing import unpack
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    caught_up,
    caught_up_state,
    decay_bases,
    decay_half_lives,
    item_field,
    neighbour_field,
)
from streamrec.model.signals import ItemSignals
from streamrec.model.sparse_rows import SparseRows


def patch_shared(
    state: dict, fields: Mapping[str, bytes], deleted: Iterable[str] = ()
) -> SharedCheckpoint | None:
    """What :func:`join_shared` reads from a hash that held ``state`` (as it decodes it)
    and then had ``fields`` written (the global field among them) and ``deleted``
    removed, decoding only those: a merge reads what the other workers changed, not the
    catalogue. ``state`` is not modified. A decay base that moved since is followed
    over the bases' history, as readers of the unchanged fields do
    (:func:`caught_up_state`). None when that history does not reach back to
    ``state``'s bases or items went away in between: read them all."""
    head = SharedCheckpoint.from_bytes(fields[GLOBAL])
    bases = decay_bases(head.state)
    n_old, n = len(state["items"]["vectors"]["ids"]), int(head.state["items"]["n_items"])
    if n < n_old:
        return None
    history = head.history or [[base] for base in bases]
    if bases != decay_bases(state):
        moved = caught_up_state(state, history)
        if moved is None:
            return None
        state = moved
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
