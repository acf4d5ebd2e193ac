"""Real faults on real servers: the effects equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from devtools.effects import assert_same_effects, final_state, progress, spawn_worker
from streamrec.app.worker import EmbedWorker
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.kafka.offsets import committed_offsets, end_offsets
from tests.conftest import AMAZON, replace
from tests.integration.helpers import produce, read_topic, run_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
