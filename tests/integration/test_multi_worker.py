"""Several worker processes in one group: merged model, failover without loss."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import numpy as np
import pytest

from devtools.effects import progress, spawn_worker
from streamrec.app.worker import EmbedWorker
from streamrec.checkpointing.codec import PartitionCheckpoint
from streamrec.cli.views import all_users, load_group_state
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.kafka.offsets import committed_offsets, end_offsets
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.conftest import AMAZON, replace
from tests.integration.helpers import join_all, produce, run_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Two workers see the same events as one but assign points with centroids up to one
# checkpoint old, so their merged centroids differ a little from a single run's. Stated
# tolerance: weight-weighted mean cosine between same-id centroids >= 0.98, and >= 0.95 for
# every cluster that holds at least 5% of the weight (a cluster of one or two points moves
# with any single assignment). A reference cluster the merged run reseeded counts as cosine 0.
MIN_WEIGHTED_COSINE = 0.98
MIN_MAJOR_COSINE = 0.95
MAJOR_SHARE = 0.05


@pytest.fixture
def group_settings(settings, amazon_cache):
    return replace(
        settings,
        embed_cache=amazon_cache,
        batch_size=8,
        checkpoint_interval_s=0.2,
        topic_partitions=2,
        kafka_session_timeout_ms=6000,
        n_clusters=6,
        cluster_half_life_events=400,
    )


def same_id_cosines(reference: dict, merged: dict) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each reference centroid to the merged centroid of the same id (0 where
    the merged run reseeded that cluster), and the reference weights."""
    rows = {int(c): n for n, c in enumerate(merged["ids"])}
    cosines = np.array(
        [
            float(reference["centers"][n] @ merged["centers"][rows[int(c)]])
            if int(c) in rows
            else 0.0
            for n, c in enumerate(reference["ids"])
        ]
    )
    return cosines, np.asarray(reference["weights"])


def minor_share(merged: dict, ids: set[int]) -> float:
    """The share of the merged weight held by clusters the reference does not have."""
    weights = np.asarray(merged["weights"])
    extra = np.array([int(c) not in ids for c in merged["ids"]], dtype=bool)
    return float(weights[extra].sum() / weights.sum())


def copy_checkpoints(source, target) -> None:
    """Start a group from another group's checkpoints (same seeding for both runs)."""
    client = connect(source)
    old, new = RedisKeys(source.redis_prefix), RedisKeys(target.redis_prefix)
    shared = new.shared_checkpoint(target.worker_group)  # the shared model's hash
    client.copy(old.shared_checkpoint(source.worker_group), shared, replace=True)
    for number in range(source.topic_partitions):
        blob = client.get(old.partition_checkpoint(source.worker_group, number))
        if blob is not None:
            client.set(new.partition_checkpoint(target.worker_group, number), blob)
        users = old.partition_users(source.worker_group, number)  # the per-user hash
        client.copy(users, new.partition_users(target.worker_group, number), replace=True)


def test_two_workers_merge_to_the_centroids_of_one(group_settings, tmp_path) -> None:
    events = interactions_to_events(amazon_interactions(AMAZON, limit=600))
    warmup = 200  # both runs start from the same seeded clusters: k-means has many optima
    single = replace(
        group_settings,
        worker_group="single-" + os.urandom(3).hex(),
        redis_prefix="single-" + os.urandom(3).hex(),
    )
    produce(group_settings, events[:warmup])
    run_worker(EmbedWorker(single))
    copy_checkpoints(single, group_settings)
    produce(group_settings, events[warmup:])
    run_worker(EmbedWorker(single))

    workers = [
        spawn_worker(replace(group_settings, worker_instance_id=f"w{n}"), tmp_path / f"w{n}.log")
        for n in range(2)
    ]
    for n, worker in enumerate(workers):
        assert worker.wait(240) == 0, (tmp_path / f"w{n}.log").read_text()[-3000:]

    reference, _ = load_group_state(single)
    merged, parts = load_group_state(group_settings)
    assert merged["clock"] == reference["clock"] == len(events)  # none lost, none twice
    # each shared list has one builder (refresh.ListShare); together they built them
    client, keys = connect(group_settings), RedisKeys(group_settings.redis_prefix)
    assert client.exists(keys.trending(), keys.clusters()) == 2  # partition 0's owner
    assert any(client.scan_iter(keys.cluster_recs(0).rsplit(":", 1)[0] + ":*"))
    assert len(all_users(parts)["ids"]) == len({e.user_id for e in events})
    # a cluster near min_weight may die in one run and not the other (weights up to one
    # checkpoint old): it counts as cosine 0 below, and what replaced it stays minor
    reference_ids = {int(c) for c in reference["clusterer"]["ids"]}
    assert minor_share(merged["clusterer"], reference_ids) < MAJOR_SHARE
    cosines, weights = same_id_cosines(reference["clusterer"], merged["clusterer"])
    weighted = float(cosines @ weights / weights.sum())
    major = weights >= MAJOR_SHARE * weights.sum()
    print(
        f"same-id centroid cosines {cosines.round(4)} weights {weights.round(1)} "
        f"weighted mean {weighted:.4f}"
    )
    assert weighted >= MIN_WEIGHTED_COSINE
    assert (cosines[major] >= MIN_MAJOR_COSINE).all()
    np.testing.assert_allclose(
        np.sort(merged["items"]["popularity"]), np.sort(reference["items"]["popularity"]), rtol=1e-9
    )


