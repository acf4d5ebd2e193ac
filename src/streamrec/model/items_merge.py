"""The 3-way merge of two workers' item statistics (``ItemStats.merge``): by item id,
counts and vector sums add up, decayed counts stay stored against theirs' bases."""

from __future__ import annotations

import numpy as np

from streamrec.core.arrays import rows_in
from streamrec.core.decay import decay, merged_stored


def merge_items(
    base: dict,
    mine: dict,
    theirs: dict,
    *,
    clocks: tuple[int, int, int, int],
    alive: set[int] | None = None,
) -> dict:
    """Merge by item id: counts and vector sums add up (``theirs + mine - base``),
    decayed counts are stored against theirs' bases (:func:`merged_stored`).

    ``clocks`` are the engine clocks of base, mine, theirs and the merge;
    engagement rows of clusters not in ``alive`` are dropped. Theirs' item rows,
    cluster rows and bases are kept, so an item only this worker's copy did not
    change comes out as theirs to the bit: a merge rewrites what changed.
    """
    t_base, _, t_theirs, _ = clocks
    order: dict[str, int] = {}
    for state in (theirs, mine):  # theirs' rows keep their places: their fields stay as stored
        for item_id in state["vectors"]["ids"]:
            if item_id is not None and item_id not in order:
                order[item_id] = len(order)
    b, lo, c = (_aligned(s, order) for s in (base, mine, theirs))
    gamma = decay(1.0, float(mine["vector_half_life"]))
    new_reviews = np.clip(lo["counts"] - b["counts"], 0, None)
    keep = gamma**new_reviews
    # c * keep + (lo - b * keep), in place: an item this worker did not review keeps
    # theirs' sums to the bit (keep 1, lo - b 0), without more (items x dim) temporaries
    sums = np.multiply(c["sums"], keep[:, None], out=c["sums"])
    mine_added = np.subtract(
        lo["sums"], np.multiply(b["sums"], keep[:, None], out=b["sums"]), out=lo["sums"]
    )
    sums += mine_added

    def decayed(key: str, name: str) -> np.ndarray:
        """Stored against theirs' base (see :func:`merged_stored`)."""
        return merged_stored(
            (b.get(key, 0.0), lo.get(key, 0.0), c.get(key, 0.0)),
            (float(base[name]["t0"]), float(mine[name]["t0"]), float(theirs[name]["t0"])),
            grown=t_theirs - t_base,
            half_life=float(mine[name]["half_life"]),
            size=len(order),
        )

    layout, free = _cluster_layout(mine, theirs, alive)
    engagement = np.zeros((max(layout.values(), default=0) + 1, len(order)))
    for cluster_id, row in layout.items():
        engagement[row] = decayed(f"engagement:{cluster_id}", "engagement")
    ids = list(order)
    return {
        "vector_half_life": mine["vector_half_life"],
        "vectors": {
            "ids": ids,
            "sums": sums.astype(np.float32),
            "counts": (c["counts"] + new_reviews).astype(np.int32),
            "last_ts": np.maximum(c["last_ts"], lo["last_ts"]),
        },
        "popularity": c["popularity"] + (lo["popularity"] - b["popularity"]),
        "trending": {
            "stored": decayed("trending", "trending"),
            "t0": float(theirs["trending"]["t0"]),
            "half_life": float(mine["trending"]["half_life"]),
        },
        "engagement": {
            "stored": engagement,
            "t0": float(theirs["engagement"]["t0"]),
            "half_life": float(mine["engagement"]["half_life"]),
        },
        "cluster_rows": {str(k): row for k, row in layout.items()},
        "free_rows": free,
    }


def _cluster_layout(mine: dict, theirs: dict, alive: set[int] | None) -> tuple[dict, list]:
    """Engagement rows of the merged clusters: those theirs has keep their rows (so the
    items' fields do not change), the others take theirs' free rows or new ones; rows of
    clusters no longer alive are free (and zero)."""
    known = {int(k) for s in (mine, theirs) for k in s["cluster_rows"]}
    merged = sorted(k for k in known if alive is None or k in alive)
    layout = {int(k): int(r) for k, r in theirs["cluster_rows"].items() if int(k) in merged}
    used = set(layout.values())
    free = [int(r) for r in theirs["free_rows"] if int(r) not in used]
    free += sorted(int(r) for k, r in theirs["cluster_rows"].items() if int(k) not in layout)
    next_row = max([*used, *free], default=-1) + 1
    for cluster_id in merged:
        if cluster_id not in layout:
            if free:
                layout[cluster_id] = free.pop()
            else:
                layout[cluster_id], next_row = next_row, next_row + 1
    return layout, free


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
