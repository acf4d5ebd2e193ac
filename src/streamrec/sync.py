"""Merging the shared model of several workers (the way Flink merges per-subtask updates).

Each worker keeps a full copy of the shared state (clusters, item statistics,
labels) and, at every checkpoint, folds what it learned since its last sync
into the copy in Redis. Everything merged is a sufficient statistic that adds
up: decayed sums and weights of clusters, decayed item counts and vector sums,
word counts. With the copy in Redis at ``current``, this worker's copy at the
last sync ``base`` and its copy now ``local``:

    merged = current decayed by what this worker saw since base
             + (local - base decayed the same way)

When nobody else wrote since ``base`` the result is ``local`` exactly, so a
single worker is unaffected by the mechanism.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def merge_shared(base: dict, local: dict, current: dict) -> dict:
    """Fold ``local - base`` into ``current``; worker-local parts come from ``local``."""
    events = int(local["clock"]) - int(base["clock"])
    merged = dict(local)
    merged["clock"] = int(current["clock"]) + events
    merged["as_of"] = max(float(current["as_of"]), float(local["as_of"]))
    if "sums" in local["clusterer"]:  # OnlineKMeans; other clusterers: the last writer wins
        merged["clusterer"] = merge_kmeans(base["clusterer"], local["clusterer"],
                                           current["clusterer"])
    alive = {int(i) for i in merged["clusterer"].get("ids", [])} or None
    merged["items"] = merge_items(base["items"], local["items"], current["items"],
                                  (int(base["clock"]), int(local["clock"]),
                                   int(current["clock"]), merged["clock"]), alive)
    merged["labeler"] = merge_labels(base["labeler"], local["labeler"], current["labeler"],
                                     alive)
    return merged


def merge_kmeans(base: dict, local: dict, current: dict) -> dict:
    """Merge OnlineKMeans sufficient statistics by cluster id.

    When two workers seeded clusters from nothing at the same time, the first
    to sync wins: the other drops its own seeds (and the few points it had
    given them) and adopts the winner's clusters.
    """
    half_life = float(local["half_life"])
    if local["half_life_unit"] == "events":
        seen = int(local["events_seen"]) - int(base["events_seen"])
        discount = 2.0 ** (-seen / half_life)
    else:
        elapsed = float(local["clock"] or 0) - float(base["clock"] or 0)
        discount = 2.0 ** (-max(0.0, elapsed) / half_life)
        seen = 0
    index = {name: {int(c): n for n, c in enumerate(state["ids"])}
             for name, state in (("b", base), ("l", local), ("c", current))}
    ids, sums, weights, born = [], [], [], []
    for cluster_id, row in index["c"].items():
        if cluster_id in index["b"] and cluster_id not in index["l"]:
            continue  # this worker retired it
        s, n = current["sums"][row] * discount, current["weights"][row] * discount
        if cluster_id in index["l"]:
            lrow = index["l"][cluster_id]
            brow = index["b"].get(cluster_id)
            base_s = base["sums"][brow] * discount if brow is not None else 0.0
            base_n = base["weights"][brow] * discount if brow is not None else 0.0
            s = s + local["sums"][lrow] - base_s
            n = n + local["weights"][lrow] - base_n
        ids.append(cluster_id)
        sums.append(s)
        weights.append(max(0.0, float(n)))
        born.append(current["born_at"][row])
    lost_seeding_race = not index["b"] and bool(index["c"])
    for cluster_id, lrow in index["l"].items():
        if cluster_id in index["c"] or cluster_id in index["b"] or lost_seeding_race:
            continue  # merged above, retired by another worker, or seeded twice
        ids.append(cluster_id)
        sums.append(local["sums"][lrow])
        weights.append(float(local["weights"][lrow]))
        born.append(local["born_at"][lrow])
    dim = np.asarray(local["sums"]).shape[1] if np.asarray(local["sums"]).ndim == 2 else 0
    sums_arr = np.vstack(sums) if sums else np.zeros((0, dim))
    norms = np.linalg.norm(sums_arr, axis=1, keepdims=True)
    centers = (sums_arr / np.maximum(norms, 1e-12)).astype(np.float32)
    out = dict(local)
    out.update(ids=np.array(ids, dtype=np.int64), sums=sums_arr,
               weights=np.array(weights), centers=centers, born_at=np.array(born),
               events_seen=int(current["events_seen"]) + seen)
    if local["half_life_unit"] != "events":
        out["clock"] = max(float(current["clock"] or 0), float(local["clock"] or 0))
    return out


def _aligned(state: dict, order: dict[str, int]) -> dict[str, np.ndarray]:
    """Per-item arrays of an ItemStats state, in the row order ``order``."""
    ids = state["vectors"]["ids"]
    size = len(order)
    dim = np.asarray(state["vectors"]["sums"]).shape[1]
    out = {"sums": np.zeros((size, dim)), "counts": np.zeros(size),
           "last_ts": np.zeros(size), "popularity": np.zeros(size), "trending": np.zeros(size)}
    rows = [(n, order[i]) for n, i in enumerate(ids) if i is not None and i in order]
    if not rows:
        return out
    src, dst = (np.array(x) for x in zip(*rows, strict=True))
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


def _at(stored: np.ndarray, t0: float, clock: float, half_life: float) -> np.ndarray:
    return stored * 2.0 ** (-(clock - t0) / half_life)


def merge_items(base: dict, local: dict, current: dict,
                clocks: tuple[int, int, int, int], alive: set[int] | None = None) -> dict:
    """Merge ItemStats by item id (decayed counts re-expressed at the merged clock)."""
    t_base, t_local, t_current, t_out = clocks
    elapsed = t_local - t_base
    order: dict[str, int] = {}
    for state in (current, local):
        for item_id in state["vectors"]["ids"]:
            if item_id is not None and item_id not in order:
                order[item_id] = len(order)
    b, lo, c = (_aligned(s, order) for s in (base, local, current))
    gamma = 2.0 ** (-1.0 / float(local["vector_half_life"]))
    new_reviews = np.clip(lo["counts"] - b["counts"], 0, None)
    keep = gamma ** new_reviews
    sums = c["sums"] * keep[:, None] + lo["sums"] - b["sums"] * keep[:, None]

    def decayed(key: str, name: str) -> np.ndarray:
        half_life = float(local[name]["half_life"])
        fade = 2.0 ** (-elapsed / half_life)
        values = {
            "b": _at(b.get(key, 0.0), float(base[name]["t0"]), t_base, half_life),
            "l": _at(lo.get(key, 0.0), float(local[name]["t0"]), t_local, half_life),
            "c": _at(c.get(key, 0.0), float(current[name]["t0"]), t_current, half_life),
        }
        merged = values["c"] * fade + values["l"] - values["b"] * fade
        return np.clip(np.broadcast_to(merged, (len(order),)), 0, None)

    clusters = sorted({int(k) for s in (local, current) for k in s["cluster_rows"]
                       if alive is None or int(k) in alive})
    engagement = np.vstack([decayed(f"engagement:{k}", "engagement") for k in clusters]) \
        if clusters else np.zeros((1, len(order)))
    ids = list(order)
    return {
        "vector_half_life": local["vector_half_life"],
        "vectors": {"ids": ids, "sums": sums.astype(np.float32),
                    "counts": (c["counts"] + new_reviews).astype(np.int32),
                    "last_ts": np.maximum(c["last_ts"], lo["last_ts"])},
        "popularity": c["popularity"] + lo["popularity"] - b["popularity"],
        "trending": {"stored": decayed("trending", "trending"), "t0": float(t_out),
                     "half_life": float(local["trending"]["half_life"])},
        "engagement": {"stored": engagement, "t0": float(t_out),
                       "half_life": float(local["engagement"]["half_life"])},
        "cluster_rows": {str(k): n for n, k in enumerate(clusters)},
        "free_rows": [],
    }


def merge_labels(base: dict, local: dict, current: dict, alive: set[int] | None = None
                 ) -> dict:
    """Word counts add up; representatives come from this worker where it has them."""
    out: dict = {}
    for cluster_id in set(current) | set(local):
        if alive is not None and int(cluster_id) not in alive:
            continue
        counts: Counter = Counter()
        for state, sign in ((current, 1), (local, 1), (base, -1)):
            entry = state.get(cluster_id)
            if entry is not None:
                for term, count in zip(entry["terms"], np.asarray(entry["counts"]).tolist(),
                                       strict=True):
                    counts[term] += sign * count
        kept = {t: c for t, c in counts.items() if c > 0}
        source = local.get(cluster_id) or current[cluster_id]
        reviews = sum(int(s[cluster_id]["reviews"]) * sign for s, sign in
                      ((current, 1), (local, 1), (base, -1)) if cluster_id in s)
        out[cluster_id] = {**source, "terms": list(kept), "counts": np.array(list(kept.values())),
                           "reviews": max(0, reviews)}
    return out
