"""The ranker's features: one row of signals per item, for one user.

Columns (:data:`FEATURES`): trends over several horizons, popularity, item
co-occurrence with the user's history (kNN) and transitions from their last
item, freshness, text similarity to the user's profile and last review, and
their cluster's engagement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from streamrec.core.decay import decay
from streamrec.model.feature_kernel import fill_features
from streamrec.model.items import ItemStats
from streamrec.model.kernels import COMPILED
from streamrec.model.profiles import UserProfiles
from streamrec.model.signals import ItemSignals

FEATURES = (
    "trend100",
    "trend300",
    "trend1000",
    "trend3000",
    "popularity",
    "knn",
    "knn_recent",
    "transition",
    "content",
    "content_last",
    "fresh100",
    "fresh1000",
    "new1000",
    "knn_log",
    "transition_log",
    "cluster",
)


class FeatureSource(Protocol):
    """The parts of the model the features read (the engine has them)."""

    signals: ItemSignals
    profiles: UserProfiles
    items: ItemStats
    clock: int

    def item_matrix(self) -> np.ndarray: ...


def features(
    model: FeatureSource, user_id: str | None, rows: np.ndarray | None = None
) -> np.ndarray:
    """The (rows x FEATURES) matrix of one user over ``rows`` (default: every item).

    Work is proportional to ``len(rows)`` plus the user's history, except for a
    few vectorised maxima (the normalisers of ``unit_max``), so the values of a
    row do not depend on which other rows were asked for.
    """
    size = model.items.n_items
    rows = None if rows is None else np.asarray(rows, dtype=np.int64)
    at = slice(0, size) if rows is None else rows  # every item: views, not copies
    signals = model.signals
    signals.ensure(size)
    row = model.profiles.index.get(user_id) if user_id is not None else None
    seen = model.profiles.seen[row].tolist() if row is not None else []
    listed = np.arange(size) if rows is None else rows
    if COMPILED:
        out = _compiled_columns(signals, seen, listed, size)
    else:
        out = np.zeros((size if rows is None else rows.size, len(FEATURES)))
        _item_columns(signals, at, out)
        if seen:
            _history_features(signals, seen, rows, size, out)
    if row is None:
        return out
    if model.profiles.counts[row] > 0:
        items = model.item_matrix()[at]
        # in the items' float32: a float64 profile would copy the block to float64 first
        out[:, 8] = items @ model.profiles.vectors(np.array([row]))[0].astype(items.dtype)
        out[:, 9] = items @ model.profiles.last[row].astype(np.float32)
    cluster = int(model.profiles.cluster[row])
    if cluster >= 0:
        out[:, 15] = model.items.unit_at(cluster, listed)
    return out


def _compiled_columns(
    signals: ItemSignals, seen: list[int], rows: np.ndarray, size: int
) -> np.ndarray:
    """The columns that do not read the text vectors, at ``rows``: one compiled pass
    (:func:`streamrec.model.feature_kernel.fill_features`) for what :func:`_item_columns` and
    :func:`_history_features` compute in many numpy calls, then numpy's ``log1p`` and
    ``exp`` over one block each, so every value is the numpy path's to the bit."""
    out = np.zeros((rows.size, len(FEATURES)))
    trends = signals.trends
    n = len(trends) + 1
    logs = np.empty((n + 2, rows.size))  # trends, count, kNN, transition: log1p'd
    fresh = np.empty((3, rows.size))  # the freshness exponents: exp'd
    if seen:
        sums = signals.history_reads(seen, rows, size)
        cols, knn, knn_recent = sums.cols, sums.knn, sums.knn_recent
        t_cols, transition = sums.t_cols, sums.transition
    else:
        cols = t_cols = np.zeros(0, dtype=np.int64)
        knn = knn_recent = transition = np.zeros(0)
    clock = signals.clock
    fill_features(
        rows,
        tuple(t.stored for t in trends),
        np.array([decay(clock - t.t0, t.half_life) for t in trends]),
        signals.count,
        signals.last_seen,
        signals.first_seen,
        float(clock),
        cols,
        knn,
        knn_recent,
        t_cols,
        transition,
        size,
        logs,
        fresh,
        out,
    )
    np.log1p(logs, out=logs)
    np.exp(fresh, out=fresh)
    out[:, :n] = logs[:n].T
    out[:, 10:13] = fresh.T
    out[:, 13:15] = logs[n:].T
    return out


