"""The 3-way merge of two workers' item statistics (``ItemStats.merge``): by item id,
counts and vector sums add up, decayed counts are re-expressed at the merged clock."""

from __future__ import annotations

import numpy as np

from streamrec.core.arrays import rows_in
from streamrec.core.decay import decay


def merge_items(
    base: dict,
    mine: dict,
    theirs: dict,
    *,
    clocks: tuple[int, int, int, int],
    alive: set[int] | None = None,
) -> dict:
    """Merge by item id: counts and vector sums add up (``theirs + mine - base``),
    decayed counts re-expressed at the merged clock.

    ``clocks`` are the engine clocks of base, mine, theirs and the merge;
    engagement rows of clusters not in ``alive`` are dropped.
    """
    t_base, t_mine, t_theirs, t_out = clocks
    elapsed = t_mine - t_base
    order: dict[str, int] = {}
    for state in (theirs, mine):
        for item_id in state["vectors"]["ids"]:
            if item_id is not None and item_id not in order:
                order[item_id] = len(order)
    b, lo, c = (_aligned(s, order) for s in (base, mine, theirs))
    gamma = decay(1.0, float(mine["vector_half_life"]))
    new_reviews = np.clip(lo["counts"] - b["counts"], 0, None)
    keep = gamma**new_reviews
    # (c * keep + lo) - b * keep, in place: the same operations in the same order,
    # without four more (items x dim) float64 temporaries
    sums = np.multiply(c["sums"], keep[:, None], out=c["sums"])
    sums += lo["sums"]
    sums -= np.multiply(b["sums"], keep[:, None], out=b["sums"])

    def decayed(key: str, name: str) -> np.ndarray:
        half_life = float(mine[name]["half_life"])
        fade = decay(elapsed, half_life)
        values = {
            "b": b.get(key, 0.0) * decay(t_base - float(base[name]["t0"]), half_life),
            "l": lo.get(key, 0.0) * decay(t_mine - float(mine[name]["t0"]), half_life),
            "c": c.get(key, 0.0) * decay(t_theirs - float(theirs[name]["t0"]), half_life),
        }
        merged = values["c"] * fade + values["l"] - values["b"] * fade
        return np.clip(np.broadcast_to(merged, (len(order),)), 0, None)

    clusters = sorted(
        {
            int(k)
            for s in (mine, theirs)
            for k in s["cluster_rows"]
            if alive is None or int(k) in alive
        }
    )
    engagement = (
        np.vstack([decayed(f"engagement:{k}", "engagement") for k in clusters])
        if clusters
        else np.zeros((1, len(order)))
    )
    ids = list(order)
    return {
        "vector_half_life": mine["vector_half_life"],
        "vectors": {
            "ids": ids,
            "sums": sums.astype(np.float32),
            "counts": (c["counts"] + new_reviews).astype(np.int32),
            "last_ts": np.maximum(c["last_ts"], lo["last_ts"]),
        },
        "popularity": c["popularity"] + lo["popularity"] - b["popularity"],
        "trending": {
            "stored": decayed("trending", "trending"),
            "t0": float(t_out),
            "half_life": float(mine["trending"]["half_life"]),
        },
        "engagement": {
            "stored": engagement,
            "t0": float(t_out),
            "half_life": float(mine["engagement"]["half_life"]),
        },
        "cluster_rows": {str(k): n for n, k in enumerate(clusters)},
        "free_rows": [],
    }


def _aligned(state: dict, order: dict[str, int]) -> dict[str, np.ndarray]:
    """Per-item arrays of an ItemStats state, in the row order ``order``."""
    ids = state["vectors"]["ids"]
    size = len(order)
    dim = np.asarray(state["vectors"]["sums"]).shape[1]
    out = {
        "sums": np.zeros((size, dim)),
        "counts": np.zeros(size),
        "last_ts": np.zeros(size),
        "popularity": np.zeros(size),
        "trending": np.zeros(size),
    }
    mapping = rows_in(order, ids)
    src = np.flatnonzero(mapping >= 0)  # this state's rows, ascending, and where they go
    if not src.size:
        return out
    dst = mapping[src]
    out["sums"][dst] = np.asarray(state["vectors"]["sums"])[src]
    out["counts"][dst] = np.asarray(state["vectors"]["counts"])[src]
    out["last_ts"][dst] = np.asarray(state["vectors"]["last_ts"])[src]
    out["popularity"][dst] = np.asarray(state["popularity"])[src]
    out["trending"][dst] = np.asarray(state["trending"]["stored"])[src]
    engagement = np.asarray(state["engagement"]["stored"])
    for cluster_id, crow in state["cluster_rows"].items():
        values = np.zeros(size)
        values[dst] = engagement[int(crow)][src]
        out[f"engagement:{cluster_id}"] = values
    return out
