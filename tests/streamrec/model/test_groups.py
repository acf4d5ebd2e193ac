"""Parent interest groups in the engine: the tree, group lists, small clusters, checkpoints."""

import numpy as np

from streamrec.clustering.factory import ClustererConfig
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.output import BatchOutput
from tests.streamrec.model.test_engine import EMBED, ReviewEvent, run, stream


def collect(model: Engine, events: list, batch: int = 10) -> BatchOutput:
    """Apply ``events`` in batches; the lists of all batches (the latest of each key)."""
    total = BatchOutput()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        vectors = EMBED.encode([e.text for e in chunk if isinstance(e, ReviewEvent)])
        out = model.apply(chunk, vectors)
        total.cluster_recs.update(out.cluster_recs)
        total.group_recs.update(out.group_recs)
        total.retired_clusters += out.retired_clusters
        total.retired_groups += out.retired_groups
    return total


def engine(**changes: object) -> Engine:
    values = {"n_clusters": 4, "cluster_refresh_events": 10, "recs_length": 5, "cluster_groups": 2}
    return Engine(64, EngineConfig(**{**values, **changes}))  # type: ignore[arg-type]


def test_groups_cover_the_clusters_and_each_gets_a_list() -> None:
    model = engine(group_min_cluster_users=0)
    out = collect(model, stream())
    live = set(model.clusterer.snapshot().ids.tolist())
    assert set(model.hierarchy.groups) == live
    assert len(model.hierarchy.group_ids()) == 2
    summaries = model.cluster_summaries()
    assert {s.cluster_id: s.group for s in summaries} == model.hierarchy.groups
    assert set(out.group_recs) == set(model.hierarchy.group_ids())
    for group_id, recs in out.group_recs.items():
        assert (recs.level, recs.strategy, recs.cluster_id) == ("group", "group", group_id)
        assert len(recs.items) == 5


def test_a_group_list_favours_what_its_clusters_engage_with() -> None:
    model = engine(group_min_cluster_users=0)
    run(model, stream())
    for group_id in model.hierarchy.group_ids():
        members = set(model.hierarchy.members(group_id))
        users = [u for u in range(12) if model.user_cluster(f"u{u}") in members]
        seen = [r for u in users for r in model.profiles.seen_items(f"u{u}")]
        topics = {model.items.ids[r].split("-")[0] for r in seen}
        top = model.group_list(group_id).item_ids()[0]
        assert top.split("-")[0] in topics, (group_id, top, topics)


def test_the_tree_is_rebuilt_when_the_set_of_clusters_changes_and_on_the_schedule() -> None:
    model = engine(cluster_refresh_events=10_000)
    events = stream()
    run(model, events[:20])
    first = model.hierarchy
    run(model, events[20:40])
    assert model.hierarchy is first  # same clusters, not due: same tree
    model.clusterer.load({**model.clusterer.state(), "ids": model.clusterer.state()["ids"] + 100})
    out = collect(model, events[40:50])
    assert model.hierarchy is not first
    assert set(model.hierarchy.groups) == set(model.clusterer.snapshot().ids.tolist())
    assert set(out.retired_groups) == set(first.group_ids())
    assert set(out.group_recs) == set(model.hierarchy.group_ids())
    scheduled = engine(cluster_refresh_events=20)
    run(scheduled, events[:20])
    before = scheduled.hierarchy
    out = collect(scheduled, events[20:40])
    assert scheduled.hierarchy is not before and out.group_recs  # due: rebuilt, lists again
    assert not np.allclose(scheduled.hierarchy.weights, before.weights)  # the clusters now


def test_clusters_with_too_few_users_get_no_list_of_their_own() -> None:
    model = engine(group_min_cluster_users=4)  # 3 users per topic
    out = collect(model, stream())
    assert not out.cluster_recs
    assert out.group_recs  # their users fall back to the group level
    everyone = engine(group_min_cluster_users=0)
    assert collect(everyone, stream()).cluster_recs


def test_a_cluster_that_shrinks_below_the_minimum_loses_its_list() -> None:
    model = engine(group_min_cluster_users=0)
    run(model, stream())
    listed = set(model._refreshed_centroids)
    assert listed
    model.config.group_min_cluster_users = 100
    out = collect(model, stream()[:2])
    assert set(out.retired_clusters) == listed
    assert not model._refreshed_centroids


def test_tree_and_id_ranges_survive_a_checkpoint() -> None:
    a = engine()
    run(a, stream())
    a.id_ranges = {0: 7, 2: 20_003}
    b = engine()
    b.load(a.state())
    assert b.hierarchy.groups == a.hierarchy.groups
    np.testing.assert_allclose(b.hierarchy.linkage, a.hierarchy.linkage)
    assert b.id_ranges == {0: 7, 2: 20_003}


def test_every_clusterer_runs_the_engine_with_groups() -> None:
    for kind in ("kmeans", "kmeans-dynamic", "dbstream", "river-kmeans"):
        model = engine(
            clustering=ClustererConfig(clusterer=kind, dbstream_clustering_threshold=1.0)
        )
        out = run(model, stream())
        assert out is not None and out.user_recs, kind
        assert set(model.hierarchy.groups) == set(model.clusterer.snapshot().ids.tolist()), kind
        assert all(s.group is not None for s in model.cluster_summaries()), kind
