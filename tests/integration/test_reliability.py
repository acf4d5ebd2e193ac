"""Bad input, outages, AUTH and erasure on the real servers."""

from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from devtools.infra import RedisServer
from streamrec.app.worker import EmbedWorker
from streamrec.app.worker.reader import UNKNOWN_END, _at_end_checker, _ends
from streamrec.cli.views import all_users, load_group_state
from streamrec.core.events import ReviewEvent
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.kafka.clients import make_consumer, make_producer
from streamrec.kafka.offsets import caught_up, committed_offsets
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect
from tests.conftest import AMAZON, replace
from tests.integration.bad_messages import BAD_MESSAGES
from tests.integration.helpers import produce, run_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_bad_message_is_dead_lettered_and_good_ones_around_it_count(
    settings, amazon_cache
) -> None:
    settings = replace(settings, **{"embed_cache": amazon_cache})
    good = interactions_to_events(amazon_interactions(AMAZON, limit=40))
    duplicate = next(e for e in good if isinstance(e, ReviewEvent))
    produce(settings, good[:40])
    producer = make_producer(settings)
    cases = [
        (n, t, p if n != "duplicate event id" else duplicate.to_json()) for n, t, p in BAD_MESSAGES
    ]
    for _, topic, payload in cases:
        name = settings.topic_reviews if topic == "reviews" else settings.topic_clicks
        producer.send(name, key=b"bad-user", value=payload)
    producer.flush()
    producer.close()
    produce(settings, good[40:])
    assert len(cases) >= 20

    worker = EmbedWorker(settings)
    run_worker(worker)
    assert worker.events_total == len(good)
    assert worker.dead_letters == len(cases)

    consumer = KafkaConsumer(
        settings.topic_dead_letter,
        **settings.kafka_client_options(),
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    letters = []
    deadline = time.monotonic() + 60
    while len(letters) < len(cases) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            letters.extend(batch)
    consumer.close()
    assert len(letters) == len(cases)
    by_value = {}
    for record in letters:
        headers = dict(record.headers)
        assert headers["streamrec.error"].decode()
        assert int(headers["streamrec.source.offset"]) >= 0
        assert headers["streamrec.source.topic"].decode() in (
            settings.topic_reviews,
            settings.topic_clicks,
        )
        by_value.setdefault(record.value, []).append(headers["streamrec.error"].decode())
    for name, _, payload in cases:
        assert (payload or b"") in by_value, name
    assert any("duplicate" in e for e in by_value[duplicate.to_json()])


def test_redis_with_password_end_to_end_and_masked(settings, amazon_cache, tmp_path) -> None:
    server = RedisServer(tmp_path / "redis-auth", port=26393, password="s3cret-pw")
    server.start()
    try:
        secured = replace(
            settings,
            **{
                "redis_url": "redis://127.0.0.1:26393/0",
                "redis_password": "s3cret-pw",
                "embed_cache": amazon_cache,
            },
        )
        events = interactions_to_events(amazon_interactions(AMAZON, limit=10))
        produce(secured, events)
        run_worker(EmbedWorker(secured))
        assert connect(secured).exists(RedisKeys(secured.redis_prefix).user_recs(events[0].user_id))
        assert "s3cret-pw" not in str(secured.masked())
        unauthenticated = replace(secured, **{"redis_password": None})
        import redis

        with pytest.raises(redis.AuthenticationError):
            connect(unauthenticated).ping()
    finally:
        server.stop()


def test_delete_user_leaves_no_trace_in_redis(settings, amazon_cache) -> None:
    from typer.testing import CliRunner

    from streamrec.cli import app

    settings = replace(settings, **{"embed_cache": amazon_cache})
    events = interactions_to_events(amazon_interactions(AMAZON, limit=60))
    victim = events[0].user_id
    produce(settings, events)
    worker = EmbedWorker(settings)
    run_worker(worker)
    result = CliRunner().invoke(app, ["delete-user", victim], env=settings.to_env())
    assert result.exit_code == 0, result.output
    run_worker(EmbedWorker(settings))  # the next worker run applies the request

    client = connect(settings)
    needle = victim.encode()
    for key in client.scan_iter(RedisKeys(settings.redis_prefix).pattern()):
        assert needle not in key
        kind = client.type(key).decode()
        if kind == "string":
            assert needle not in client.get(key), key
        elif kind == "list":
            assert all(needle not in v for v in client.lrange(key, 0, -1)), key
        elif kind == "hash":
            assert all(needle not in k + v for k, v in client.hgetall(key).items()), key
    users = all_users(load_group_state(settings)[1])
    assert victim not in users["ids"]
    assert len(users["ids"]) == len({e.user_id for e in events}) - 1


def test_redis_outage_backs_off_commits_nothing_and_catches_up(
    settings, amazon_cache, tmp_path
) -> None:
    server = RedisServer(tmp_path / "redis-outage", port=26394)
    server.start()
    settings = replace(
        settings,
        **{
            "redis_url": "redis://127.0.0.1:26394/0",
            "embed_cache": amazon_cache,
            "batch_size": 4,
            "checkpoint_interval_s": 0,
        },
    )
    events = interactions_to_events(amazon_interactions(AMAZON, limit=200))
    produce(settings, events[:100])
    worker = EmbedWorker(settings)
    thread = threading.Thread(target=worker.run, kwargs={"idle_timeout_s": 8.0})
    try:
        thread.start()
        wait_until(lambda: worker.events_total >= 40, 60, "40 events are processed")
        server.stop()
        committed_during = []
        produce(settings, events[100:])
        for _ in range(10):  # 10 s without Redis
            time.sleep(1)
            committed_during.append(
                sum(committed_offsets(settings, settings.worker_group).values())
            )
        assert len(set(committed_during)) == 1, "offsets moved while Redis was down"
        server.start()
        thread.join(120)
        assert not thread.is_alive()
    finally:
        worker.stop()
        thread.join(10)
        server.stop()
    assert worker.events_total == len(events)
    assert worker.engine.clock == len(events)  # every event applied exactly once
    assert sum(committed_offsets(settings, settings.worker_group).values()) == len(events)


def test_end_of_partition_checks_answer_not_done_while_the_broker_is_away(
    settings, infra, tmp_path
) -> None:
    """The worker's poll loop asks these between polls; an outage must not kill it."""
    from devtools.infra import KafkaServer

    broker = KafkaServer(
        tmp_path / "kafka", port=29394, controller_port=29395, libs_dir=infra.kafka.libs
    )
    broker.start()
    settings = replace(settings, kafka_bootstrap_servers=broker.bootstrap)
    events = interactions_to_events(amazon_interactions(AMAZON, limit=10))
    consumer = None
    try:
        produce(settings, events)
        consumer = make_consumer(settings, "outage-probe")
        assigned = [TopicPartition(settings.topic_reviews, p) for p in range(2)]
        consumer.assign(assigned)  # nothing fetched yet: both answers need the broker
        broker.stop()
        reported = _ends(consumer, set(assigned))  # the broker's answer: none
        assert set(reported.values()) == {UNKNOWN_END}
        for at_end in (_at_end_checker(consumer), _at_end_checker(consumer, reported)):
            for tp in assigned:
                for partition in (tp, TopicPartition(tp.topic, 99)):  # known, and leaderless
                    assert at_end(partition) is False
        assert caught_up(consumer, {}, count_fetched=True) is False
    finally:
        if consumer is not None:
            consumer.close(autocommit=False)
        broker.stop()


def test_broker_restart_mid_stream_worker_recovers_by_itself(
    settings, amazon_cache, infra, tmp_path
) -> None:
    from devtools.infra import KafkaServer

    broker = KafkaServer(
        tmp_path / "kafka", port=29392, controller_port=29393, libs_dir=infra.kafka.libs
    )
    broker.start()
    settings = replace(
        settings,
        kafka_bootstrap_servers=broker.bootstrap,
        embed_cache=amazon_cache,
        batch_size=4,
        checkpoint_interval_s=0,
        kafka_session_timeout_ms=10000,
    )
    events = interactions_to_events(amazon_interactions(AMAZON, limit=200))
    worker = EmbedWorker(settings)
    thread = threading.Thread(target=worker.run, kwargs={"until_caught_up": True})
    try:
        produce(settings, events)
        thread.start()
        wait_until(lambda: worker.events_total >= 60, 60, "60 events are processed")
        broker.stop()
        assert worker.events_total < len(events), "the outage must come mid-stream"
        time.sleep(5)
        broker.start()
        thread.join(180)
        assert not thread.is_alive()
        assert worker.events_total == len(events)
        assert worker.engine.clock == len(events)
        assert sum(committed_offsets(settings, settings.worker_group).values()) == len(events)
    finally:
        worker.stop()
        thread.join(10)
        broker.stop()
