"""Each clusterer through real Kafka and Redis: a worker stopped halfway and restarted from
its checkpoint ends where an uninterrupted worker ends, with the same cluster ids and the
same ``cluster-events`` stream, and Redis serves each cluster's parent group."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from streamrec.app.worker import EmbedWorker
from streamrec.cli import app
from streamrec.cli.views import all_users, load_group_state, load_summaries
from streamrec.clustering.factory import KINDS, ClustererConfig, make_clusterer
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.conftest import AMAZON, replace
from tests.integration.helpers import produce, read_topic, run_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERACTIONS = 150  # 300 events


def clusters_of(settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Ids and centroids of the clusterer in the group's checkpoint."""
    loaded = load_group_state(settings)
    assert loaded is not None
    model = make_clusterer(ClustererConfig.from_settings(settings))
    model.load(loaded[0]["clusterer"])
    snapshot = model.snapshot()
    return snapshot.ids, snapshot.centroids


def lifecycle(settings: Settings, at_least: int) -> list[tuple]:
    records = read_topic(settings, settings.topic_cluster_events, at_least, timeout=15)
    events = [json.loads(r.value) for r in sorted(records, key=lambda r: (r.partition, r.offset))]
    return sorted(
        (e["step"], e["kind"], e["cluster_id"], tuple(e["related"]), e["reason"]) for e in events
    )


@pytest.mark.parametrize("kind", KINDS)
def test_clusterer_restarts_from_its_checkpoint_as_if_never_stopped(
    kind: str, settings: Settings, amazon_cache, tmp_path
) -> None:
    base = replace(
        settings,
        clusterer=kind,
        embed_cache=amazon_cache,
        n_clusters=3 if kind == "kmeans-dynamic" else 4,
        cluster_split_spread=0.35,  # small data: let kmeans-dynamic split
    )
    events = interactions_to_events(amazon_interactions(AMAZON, limit=INTERACTIONS))
    produce(base, events)
    run = os.urandom(4).hex()
    reference = replace(
        base,
        worker_group=f"ref-{run}",
        redis_prefix=f"ref-{run}",
        topic_cluster_events=f"ref-{run}.cluster-events",
    )
    run_worker(EmbedWorker(reference))

    first = EmbedWorker(base)
    run_worker(first, on_batch=lambda w: w.stop() if w.events_total >= len(events) // 2 else None)
    assert 0 < first.events_total < len(events)
    restart_step = first.engine.clusterer.step  # type: ignore[attr-defined]
    second = EmbedWorker(base)
    run_worker(second)
    assert first.events_total + second.events_total == len(events)

    ids, centroids = clusters_of(base)
    ref_ids, ref_centroids = clusters_of(reference)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(centroids, ref_centroids, atol=1e-5)
    expected = lifecycle(reference, 1)
    assert lifecycle(base, len(expected)) == expected
    if kind in ("kmeans-dynamic", "dbstream"):  # new ids after the restart, same as without
        assert any(step > restart_step and k in ("born", "split") for step, k, *_ in expected)

    summaries = load_summaries(base)
    assert {s.cluster_id for s in summaries} == set(ids.tolist())
    groups = {s.group for s in summaries}
    assert None not in groups and groups <= set(ids.tolist())
    store = RecsStore(connect(base), RedisKeys(base.redis_prefix))
    for group in groups:
        recs = store.group_recs(group)  # type: ignore[arg-type]
        assert recs is not None and recs.level == "group" and recs.items
    plot = tmp_path / "tree.png"
    tree = CliRunner().invoke(app, ["clusters", "--tree", "--plot", str(plot)], env=base.to_env())
    assert tree.exit_code == 0, tree.output
    assert sum(line.startswith("group ") for line in tree.output.splitlines()) == len(groups)
    assert sum("- cluster " in line for line in tree.output.splitlines()) == len(ids)
    assert len(ids) < 2 or plot.stat().st_size > 1000  # the dendrogram
    user = events[0].user_id
    store.client.delete(RedisKeys(base.redis_prefix).user_recs(user))
    assignment = store.assignment(user)
    assert assignment is not None
    answer = RecsClient.from_settings(base).recommend(user, k=5)
    loaded = load_group_state(base)
    assert loaded is not None
    size = int((all_users(loaded[1])["cluster"] == assignment.cluster_id).sum())
    small = size < base.group_min_cluster_users  # then the cluster has no list of its own
    assert answer.level == ("group" if small else "cluster") and answer.item_ids()
