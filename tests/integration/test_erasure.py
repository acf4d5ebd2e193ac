"""Erasure with several workers: ``streamrec delete-user`` reaches the worker that owns the
user's partition, after the user's earlier events, and nothing of the user stays in Redis."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from streamrec.app.worker import EmbedWorker
from streamrec.cli import app
from streamrec.cli.views import all_users, load_group_state
from streamrec.core.events import ReviewEvent
from streamrec.core.partitioning import partition_for
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.kafka.topics import ensure_topics
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect
from tests.conftest import AMAZON, replace
from tests.doubles import HashingEmbedder
from tests.integration.helpers import join_all, produce, wait_until

pytestmark = pytest.mark.integration


def traces(settings, user_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Keys of the namespace whose name or value holds the user id."""
    client, needle = connect(settings), user_id.encode()
    found = []
    for key in client.scan_iter(RedisKeys(settings.redis_prefix).pattern()):
        kind = client.type(key).decode()
        values = [client.get(key)] if kind == "string" else []
        values += list(client.lrange(key, 0, -1)) if kind == "list" else []
        values += [k + v for k, v in client.hgetall(key).items()] if kind == "hash" else []
        if needle in key or any(needle in (v or b"") for v in values):
            found.append(key.decode())
    return found


def users_of_group(settings) -> list[str]:  # type: ignore[no-untyped-def]
    loaded = load_group_state(settings)
    return [] if loaded is None else list(all_users(loaded[1])["ids"])


def checkpointed(settings) -> int:  # type: ignore[no-untyped-def]
    """Records of all input topics that the partition checkpoints hold as processed."""
    loaded = load_group_state(settings)
    return 0 if loaded is None else sum(sum(p.offsets.values()) for p in loaded[1])


def representatives_of(settings) -> set[str]:  # type: ignore[no-untyped-def]
    """Event ids and users of the reviews that represent clusters in the shared checkpoint."""
    shared, _ = load_group_state(settings)
    entries = shared["labeler"].values()
    return {x for entry in entries for x in [*entry["rep_users"], *entry["rep_ids"]]}


def test_the_owner_erases_the_user_in_order_with_two_workers(settings) -> None:  # type: ignore[no-untyped-def]
    settings = replace(settings, batch_size=8, checkpoint_interval_s=0.2, embed_cache=None)
    ensure_topics(settings)
    workers = [
        EmbedWorker(replace(settings, worker_instance_id=f"w{n}"), embedder=HashingEmbedder(64))
        for n in range(2)
    ]
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: all(len(w.progress.owned) == 1 for w in workers), 60, "one partition each"
        )
        everything = interactions_to_events(amazon_interactions(AMAZON, limit=260))
        events, later = everything[:400], everything[400:]
        victim = Counter(e.user_id for e in events).most_common(1)[0][0]
        owner = next(w for w in workers if partition_for(victim, 2) in w.progress.owned)
        other = next(w for w in workers if w is not owner)
        # the request is published while the victim's events still wait in Kafka: it must
        # be applied after them (a request applied first would be undone by them)
        produce(settings, events)
        result = CliRunner().invoke(app, ["delete-user", victim], env=settings.to_env())
        assert result.exit_code == 0, result.output
        wait_until(
            lambda: (
                checkpointed(settings) == len(events) + 1  # and the request
                and not any(w.progress.dirty for w in workers)
            ),
            90,
            "both workers processed and checkpointed everything",
        )
        assert owner.processor.erasure.erased == 1
        assert other.processor.erasure.erased == 0  # the request reached only the owner
        assert not owner.engine.knows_user(victim)
        users = users_of_group(settings)
        assert victim not in users
        assert len(users) == len({e.user_id for e in events}) - 1
        assert traces(settings, victim) == []
        assert victim not in representatives_of(settings)

        # both workers go on (their syncs must not bring the victim's reviews back as
        # representatives), and the user comes back: a fresh profile of that one review
        comeback = ReviewEvent(
            event_id="comeback",
            user_id=victim,
            item_id="B000NEW",
            text="new strings",
            ts=time.time() + 5,
        )
        produce(settings, [*later, comeback])
        wait_until(
            lambda: (
                checkpointed(settings) == len(everything) + 2
                and not any(w.progress.dirty for w in workers)
            ),
            90,
            "both workers processed the later events and checkpointed",
        )
        assert victim in users_of_group(settings)
        assert owner.engine.profiles.seen_items(victim).size == 1
        old_reviews = {e.event_id for e in events if e.user_id == victim}
        assert not old_reviews & representatives_of(settings)
    finally:
        for worker in workers:
            worker.stop()
        join_all(threads, timeout=60)


def retention_ms(settings, topic: str) -> int:  # type: ignore[no-untyped-def]
    from kafka.admin import ConfigResource, ConfigResourceType

    from streamrec.kafka.clients import admin

    client = admin(settings)
    try:
        configs = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        client.close()
    return int(configs["topic"][topic]["retention.ms"]["value"])


def test_topics_get_a_finite_retention_and_data_sets_keep_their_history(settings) -> None:  # type: ignore[no-untyped-def]
    default = Settings.model_fields["topic_retention_ms"].default
    assert default == 7 * 24 * 3600 * 1000
    live = replace(settings, topic_retention_ms=default)
    ensure_topics(live, [live.topic_reviews])
    history = replace(settings, topic_retention_ms=default, topic_clicks=live.topic_clicks + "-h")
    ensure_topics(history, [history.topic_clicks], keep_history=True)
    assert retention_ms(live, live.topic_reviews) == default
    assert retention_ms(history, history.topic_clicks) == -1
