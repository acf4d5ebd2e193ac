"""``make demo``: the whole Amazon set through the real pipeline, then a summary."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from streamrec.app.observability import setup_logging
from streamrec.app.worker import EmbedWorker
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions, amazon_path, interactions_to_events
from streamrec.kafka.clients import make_producer
from streamrec.kafka.producer import publish
from streamrec.kafka.topics import Topics, delete_topics, ensure_topics
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect


def reset_namespace(settings: Settings) -> int:
    """Delete the topics and every Redis key of the configured namespace."""
    delete_topics(settings, Topics.from_settings(settings).all())
    client = connect(settings)
    doomed = list(client.scan_iter(RedisKeys(settings.redis_prefix).pattern(), count=1000))
    for start in range(0, len(doomed), 1000):
        client.delete(*doomed[start : start + 1000])
    return len(doomed)


def _wait_topics_gone(settings: Settings, timeout: float = 30.0) -> None:
    from streamrec.kafka.clients import admin

    names = set(Topics.from_settings(settings).all())
    client = admin(settings)
    try:
        deadline = time.monotonic() + timeout
        while names & set(client.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        client.close()


def run_demo(settings: Settings, path: Path | None = None, limit: int | None = None) -> dict:
    from tqdm import tqdm

    setup_logging("WARNING", json_lines=False)
    path = path or amazon_path(settings.data_dir)
    interactions = amazon_interactions(path, limit)
    events = interactions_to_events(interactions)
    print(f"data: {path} ({len(interactions)} reviews -> {len(events)} events)")

    reset_namespace(settings)
    _wait_topics_gone(settings)
    ensure_topics(settings, keep_history=True)  # history: years-old times
    started = time.monotonic()
    producer = make_producer(settings)
    try:
        publish(producer, events, Topics.from_settings(settings), progress=True)
    finally:
        producer.close()
    produced = time.monotonic()

    print("loading the embedding model ...")
    worker = EmbedWorker(settings)
    bar = tqdm(total=len(events), desc="worker", unit="ev")

    def advance(w: EmbedWorker) -> None:
        bar.update(w.events_total + w.dead_letters - bar.n)

    consume_start = time.monotonic()
    worker.run(until_caught_up=True, on_batch=advance)
    bar.close()
    finished = time.monotonic()

    active = Counter(i.user_id for i in interactions).most_common(1)[0][0]
    answer = RecsClient.from_settings(settings).recommend(active, k=5)
    model = json.loads(connect(settings).get(RedisKeys(settings.redis_prefix).model()) or "{}")
    return {
        "events_processed": worker.events_total,
        "dead_letters": worker.dead_letters,
        "users": model.get("users"),
        "items": model.get("items"),
        "clusters": model.get("clusters"),
        "wall_seconds_total": round(finished - started, 1),
        "wall_seconds_produce": round(produced - started, 1),
        "wall_seconds_worker": round(finished - consume_start, 1),
        "worker_events_per_second": round(worker.events_total / (finished - consume_start), 1),
        "recs_in_redis": f"{settings.redis_url} keys {RedisKeys(settings.redis_prefix).base}:*",
        "example_user": active,
        "example_level": answer.level,
        "example_cluster": answer.cluster_id,
        "example_recs": answer.item_ids(),
        "try": f"streamrec recs {active}",
    }