def _item_columns(signals: ItemSignals, at: slice | np.ndarray, out: np.ndarray) -> None:
    """Trends, popularity and freshness (the columns that do not depend on the user).

    Each of ``log1p`` and ``exp`` runs once over one contiguous block of every column it
    makes: the same values as one call per column, for a fraction of the calls."""
    n = out.shape[0]
    trends = signals.trends
    logs = np.empty((len(trends) + 1, n))
    for k, values in enumerate([*(t.stored for t in trends), signals.count]):
        logs[k] = values[at]
    clock = signals.clock
    logs[:-1] *= np.array([decay(clock - t.t0, t.half_life) for t in trends])[:, None]
    np.log1p(logs, out=logs)
    out[:, : len(trends) + 1] = logs.T
    seen = np.empty((3, n))  # last and first sightings, then the freshness decays
    seen[0], seen[2] = signals.last_seen[at], signals.first_seen[at]
    np.subtract(clock, seen[0], out=seen[0])
    seen[2] = np.where(seen[2] >= 0, clock - seen[2], 1e9)
    np.divide(seen[0], -1000.0, out=seen[1])  # -x / d, exactly: IEEE division is symmetric
    np.divide(seen[0], -100.0, out=seen[0])
    np.divide(seen[2], -1000.0, out=seen[2])
    np.exp(seen, out=seen)
    out[:, 10:13] = seen.T


def _history_features(
    signals: ItemSignals, seen: list[int], rows: np.ndarray | None, size: int, out: np.ndarray
) -> None:
    """Co-occurrence (kNN) and transition columns from the user's recent items."""
    sums = signals.history_sums(seen)
    cols, t_cols, transition = sums.cols, sums.t_cols, sums.transition
    knn, knn_recent = sums.knn, sums.knn_recent
    if cols.size and cols[-1] >= size:  # sorted: only columns past this model's items go
        keep = cols < size
        cols, knn, knn_recent = cols[keep], knn[keep], knn_recent[keep]
    if t_cols.size and t_cols[-1] >= size:
        keep = t_cols < size
        t_cols, transition = t_cols[keep], transition[keep]
    norm = np.sqrt(np.maximum(signals.count[cols], 1.0))
    knn, knn_recent = knn / norm, knn_recent / norm
    read = _reader(cols, rows, size)  # the three kNN columns share their keys
    found = read(knn)
    out[:, 5] = _unit_max(found, knn)
    out[:, 6] = _unit_max(read(knn_recent), knn_recent)
    out[:, 13] = np.log1p(found)
    found = _reader(t_cols, rows, size)(transition)
    out[:, 7] = _unit_max(found, transition)
    out[:, 14] = np.log1p(found)


def _reader(
    keys: np.ndarray, rows: np.ndarray | None, size: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Reads sparse vectors on sorted ``keys`` at ``rows`` (None: every row; 0 where
    absent); where each row sits among the keys is found once for all of them."""
    if rows is None:

        def dense(values: np.ndarray) -> np.ndarray:
            out = np.zeros(size)
            out[keys] = values
            return out

        return dense
    if keys.size == 0:
        return lambda values: np.zeros(rows.size)
    at = np.minimum(np.searchsorted(keys, rows), keys.size - 1)
    hit = keys[at] == rows
    return lambda values: np.where(hit, values[at], 0.0)


def _unit_max(found: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``unit_max`` of a sparse vector (``values``: every entry) read at some rows
    (``found``)."""
    top = float(values.max()) if values.size else 0.0
    return found / top if top > 0 else np.zeros_like(found)
