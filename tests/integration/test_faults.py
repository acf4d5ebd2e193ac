"""Real faults on real servers: the effects equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from streamrec.app.worker import EmbedWorker
from streamrec.cli.views import all_users, load_group_state
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.kafka.offsets import committed_offsets, end_offsets
from streamrec.serving.schema import RecList, RedisKeys
from streamrec.serving.store import connect
from tests.conftest import AMAZON, replace, settings_env
from tests.integration.helpers import produce, read_topic, run_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def spawn_worker(settings: Settings, log_path, *options: str) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "streamrec.cli", "worker", *(options or ["--until-caught-up"])],
        env=settings_env(settings),
        stdout=log,
        stderr=log,
    )


def progress(settings: Settings) -> int:
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).model())
    return 0 if raw is None else int(json.loads(raw)["events"])


def final_state(settings: Settings) -> tuple[dict, dict, dict, dict[str, RecList]]:
    client = connect(settings)
    keys = RedisKeys(settings.redis_prefix)
    loaded = load_group_state(settings)
    assert loaded is not None
    shared, parts = loaded
    offsets = {k: v for p in parts for k, v in p.offsets.items()}
    users = all_users(parts)
    by_user = {u: n for n, u in enumerate(users["ids"])}
    head, _, tail = keys.user_recs("\0").partition("\0")  # the user id sits in a hash tag
    recs = {
        k.decode()[len(head) : -len(tail)]: RecList.model_validate_json(client.get(k))
        for k in client.scan_iter(f"{head}*{tail}")
    }
    assert recs, "no user lists found to compare"
    return shared, offsets, {"users": users, "row": by_user}, recs


def cluster_events(settings: Settings) -> set[tuple]:
    """The distinct lifecycle events on the cluster-events topic (a batch processed again
    after a crash publishes its events again: at least once)."""
    topic = settings.topic_cluster_events
    total = sum(end_offsets(settings, [topic]).values())
    records = read_topic(settings, topic, total)
    assert len(records) == total
    events = [json.loads(r.value) for r in records]
    return {
        (e["step"], e["kind"], e["cluster_id"], tuple(e["related"]), round(e["weight"], 6))
        for e in events
    }


def assert_same_effects(expected: tuple, actual: tuple) -> None:
    (ref_state, ref_offsets, ref_users, ref_recs) = expected
    (got_state, got_offsets, got_users, got_recs) = actual
    assert got_offsets == ref_offsets
    assert got_state["clock"] == ref_state["clock"]  # no event applied twice or lost
    np.testing.assert_array_equal(got_state["clusterer"]["ids"], ref_state["clusterer"]["ids"])
    assert got_state["clusterer"]["next_id"] == ref_state["clusterer"]["next_id"]
    np.testing.assert_array_equal(
        got_users["users"]["cluster"][[got_users["row"][u] for u in ref_users["users"]["ids"]]],
        ref_users["users"]["cluster"],
    )
    assert got_users["row"].keys() == ref_users["row"].keys()
    order = [got_users["row"][u] for u in ref_users["users"]["ids"]]
    np.testing.assert_allclose(
        np.asarray(got_users["users"]["sums"])[order], ref_users["users"]["sums"], atol=1e-5
    )
    np.testing.assert_array_equal(
        np.asarray(got_users["users"]["counts"])[order], ref_users["users"]["counts"]
    )
    np.testing.assert_allclose(
        got_state["clusterer"]["centers"], ref_state["clusterer"]["centers"], atol=1e-5
    )
    np.testing.assert_allclose(got_state["items"]["popularity"], ref_state["items"]["popularity"])
    assert got_recs.keys() == ref_recs.keys()
    for user, recs in ref_recs.items():
        assert got_recs[user].item_ids() == recs.item_ids(), user
        np.testing.assert_allclose(
            [i.score for i in got_recs[user].items], [i.score for i in recs.items], atol=1e-4
        )


@pytest.fixture
def replay_settings(settings: Settings, amazon_cache) -> Settings:
    return replace(
        settings,
        **{
            "embed_cache": amazon_cache,
            "batch_size": 8,
            "checkpoint_interval_s": 0.3,
            "kafka_session_timeout_ms": 6000,
            "worker_instance_id": "worker-0",
            # clusters split (new ids) all along the run, so ids after a crash are compared
            "clusterer": "kmeans-dynamic",
            "n_clusters": 3,
            "cluster_split_spread": 0.35,
            # two-stage lists over an HNSW index (the graph is restored from its log)
            "candidates": 40,
            "ann_exact_below": 50,
        },
    )


def test_kill_9_at_five_random_points_changes_nothing(replay_settings, embedder, tmp_path) -> None:
    events = interactions_to_events(amazon_interactions(AMAZON, limit=300))
    produce(replay_settings, events)
    reference = replace(
        replay_settings,
        **{
            "worker_group": "ref-" + os.urandom(4).hex(),
            "redis_prefix": "ref-" + os.urandom(4).hex(),
            "topic_cluster_events": "ref-" + os.urandom(4).hex(),
        },
    )
    run_worker(EmbedWorker(reference))

    faulty = replay_settings
    points = sorted(random.Random(7).sample(range(60, len(events) - 60), 5))
    for point in points:
        worker = spawn_worker(faulty, tmp_path / "worker.log")
        deadline = time.monotonic() + 120
        while progress(faulty) < point and worker.poll() is None:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    last = spawn_worker(faulty, tmp_path / "worker.log")
    assert last.wait(180) == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert_same_effects(final_state(reference), final_state(faulty))
    expected = cluster_events(reference)
    assert sum(kind == "split" for _, kind, *_ in expected) >= 3  # ids born along the way
    assert cluster_events(faulty) == expected
    topics = [faulty.topic_reviews, faulty.topic_clicks]
    ends = end_offsets(faulty, topics)
    assert committed_offsets(faulty, faulty.worker_group) == {
        tp: end for tp, end in ends.items() if end > 0
    }


def test_sigterm_drains_checkpoints_and_commits(replay_settings, tmp_path) -> None:
    events = interactions_to_events(amazon_interactions(AMAZON, limit=300))
    produce(replay_settings, events)
    worker = spawn_worker(replay_settings, tmp_path / "worker.log", "--idle-timeout", "60")
    wait_until(lambda: progress(replay_settings) >= 100, 60, "100 events are processed")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, (tmp_path / "worker.log").read_text()[-2000:]
    _, offsets, _, _ = final_state(replay_settings)
    committed = committed_offsets(replay_settings, replay_settings.worker_group)
    assert {f"{tp.topic}:{tp.partition}": o for tp, o in committed.items()} == {
        k: v for k, v in offsets.items() if v > 0
    }
    assert sum(offsets.values()) < len(events)  # it stopped early, on request
