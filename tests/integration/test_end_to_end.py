"""The thin path on the real servers: producer -> Kafka -> worker -> Redis."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streamrec.app.worker import EmbedWorker
from streamrec.cli import app
from streamrec.core.events import ReviewEvent
from streamrec.evaluation.datasets import interactions_to_events
from streamrec.kafka.offsets import committed_offsets
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect
from tests.integration.helpers import produce, produce_raw, read_topic, run_worker, topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_events_reach_redis_for_exactly_those_users_and_offsets_cover_all(
    settings, embedder, amazon_slice
) -> None:
    events = interactions_to_events(amazon_slice)
    produce(settings, events)
    worker = EmbedWorker(settings, embedder=embedder)
    run_worker(worker)

    keys = RedisKeys(settings.redis_prefix)
    client = connect(settings)
    head, _, tail = keys.user_recs("\0").partition("\0")  # the user id sits in a hash tag
    stored_users = {k.decode()[len(head) : -len(tail)] for k in client.scan_iter(f"{head}*{tail}")}
    assert stored_users == {e.user_id for e in events}
    assert worker.events_total == len(events)

    committed = committed_offsets(settings, settings.worker_group)
    per_topic: dict[str, int] = {}
    for tp, offset in committed.items():
        per_topic[tp.topic] = per_topic.get(tp.topic, 0) + offset
    reviews = sum(isinstance(e, ReviewEvent) for e in events)
    assert per_topic == {
        settings.topic_reviews: reviews,
        settings.topic_clicks: len(events) - reviews,
    }

    answer = RecsClient.from_settings(settings).recommend(events[0].user_id, k=5)
    assert answer.level == "user" and len(answer.item_ids()) == 5
    assert events[0].item_id not in answer.item_ids()

    env = {
        "STREAMREC_REDIS_URL": settings.redis_url,
        "STREAMREC_REDIS_PREFIX": settings.redis_prefix,
    }
    result = CliRunner().invoke(app, ["recs", events[0].user_id, "-k", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert "level=user" in result.output and "as_of=" in result.output
    assert (
        len([line for line in result.output.splitlines() if line.strip()[:2].strip(". ").isdigit()])
        == 3
    )

    fragments = [e.text[:40].encode() for e in events if isinstance(e, ReviewEvent)]
    for key in client.scan_iter(keys.pattern()):
        value = client.get(key) if client.type(key) == b"string" else b""
        assert not any(fragment in value for fragment in fragments), key  # no raw text

    lifecycle = [
        json.loads(r.value)
        for r in read_topic(settings, settings.topic_cluster_events, settings.n_clusters)
    ]
    assert [e["kind"] for e in lifecycle[: settings.n_clusters]] == ["born"] * settings.n_clusters
    assert len({e["cluster_id"] for e in lifecycle}) >= settings.n_clusters


def test_clusters_command_prints_labels_and_draws_the_map(
    settings, embedder, amazon_slice, tmp_path
) -> None:
    produce(settings, interactions_to_events(amazon_slice))
    run_worker(EmbedWorker(settings, embedder=embedder))
    env = {
        "STREAMREC_REDIS_URL": settings.redis_url,
        "STREAMREC_REDIS_PREFIX": settings.redis_prefix,
        "STREAMREC_WORKER_GROUP": settings.worker_group,
    }
    picture = tmp_path / "map.png"
    result = CliRunner().invoke(app, ["clusters", "--plot", str(picture)], env=env)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("cluster")]
    assert len(rows) == settings.n_clusters
    assert all("users=" in row and "weight=" in row for row in rows)
    assert picture.stat().st_size > 10_000 and picture.read_bytes()[:4] == b"\x89PNG"


def test_bad_messages_go_to_the_dead_letter_topic_and_good_ones_still_count(
    settings, embedder, amazon_slice
) -> None:
    good = interactions_to_events(amazon_slice[:5])
    produce(settings, good[:4])
    bad = [b"not json", b'{"type": "click"}', None, b"\xff\xfe"]
    produce_raw(settings, settings.topic_reviews, bad)
    produce(settings, good[4:])
    worker = EmbedWorker(settings, embedder=embedder)
    run_worker(worker)
    assert worker.events_total == len(good)
    assert worker.dead_letters == len(bad)
    letters = read_topic(settings, topics(settings).dead_letter, len(bad))
    assert sorted((r.value or b"") for r in letters) == sorted(v or b"" for v in bad)
    for record in letters:
        headers = dict(record.headers)
        assert headers["streamrec.source.topic"].decode() == settings.topic_reviews
        assert int(headers["streamrec.source.offset"]) >= 0
        assert headers["streamrec.error"]


def test_restarted_worker_resumes_from_its_checkpoint(settings, embedder, amazon_slice) -> None:
    events = interactions_to_events(amazon_slice[:30])
    produce(settings, events[:30])
    first = EmbedWorker(settings, embedder=embedder)
    run_worker(first)
    produce(settings, events[30:])
    second = EmbedWorker(settings, embedder=embedder)
    run_worker(second)
    assert second.events_total == len(events) - 30  # only the new ones
    assert second.engine.clock == len(events)  # applied once each, across both runs
    summary = json.loads(connect(settings).get(RedisKeys(settings.redis_prefix).model()))
    assert summary["events"] == len(events)
    assert summary["users"] == len({e.user_id for e in events})
