"""The HTTP API under uvicorn against the real Kafka and Redis."""

from __future__ import annotations

import json

import httpx
import pytest

from streamrec.core.events import ImpressionEvent, ReviewEvent, parse_event
from streamrec.kafka.offsets import end_offsets
from streamrec.serving.schema import Publication, RecList, RedisKeys, ScoredItem
from streamrec.serving.store import RecsStore, connect
from tests.conftest import replace
from tests.integration.api_server import seed, serving
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def seeded(settings):
    events = seed(settings)
    return settings, events


def test_recs_answer_with_level_and_publish_the_impression(seeded) -> None:
    settings, events = seeded
    seen = {e.item_id for e in events if e.user_id == "u0"}
    with serving(settings) as url:
        body = httpx.get(f"{url}/v1/users/u0/recs", params={"k": 3}).json()
        trending = httpx.get(f"{url}/v1/users/u0/recs", params={"strategy": "trending"}).json()
        stranger = httpx.get(f"{url}/v1/users/nobody/recs").json()
    assert body["level"] == "user" and len(body["items"]) == 3 and body["as_of"] > 0
    assert not seen & {i["item_id"] for i in body["items"]}  # seen items filtered
    assert not seen & {i["item_id"] for i in trending["items"]}
    assert trending["level"] == "trending" and stranger["level"] == "trending"
    records = read_topic(settings, settings.topic_impressions, expected=3)
    impressions = [parse_event(r.value, ImpressionEvent) for r in records]
    first = next(i for i in impressions if i.impression_id == body["impression_id"])
    assert first.user_id == "u0" and first.items == [i["item_id"] for i in body["items"]]
    assert first.strategy == "user" and first.arm is None


def test_events_are_validated_and_on_the_topic_before_the_answer(settings) -> None:
    good = ReviewEvent(event_id="e1", user_id="u1", item_id="i1", text="nice strings", ts=5.0)
    bad = {**json.loads(good.to_json()), "colour": "red"}
    later = ReviewEvent(event_id="e2", user_id="u1", item_id="i2", text="fine pedal", ts=6.0)
    with serving(settings) as url:
        accepted = httpx.post(f"{url}/v1/events", content=good.to_json())
        # acknowledged by the broker before the answer: the record is there right away
        on_topic_at_202 = sum(end_offsets(settings, [settings.topic_reviews]).values())
        mixed = httpx.post(f"{url}/v1/events", json=[json.loads(later.to_json()), bad])
        refused = httpx.post(f"{url}/v1/events", json=bad)
        garbage = httpx.post(f"{url}/v1/events", content=b"{not json")
        impression = httpx.post(
            f"{url}/v1/events",
            json={
                "type": "impression",
                "impression_id": "i",
                "user_id": "u",
                "items": ["a"],
                "strategy": "user",
                "ts": 1,
            },
        )
    assert accepted.status_code == 202 and accepted.json()["accepted"] == 1
    assert on_topic_at_202 == 1
    assert mixed.status_code == 422 and mixed.json()["detail"].startswith("event 1:")
    assert refused.status_code == 422 and "colour" in refused.json()["detail"]
    assert garbage.status_code == 400
    assert impression.status_code == 422
    records = read_topic(settings, settings.topic_reviews, expected=1, timeout=5)
    assert [parse_event(r.value) for r in records] == [good]  # nothing of the refused batch


def test_clusters_similar_items_user_page_health_metrics_docs(seeded) -> None:
    settings, _ = seeded
    with serving(settings) as url:
        clusters = httpx.get(f"{url}/v1/clusters").json()
        one = httpx.get(f"{url}/v1/clusters/{clusters[0]['cluster_id']}").json()
        missing = httpx.get(f"{url}/v1/clusters/999999")
        similar = httpx.get(f"{url}/v1/items/strings-0/similar", params={"k": 3}).json()
        unknown = httpx.get(f"{url}/v1/items/nothing/similar")
        user = httpx.get(f"{url}/v1/users/u0").json()
        ready = httpx.get(f"{url}/health/ready")
        metrics = httpx.get(f"{url}/metrics").text
        docs = httpx.get(f"{url}/openapi.json").json()
        docs_page = httpx.get(f"{url}/docs")
        dashboard = httpx.get(f"{url}/")
    assert clusters and {"labels", "users", "weight", "parent"} <= set(clusters[0])
    assert one["cluster_id"] == clusters[0]["cluster_id"] and "lifecycle" in one
    assert missing.status_code == 404 and unknown.status_code == 404
    # same review text -> the items of the same topic are the most similar
    assert [s["item_id"].split("-")[0] for s in similar["similar"]] == ["strings"] * 3
    assert user["cluster"]["labels"] and user["reviewed"][0]["similar"]
    assert ready.status_code == 200 and ready.json() == {
        "status": "ok",
        "redis": True,
        "kafka": True,
    }
    assert 'streamrec_api_request_seconds_count{route="/v1/users/{user_id}/recs"' in metrics
    assert "/v1/users/{user_id}/recs" in docs["paths"]
    assert docs_page.status_code == 200 and "swagger" in docs_page.text.lower()
    assert dashboard.status_code == 200 and "charts.js" in dashboard.text


def test_api_key_and_bad_input(settings) -> None:
    locked = replace(settings, api_key="s3cret")
    with serving(locked) as url:
        without = httpx.get(f"{url}/v1/clusters")
        wrong = httpx.get(f"{url}/v1/clusters", headers={"X-API-Key": "nope"})
        right = httpx.get(f"{url}/v1/clusters", headers={"X-API-Key": "s3cret"})
        bad_strategy = httpx.get(
            f"{url}/v1/users/u/recs", params={"strategy": "magic"}, headers={"X-API-Key": "s3cret"}
        )
        bad_user = httpx.get(f"{url}/v1/users/a%01b/recs", headers={"X-API-Key": "s3cret"})
        bad_k = httpx.get(
            f"{url}/v1/users/u/recs", params={"k": 0}, headers={"X-API-Key": "s3cret"}
        )
        live = httpx.get(f"{url}/health/live")
    assert without.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200 and right.json() == []
    assert bad_k.status_code == 422 and bad_strategy.status_code == 422
    assert bad_user.status_code == 422
    assert live.status_code == 200


def test_ready_is_503_when_redis_is_unreachable(settings) -> None:
    broken = replace(settings, redis_url="redis://127.0.0.1:1/0")
    with serving(broken) as url:
        ready = httpx.get(f"{url}/health/ready")
    assert ready.status_code == 503 and ready.json()["redis"] is False


def test_without_kafka_lists_are_still_served_and_events_get_503(settings) -> None:
    trending = RecList(
        strategy="trending",
        level="trending",
        as_of=1.0,
        items=[ScoredItem(item_id="i1", score=1.0)],
    )
    RecsStore(connect(settings), RedisKeys(settings.redis_prefix)).write(
        Publication(trending=trending)
    )
    no_kafka = replace(settings, kafka_bootstrap_servers="127.0.0.1:1")
    with serving(no_kafka) as url:
        ready = httpx.get(f"{url}/health/ready", timeout=10)
        recs = httpx.get(f"{url}/v1/users/u1/recs", timeout=30)
        event = ReviewEvent(event_id="e", user_id="u", item_id="i", text="ok", ts=1.0)
        posted = httpx.post(f"{url}/v1/events", content=event.to_json(), timeout=30)
    assert ready.status_code == 503 and ready.json()["kafka"] is False
    assert recs.status_code == 200 and [i["item_id"] for i in recs.json()["items"]] == ["i1"]
    assert posted.status_code == 503
