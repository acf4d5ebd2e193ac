"""The metrics sidecar on the real servers: joins, windows in Redis, restart."""

from __future__ import annotations

import pytest

from streamrec.app.sidecar import MetricsSidecar
from streamrec.core.events import ClickEvent, ImpressionEvent
from streamrec.kafka.clients import make_producer
from streamrec.kafka.topics import ensure_topics
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect

pytestmark = pytest.mark.integration


def send(settings, events) -> None:
    ensure_topics(settings)
    producer = make_producer(settings)
    for event in events:
        topic = (
            settings.topic_impressions
            if isinstance(event, ImpressionEvent)
            else settings.topic_clicks
        )
        producer.send(topic, key=event.user_id.encode(), value=event.to_json())
    producer.flush()
    producer.close()


def served(n: int, user: str, items: list[str], ts: float, strategy: str) -> ImpressionEvent:
    return ImpressionEvent(
        impression_id=f"imp{n}", user_id=user, items=items, strategy=strategy, ts=ts
    )


def test_sidecar_scores_each_strategy_and_survives_a_restart(settings) -> None:
    first = [
        served(1, "u1", ["a", "b", "c"], 10, "user"),
        served(2, "u1", ["c", "b", "a"], 10, "trending"),
        ClickEvent(event_id="c1", user_id="u1", item_id="a", ts=11, impression_id="imp1"),
        ClickEvent(event_id="c2", user_id="u1", item_id="a", ts=11, impression_id="imp2"),
        served(3, "u2", ["x", "y"], 20, "user"),
        ClickEvent(event_id="c3", user_id="u2", item_id="y", ts=21),  # joined by time
        ClickEvent(event_id="c4", user_id="nobody", item_id="y", ts=22),  # organic
    ]
    send(settings, first)
    sidecar = MetricsSidecar(settings, window=10, period_s=3600)
    sidecar.run(until_caught_up=True)
    redis = connect(settings)
    keys = RedisKeys(settings.redis_prefix)
    user = {k.decode(): float(v) for k, v in redis.hgetall(keys.metrics("user")).items()}
    trending = {k.decode(): float(v) for k, v in redis.hgetall(keys.metrics("trending")).items()}
    assert user["hit@10:last10"] == 1.0
    assert user["mrr:last10"] == pytest.approx((1 + 1 / 2) / 2)
    assert trending["mrr:last10"] == pytest.approx(1 / 3)
    assert user["ctr:total"] == 1.0
    assert sidecar.unmatched == 1

    send(
        settings,
        [
            served(4, "u3", ["q"], 30, "user"),
            ClickEvent(event_id="c5", user_id="u3", item_id="z", ts=31),
            ClickEvent(event_id="c1", user_id="u1", item_id="a", ts=11, impression_id="imp1"),
        ],
    )  # a redelivered click
    restarted = MetricsSidecar(settings, window=10, period_s=3600)
    restarted.run(until_caught_up=True)
    user = {k.decode(): float(v) for k, v in redis.hgetall(keys.metrics("user")).items()}
    assert user["impressions:total"] == 3.0
    assert user["clicks:total"] == 3.0  # the duplicate click was not counted again
    assert user["hit@10:last10"] == pytest.approx(2 / 3)


def test_unanswered_clicks_expire_by_event_time_while_records_keep_coming(settings) -> None:
    send(
        settings,
        [
            ClickEvent(event_id="lone", user_id="u1", item_id="a", ts=100),  # no impression
            served(1, "u2", ["x"], 200, "user"),  # the stream goes on: 100 s later
            ClickEvent(event_id="fresh", user_id="u3", item_id="b", ts=195),
        ],
    )
    sidecar = MetricsSidecar(settings, window=10, period_s=3600, pending_s=30)
    sidecar.run(idle_timeout_s=2)  # not caught-up mode: nothing is forced out at the end
    assert sidecar.unmatched == 1  # the click 100 s behind event time is organic
    assert [c.event_id for c in sidecar.pending.clicks] == ["fresh"]  # 5 s behind: waits