def checkpointed(settings, partitions: set[int]) -> int:
    """The offsets the partitions' checkpoints hold (what their owner made durable)."""
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    blobs = [store.load_partition_checkpoint(settings.worker_group, n) for n in partitions]
    return sum(sum(PartitionCheckpoint.from_bytes(b).offsets.values()) for b in blobs if b)


def owned_partitions(log_path) -> set[int]:
    """Partition numbers of the last assignment a worker logged."""
    owned: set[int] = set()
    for line in log_path.read_text().splitlines() if log_path.exists() else []:
        if line.startswith("{") and '"msg": "partitions assigned"' in line:
            owned = {int(p) for p in re.findall(r"partition=(\d+)", json.loads(line)["partitions"])}
    return owned


def list_partitions(log_path) -> list[int]:
    """The partition counts each assignment's shared lists were split by (ListShare)."""
    lines = log_path.read_text().splitlines()
    return [
        json.loads(line)["list_partitions"]
        for line in lines
        if line.startswith("{") and '"msg": "partitions assigned"' in line
    ]


def test_killed_worker_partitions_move_to_the_survivor_without_loss(
    group_settings, tmp_path
) -> None:
    events = interactions_to_events(amazon_interactions(AMAZON, limit=600))
    group_settings = replace(group_settings, batch_size=2)  # many small batches: time to kill
    produce(group_settings, events)
    logs = {name: tmp_path / f"{name}.log" for name in ("survivor", "victim")}
    # both join the group (range assignment gives each a partition); after the kill the
    # survivor waits out the victim's session (6 s) before it gets the victim's partition
    survivor = spawn_worker(
        replace(group_settings, worker_instance_id="survivor", log_json=True),
        logs["survivor"],
        "--idle-timeout",
        "20",
    )
    victim = spawn_worker(
        replace(group_settings, worker_instance_id="victim", log_json=True),
        logs["victim"],
        "--idle-timeout",
        "20",
    )
    wait_until(
        lambda: owned_partitions(logs["victim"]), 120, "the victim got a partition", every=0.1
    )
    stolen = owned_partitions(logs["victim"])
    taken_over_at = checkpointed(group_settings, stolen)
    wait_until(
        lambda: checkpointed(group_settings, stolen) > taken_over_at,
        60,
        "the victim processed and checkpointed some of its partitions",
        every=0.02,
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert progress(group_settings) < len(events), "the kill must come mid-stream"
    assert survivor.wait(240) == 0, logs["survivor"].read_text()[-3000:]
    assert stolen <= owned_partitions(logs["survivor"])  # it took the victim's partitions
    # the shared lists were split by the topics' two partitions (read before polling)
    assert set(list_partitions(logs["survivor"])) == {group_settings.topic_partitions} == {2}

    shared, parts = load_group_state(group_settings)
    assert shared["clock"] == len(events)
    assert len(all_users(parts)["ids"]) == len({e.user_id for e in events})
    ends = end_offsets(group_settings, [group_settings.topic_reviews, group_settings.topic_clicks])
    assert committed_offsets(group_settings, group_settings.worker_group) == {
        tp: end for tp, end in ends.items() if end > 0
    }


class SlowEmbedder:
    """The hashing embedder, made slow so that rebalances land while a batch is embedded."""

    def __init__(self, seconds: float) -> None:
        from tests.doubles import HashingEmbedder

        self.inner = HashingEmbedder(64)
        self.dim, self.name, self.seconds = 64, "slow-hashing", seconds

    def encode(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(self.seconds)
        return self.inner.encode(texts)


def test_a_rebalance_while_the_next_batch_is_embedded_loses_nothing(group_settings) -> None:
    import threading

    settings = replace(
        group_settings,
        batch_size=8,
        kafka_session_timeout_ms=10000,
        overlap_embedding=True,
        embed_cache=None,
    )
    events = interactions_to_events(amazon_interactions(AMAZON, limit=300))
    produce(settings, events)
    workers = [EmbedWorker(settings, embedder=SlowEmbedder(0.25)) for _ in range(3)]
    threads = [threading.Thread(target=w.run, kwargs={"idle_timeout_s": 12.0}) for w in workers]
    for worker, thread in zip(workers, threads, strict=True):
        # each join is a rebalance in the middle of the stream: the next worker joins once
        # this one is processing
        thread.start()
        if worker is not workers[-1]:
            wait_until(lambda w=worker: w.events_total > 0, 120, "the worker processes")
    join_all(threads, timeout=180)
    shared, _ = load_group_state(settings)
    assert shared["clock"] == len(events)
    assert sum(w.events_total for w in workers) >= len(events)
    ends = end_offsets(settings, [settings.topic_reviews, settings.topic_clicks])
    assert committed_offsets(settings, settings.worker_group) == {
        tp: end for tp, end in ends.items() if end > 0
    }
