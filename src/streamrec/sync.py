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
    order = {item: n for n, item in enumerate(merged["items"]["vectors"]["ids"])}
    merged["signals"] = merge_signals(
        *[(s["signals"], s["items"]["vectors"]["ids"]) for s in (base, local, current)], order)
    merged["ranker"] = {**local["ranker"], "weights": np.asarray(current["ranker"]["weights"])
                        + np.asarray(local["ranker"]["weights"])
                        - np.asarray(base["ranker"]["weights"])}
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


def merge_signals(base: tuple[dict, list], local: tuple[dict, list],
                  current: tuple[dict, list], order: dict[str, int]) -> dict:
    """Merge ItemSignals, re-indexed from each worker's item rows to the merged order."""
    size = len(order)

    def rows(ids: list) -> np.ndarray:
        return np.array([order.get(i, -1) if i is not None else -1 for i in ids], dtype=np.int64)

    def aligned(values: np.ndarray, ids: list, fill: float = 0.0) -> np.ndarray:
        out = np.full(size, fill)
        mapping = rows(ids)[: len(values)]
        keep = mapping >= 0
        out[mapping[keep]] = np.asarray(values)[: len(mapping)][keep]
        return out

    (b, b_ids), (lo, l_ids), (c, c_ids) = base, local, current
    elapsed = int(lo["clock"]) - int(b["clock"])
    clock = int(c["clock"]) + elapsed
    count = aligned(c["count"], c_ids) + aligned(lo["count"], l_ids) - aligned(b["count"], b_ids)
    trends = []
    for tb, tl, tc in zip(b["trends"], lo["trends"], c["trends"], strict=True):
        half_life = float(tl["half_life"])
        fade = 2.0 ** (-elapsed / half_life)

        def value(t: dict, ids: list, at: int, half_life: float = half_life) -> np.ndarray:
            return aligned(np.asarray(t["stored"]) * 2.0 ** (-(at - float(t["t0"])) / half_life),
                           ids)

        merged = value(tc, c_ids, int(c["clock"])) * fade + value(tl, l_ids, int(lo["clock"])) \
            - value(tb, b_ids, int(b["clock"])) * fade
        trends.append({"stored": np.clip(merged, 0, None), "t0": float(clock),
                       "half_life": half_life})

    def ages(state: dict, ids: list, key: str) -> np.ndarray:
        seen = aligned(state[key], ids, fill=-1.0)
        return np.where(seen >= 0, int(state["clock"]) - seen, np.inf)

    first_age = np.maximum(np.where(np.isinf(ages(c, c_ids, "first_seen")), -np.inf,
                                    ages(c, c_ids, "first_seen")),
                           np.where(np.isinf(ages(lo, l_ids, "first_seen")), -np.inf,
                                    ages(lo, l_ids, "first_seen")))
    last_age = np.minimum(ages(c, c_ids, "last_seen"), ages(lo, l_ids, "last_seen"))
    return {
        "clock": clock, "count": count, "trends": trends,
        "first_seen": np.where(np.isfinite(first_age), clock - first_age, -1.0),
        "last_seen": np.where(np.isfinite(last_age), clock - last_age, 0.0),
        "co": _merge_sparse([(b["co"], b_ids, -1), (lo["co"], l_ids, 1), (c["co"], c_ids, 1)],
                            rows),
        "transitions": _merge_sparse([(b["transitions"], b_ids, -1),
                                      (lo["transitions"], l_ids, 1),
                                      (c["transitions"], c_ids, 1)], rows),
    }


def _merge_sparse(parts: list[tuple[dict, list, int]], rows) -> dict:  # type: ignore[no-untyped-def]
    totals: dict[tuple[int, int], float] = {}
    for table, ids, sign in parts:
        mapping = rows(ids)
        for i, j, v in zip(np.asarray(table["rows"]).tolist(), np.asarray(table["cols"]).tolist(),
                           np.asarray(table["values"]).tolist(), strict=True):
            key = (int(mapping[i]), int(mapping[j]))
            if key[0] >= 0 and key[1] >= 0:
                totals[key] = totals.get(key, 0.0) + sign * v
    kept = [(i, j, v) for (i, j), v in totals.items() if v > 1e-9]
    array = np.array(kept, dtype=np.float64).reshape(-1, 3)
    return {"rows": array[:, 0].astype(np.int64), "cols": array[:, 1].astype(np.int64),
            "values": array[:, 2]}
