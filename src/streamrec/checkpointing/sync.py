"""Merging the shared model of several workers (the way Flink merges per-subtask updates).

Each worker keeps a full copy of the shared state (clusters, item statistics,
labels) and, at every checkpoint, folds what it learned since its last sync
into the copy in Redis. Everything merged is a sufficient statistic that adds
up: decayed sums and weights of clusters, decayed item counts and vector sums,
word counts. With the copy in Redis at ``theirs``, this worker's copy at the
last sync ``base`` and its copy now ``mine``:

    merged = theirs decayed by what this worker saw since base
             + (mine - base decayed the same way)

When nobody else wrote since ``base`` the result is ``mine`` exactly, so a
single worker is unaffected by the mechanism.

Each part of the state is merged by the class that owns it
(``merge(base, mine, theirs)`` next to its ``state()``); this module only
calls them, and refuses a state with a part that has no merge rule.
"""

from __future__ import annotations

from streamrec.clustering.base import Clusterer
from streamrec.clustering.labels import ClusterLabeler
from streamrec.model.items import ItemStats
from streamrec.model.ranker import OnlineRanker
from streamrec.model.signals import ItemSignals

MERGED = ("clock", "as_of", "clusterer", "items", "labeler", "signals", "ranker", "id_ranges")
# not shared: the group tree is rebuilt from the merged clusters at the next batch
MINE = ("dim", "last_refresh", "refreshed_ids", "refreshed_centroids", "drift", "hierarchy")


def merge_shared(base: dict, mine: dict, theirs: dict, clusterer: Clusterer) -> dict:
    """Fold ``mine - base`` into ``theirs`` (shared states of the engine whose clusterer is
    ``clusterer``); the parts in :data:`MINE` stay this worker's."""
    unknown = set(mine) - set(MERGED) - set(MINE)
    if unknown:
        raise ValueError(f"no merge rule for shared state {sorted(unknown)}")
    events = int(mine["clock"]) - int(base["clock"])
    merged = dict(mine)
    merged["clock"] = int(theirs["clock"]) + events
    merged["as_of"] = max(float(theirs["as_of"]), float(mine["as_of"]))
    merged["clusterer"] = clusterer.merge(base["clusterer"], mine["clusterer"], theirs["clusterer"])
    alive = {int(i) for i in merged["clusterer"].get("ids", [])} or None
    clocks = (int(base["clock"]), int(mine["clock"]), int(theirs["clock"]), merged["clock"])
    merged["items"] = ItemStats.merge(
        base["items"], mine["items"], theirs["items"], clocks=clocks, alive=alive
    )
    merged["labeler"] = ClusterLabeler.merge(
        base["labeler"], mine["labeler"], theirs["labeler"], alive
    )
    ids = merged["items"]["vectors"]["ids"]
    order = dict(zip(ids, range(len(ids)), strict=True))
    merged["signals"] = ItemSignals.merge(
        base["signals"],
        mine["signals"],
        theirs["signals"],
        order=order,
        item_ids=(
            base["items"]["vectors"]["ids"],
            mine["items"]["vectors"]["ids"],
            theirs["items"]["vectors"]["ids"],
        ),
    )
    merged["ranker"] = OnlineRanker.merge(base["ranker"], mine["ranker"], theirs["ranker"])
    # each id range moves forward only: the furthest any worker got
    ranges = {**theirs.get("id_ranges", {}), **mine.get("id_ranges", {})}
    merged["id_ranges"] = {
        k: max(int(theirs.get("id_ranges", {}).get(k, 0)), int(mine.get("id_ranges", {}).get(k, 0)))
        for k in ranges
    }
    return merged
