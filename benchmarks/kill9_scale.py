"""kill -9 at benchmark scale (issue 13): a run with crashes equals an uninterrupted one.

A synthetic stream whose catalogue grows to ``--items`` items (every item is
reviewed once, in random order, among Zipf-popular repeats; each review is
followed by a click of the same user on a Zipf item) from ``--users`` users goes
through the real worker on the local Kafka and Redis twice: once uninterrupted
(in process), once as a ``streamrec worker`` subprocess killed with SIGKILL at
``--kills`` random points of its progress and restarted until it has caught up.
Above ``ANN_EXACT_BELOW`` items every user list is two-stage over the HNSW
index, so the restarted worker must replay its index log to serve what the
uninterrupted one serves. Compared (``devtools.effects``): committed offsets,
the clock, clusters, every user's profile, item counts and every user's list
(ids equal, scores within 1e-4). Texts map to random unit vectors through an
embedding cache file, so no model runs.

Needs ``make infra-up`` (Kafka on 19092, Redis on 16379); topics and keys get a
unique prefix and are deleted after. Usage:
``python benchmarks/kill9_scale.py [--items 10000] [--users 10000] [--kills 5]``;
writes benchmarks/results/kill9-scale.json.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # devtools

from common import machine, write_result
from devtools.effects import assert_same_effects, final_state, progress, spawn_worker
from devtools.runs import isolated_settings
from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.embedding.cache import CachedEmbedder
from streamrec.embedding.factory import embedder_from_settings
from streamrec.kafka.clients import make_producer
from streamrec.kafka.producer import publish
from streamrec.kafka.topics import Topics, delete_topics, ensure_topics
from streamrec.serving.store import connect

DIM = 384


def stream(items: int, users: int, reviews: int, seed: int) -> list[ReviewEvent | ClickEvent]:
    rng = np.random.default_rng(seed)
    p = np.arange(1, items + 1, dtype=np.float64) ** -1.1
    zipf = rng.choice(items, 2 * reviews, p=p / p.sum())
    reviewed = zipf[:reviews].copy()
    firsts = rng.choice(reviews, min(items, reviews), replace=False)
    reviewed[np.sort(firsts)] = rng.permutation(items)[: firsts.size]  # every item once
    authors = rng.integers(0, users, reviews)
    events: list[ReviewEvent | ClickEvent] = []
    for n in range(reviews):
        user, ts = f"u{authors[n]}", 1_600_000_000.0 + n
        item, clicked = f"i{reviewed[n]}", f"i{zipf[reviews + n]}"
        events.append(
            ReviewEvent(event_id=f"r{n}", user_id=user, item_id=item, text=f"t{n}", ts=ts)
        )
        events.append(ClickEvent(event_id=f"c{n}", user_id=user, item_id=clicked, ts=ts))
    return events


def write_cache(settings: Settings, path: Path, reviews: int, seed: int) -> None:
    """Random unit vectors for the stream's texts, under the configured model's name."""
    cache = embedder_from_settings(settings, cache=path)
    assert isinstance(cache, CachedEmbedder)
    rng = np.random.default_rng(seed + 1)
    vectors = rng.standard_normal((reviews, DIM)).astype(np.float32)
    cache.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cache.index = {CachedEmbedder.key(f"t{n}"): n for n in range(reviews)}
    cache.save(path)


def settings_for(run: str, cache: Path, **changes: object) -> Settings:
    return isolated_settings(
        f"k9-{run}",
        **{
            "kafka_bootstrap_servers": "127.0.0.1:19092",
            "redis_url": "redis://127.0.0.1:16379/0",
            "topic_partitions": 4,
            "topic_retention_ms": -1,
            "worker_instance_id": "worker-0",
            "embed_cache": cache,
            "checkpoint_interval_s": 1.0,
            "kafka_session_timeout_ms": 6000,
            "log_json": False,
            **changes,
        },
    )


def run_uninterrupted(settings: Settings) -> float:
    worker = EmbedWorker(settings)
    start = time.perf_counter()
    worker.run(until_caught_up=True)
    return time.perf_counter() - start


def run_with_kills(settings: Settings, events: int, kills: int, log: Path) -> dict:
    points = sorted(random.Random(7).sample(range(events // 10, events - events // 10), kills))
    reached = []
    start = time.perf_counter()
    for point in points:
        worker = spawn_worker(settings, log)
        while progress(settings) < point and worker.poll() is None:
            time.sleep(0.05)
        reached.append(progress(settings))
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    last = spawn_worker(settings, log)
    if last.wait(3600) != 0:
        raise RuntimeError(log.read_text()[-3000:])
    return {
        "kill_points": points,
        "progress_at_kill": reached,
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--reviews", type=int, default=None, help="default: 1.5x items")
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    reviews = args.reviews or int(1.5 * args.items)
    run = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="kill9-"))
    cache = workdir / "vectors.npz"
    faulty = settings_for(run, cache)
    reference = settings_for(
        run,
        cache,
        worker_group=f"k9-{run}-ref",
        redis_prefix=f"k9-{run}-ref",
        topic_cluster_events=f"k9-{run}.ref-cluster-events",
    )
    events = stream(args.items, args.users, reviews, seed=0)
    write_cache(faulty, cache, reviews, seed=0)
    ensure_topics(faulty)
    producer = make_producer(faulty)
    publish(producer, events, Topics.from_settings(faulty))
    producer.close()
    try:
        uninterrupted_s = run_uninterrupted(reference)
        print(f"uninterrupted: {len(events)} events in {uninterrupted_s:.0f} s", flush=True)
        faults = run_with_kills(faulty, len(events), args.kills, workdir / "worker.log")
        print(f"with {args.kills} kills: {faults['seconds']:.0f} s", flush=True)
        expected, got = final_state(reference), final_state(faulty)
        assert_same_effects(expected, got)
        shared = got[0]
        result = {
            "items": len(shared["items"]["vectors"]["ids"]),
            "users": len(got[2]["row"]),
            "events": len(events),
            "user_lists_compared": len(expected[3]),
            "equal": True,
            "uninterrupted_s": round(uninterrupted_s, 1),
            **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in faults.items()},
            "machine": machine(),
        }
        print(result, flush=True)
        write_result("kill9-scale.json", result)
    finally:
        client = connect(faulty)
        for prefix in (faulty.redis_prefix, reference.redis_prefix):
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
        names = [*Topics.from_settings(faulty).all(), reference.topic_cluster_events]
        delete_topics(faulty, names)


if __name__ == "__main__":
    main()
