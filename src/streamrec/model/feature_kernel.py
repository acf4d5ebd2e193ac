"""The arithmetic of a feature matrix in one compiled pass (numba).

:func:`fill_features` does the gathers, decays and the kNN and transition reads of
:func:`streamrec.model.features.features` and leaves its ``log1p`` and ``exp`` to
numpy, so the features are numpy's to the bit, for a fraction of the calls (a
learning step featurises 11 rows: calls were its cost). Without numba it is None
and the caller's numpy code runs (:data:`streamrec.model.kernels.COMPILED`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamrec.model.kernels import numba


def _find_place(keys: np.ndarray, n: int, row: int, start: int, in_order: bool) -> int:
    """Where ``row`` goes among the first ``n`` sorted ``keys``: a sweep on from
    ``start`` (the rows come in order) or a binary search."""
    if in_order:
        while start < n and keys[start] < row:
            start += 1
        return start
    return int(np.searchsorted(keys[:n], row))


_place: Any = (
    numba.njit(cache=True, inline="always")(_find_place) if numba is not None else _find_place
)


def _fill_features(
    rows: np.ndarray,
    trends: tuple[np.ndarray, ...],
    decays: np.ndarray,
    count: np.ndarray,
    last_seen: np.ndarray,
    first_seen: np.ndarray,
    clock: float,
    cols: np.ndarray,
    knn: np.ndarray,
    knn_recent: np.ndarray,
    t_cols: np.ndarray,
    transition: np.ndarray,
    size: int,
    logs: np.ndarray,
    seen: np.ndarray,
    out: np.ndarray,
) -> None:
    """The arithmetic of :func:`streamrec.model.features.features` at ``rows``, without
    its ``log1p`` and ``exp``: their inputs go to ``logs`` (trends x decays, count, kNN,
    transition) and ``seen`` (the freshness exponents), one row per column and one
    column per item, for the caller to pass through numpy's functions as its numpy path
    does. The kNN and transition columns (5, 6, 7) are written to ``out`` directly.
    Sorted ``rows`` (a list's candidates) meet the sorted columns in one merge pass,
    others (a learning step's) look each row up: the same values, half the time of
    looking up 500 candidates."""
    n_trends = len(trends)
    n_cols = cols.size
    while n_cols > 0 and cols[n_cols - 1] >= size:  # sorted: columns past the items go
        n_cols -= 1
    n_t = t_cols.size
    while n_t > 0 and t_cols[n_t - 1] >= size:
        n_t -= 1
    knn_n = np.empty(n_cols)
    recent_n = np.empty(n_cols)
    top_knn, top_recent, top_t = 0.0, 0.0, 0.0
    for j in range(n_cols):
        norm = np.sqrt(max(count[cols[j]], 1.0))
        knn_n[j] = knn[j] / norm
        recent_n[j] = knn_recent[j] / norm
        if j == 0 or knn_n[j] > top_knn:
            top_knn = knn_n[j]
        if j == 0 or recent_n[j] > top_recent:
            top_recent = recent_n[j]
    for j in range(n_t):
        if j == 0 or transition[j] > top_t:
            top_t = transition[j]
    in_order = True  # a list's candidates come sorted: read the columns in one sweep
    for i in range(1, rows.size):
        if rows[i] < rows[i - 1]:
            in_order = False
            break
    at_col, at_t = 0, 0
    for i in range(rows.size):
        r = rows[i]
        for k in range(n_trends):
            logs[k, i] = trends[k][r] * decays[k]
        logs[n_trends, i] = count[r]
        since = clock - last_seen[r]
        seen[0, i] = since / -100.0
        seen[1, i] = since / -1000.0
        first = first_seen[r]
        seen[2, i] = (clock - first if first >= 0 else 1e9) / -1000.0
        j = at_col = _place(cols, n_cols, r, at_col, in_order)
        hit = j < n_cols and cols[j] == r
        knn_value = knn_n[j] if hit else 0.0
        recent_value = recent_n[j] if hit else 0.0
        out[i, 5] = knn_value / top_knn if top_knn > 0 else 0.0
        out[i, 6] = recent_value / top_recent if top_recent > 0 else 0.0
        logs[n_trends + 1, i] = knn_value
        j = at_t = _place(t_cols, n_t, r, at_t, in_order)
        t_value = transition[j] if j < n_t and t_cols[j] == r else 0.0
        out[i, 7] = t_value / top_t if top_t > 0 else 0.0
        logs[n_trends + 2, i] = t_value


fill_features: Any = numba.njit(cache=True)(_fill_features) if numba is not None else None
