"""The 3-way merge of two workers' item statistics (``ItemStats.merge``): by item id,
counts and vector sums add up, decayed counts stay stored against theirs' bases."""

from __future__ import annotations

from itertools import chain

import numpy as np

from streamrec.core.arrays import rows_in
from streamrec.core.decay import decay, merged_base, merged_stored


def merge_items(
    base: dict,
    mine: dict,
    theirs: dict,
    *,
    clocks: tuple[int, int, int, int],
    alive: set[int] | None = None,
) -> dict:
    """Merge by item id: counts and vector sums add up (``theirs + mine - base``),
    decayed counts are stored against theirs' bases, moved on when old (:func:`merged_stored`).

    ``clocks`` are the engine clocks of base, mine, theirs and the merge;
    engagement rows of clusters not in ``alive`` are dropped. Theirs' item rows,
    cluster rows and bases are kept (a base moves on only when old, and then
    theirs' values move with it as a reader's would), so an item only this
    worker's copy did not change comes out as theirs to the bit: a merge rewrites
    what changed.
    """
    t_base, _, t_theirs, t_merged = clocks
    # theirs' rows keep their places (their fields stay as stored), then mine's new items;
    # dict.fromkeys keeps each id's first place at C speed (a catalogue of ids)
    first = dict.fromkeys(chain(theirs["vectors"]["ids"], mine["vectors"]["ids"]))
    first.pop(None, None)  # freed rows
    order = dict(zip(first, range(len(first)), strict=True))
    b, lo, c = (_aligned(s, order) for s in (base, mine, theirs))
    gamma = decay(1.0, float(mine["vector_half_life"]))
    new_reviews = np.clip(lo["counts"] - b["counts"], 0, None)
    sums = _merged_sums((base, mine, theirs), (b, lo, c), gamma**new_reviews)

    merged_t0 = {
        name: merged_base(float(theirs[name]["t0"]), t_merged, float(mine[name]["half_life"]))
        for name in ("trending", "engagement")
    }

    def decayed(key: str, name: str) -> np.ndarray:
        """Stored against theirs' base, moved when it is old (:func:`merged_stored`)."""
        return merged_stored(
            (b.get(key, 0.0), lo.get(key, 0.0), c.get(key, 0.0)),
            (float(base[name]["t0"]), float(mine[name]["t0"]), float(theirs[name]["t0"])),
            grown=t_theirs - t_base,
            half_life=float(mine[name]["half_life"]),
            size=len(order),
            out_base=merged_t0[name],
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
            "sums": sums,
            "counts": (c["counts"] + new_reviews).astype(np.int32),
            "last_ts": np.maximum(c["last_ts"], lo["last_ts"]),
        },
        "popularity": c["popularity"] + (lo["popularity"] - b["popularity"]),
        "trending": {
            "stored": decayed("trending", "trending"),
            "t0": merged_t0["trending"],
            "half_life": float(mine["trending"]["half_life"]),
        },
        "engagement": {
            "stored": engagement,
            "t0": merged_t0["engagement"],
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


def _merged_sums(
    states: tuple[dict, dict, dict], aligned: tuple[dict, dict, dict], keep: np.ndarray
) -> np.ndarray:
    """The merged float32 vector sums: ``theirs * keep + (mine - base * keep)`` in
    float64 on the rows where this worker's sums differ from base's (their reviews
    decay what was there by ``keep``); every other row is theirs' to the bit (keep 1,
    no change), so only those rows are gathered, not (items x dim) float64 copies."""
    sums = [np.asarray(state["vectors"]["sums"], dtype=np.float32) for state in states]
    b, lo, c = aligned
    size = len(keep)
    out = np.zeros((size, sums[2].shape[1]), dtype=np.float32)
    src, dst = c["src"], c["dst"]
    if src.size and src[-1] - src[0] == src.size - 1 and np.array_equal(src, dst):
        out[src[0] : src[-1] + 1] = sums[2][src[0] : src[-1] + 1]  # theirs' rows stay: a view
    else:
        out[dst] = sums[2][src]
    mine_at, base_at = np.full(size, -1), np.full(size, -1)
    mine_at[lo["dst"]], base_at[b["dst"]] = lo["src"], b["src"]
    # mine's sum differs from base's only where mine added reviews (a review adds to the
    # sum and the count together; keep is 1 without forgetting) or where the item is not
    # on base's row, so no (items x dim) comparison; a row too many only yields theirs
    # again (mine - base = 0)
    added = lo["counts"] != b["counts"]
    rows = np.flatnonzero(added | (keep != 1.0) | (mine_at != base_at))

    def at(state: int, where: np.ndarray) -> np.ndarray:
        values = np.zeros((rows.size, out.shape[1]))
        present = where[rows] >= 0
        values[present] = sums[state][where[rows][present]]
        return values

    theirs_at = np.full(size, -1)
    theirs_at[c["dst"]] = c["src"]
    factor = keep[rows, None]
    out[rows] = (at(2, theirs_at) * factor + (at(1, mine_at) - at(0, base_at) * factor)).astype(
        np.float32
    )
    return out


def _aligned(state: dict, order: dict[str, int]) -> dict[str, np.ndarray]:
    """Per-item values of an ItemStats state in the row order ``order``, and where its
    rows go (``src`` -> ``dst``; the vector sums are merged from those)."""
    ids = state["vectors"]["ids"]
    size = len(order)
    out = {
        "counts": np.zeros(size),
        "last_ts": np.zeros(size),
        "popularity": np.zeros(size),
        "trending": np.zeros(size),
    }
    mapping = rows_in(order, ids)
    src = np.flatnonzero(mapping >= 0)  # this state's rows, ascending, and where they go
    dst = mapping[src]
    out["src"], out["dst"] = src, dst
    if not src.size:
        return out
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
