"""No fallback level serves a user what they already have: the worker writes each user's
recent items beside their list, and the client filters user, cluster, group and trending lists."""

from __future__ import annotations

import json

import pytest

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import Publication, RecList, RedisKeys, ScoredItem
from streamrec.serving.store import RecsStore, connect
from tests.doubles import HashingEmbedder

pytestmark = pytest.mark.integration

TEXTS = ["guitar strings bright tone", "microphone vocal recording"]


def events() -> list[ReviewEvent | ClickEvent]:
    """Four users on six items, i0 the most clicked; "heavy" clicks five items."""
    out: list[ReviewEvent | ClickEvent] = [
        ReviewEvent(
            event_id=f"e{n}",
            user_id=f"u{n % 4}",
            item_id=f"i{n % 6}",
            text=TEXTS[n % 2],
            rating=5.0,
            ts=float(n),
        )
        for n in range(24)
    ]
    out += [ClickEvent(event_id=f"c{n}", user_id=f"x{n}", item_id="i0", ts=30.0) for n in range(5)]
    out += [
        ClickEvent(event_id=f"h{n}", user_id="heavy", item_id=f"i{n}", ts=31.0)
        for n in (1, 2, 3, 4, 5)
    ]
    return out


@pytest.fixture
def served(settings):  # type: ignore[no-untyped-def]
    """The engine's batch written by the store (as the worker does), and a client."""
    embedder = HashingEmbedder(64)
    engine = Engine(64, EngineConfig(n_clusters=1, recs_length=10, recent_items=3))
    batch = events()
    reviews = [e.text for e in batch if isinstance(e, ReviewEvent)]
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    store.write(engine.apply(batch, embedder.encode(reviews)))
    return store, RecsClient(connect(settings), settings.redis_prefix)


def seen_by(user: str) -> set[str]:
    return {e.item_id for e in events() if e.user_id == user}


def test_recent_items_are_written_bounded_with_the_users_list(served) -> None:  # type: ignore[no-untyped-def]
    store, client = served
    raw = store.client.get(store.keys.user_recent("u0"))
    assert json.loads(raw) == ["i0", "i4", "i2"]  # u0's items, oldest first
    assert json.loads(store.client.get(store.keys.user_recent("heavy"))) == ["i3", "i4", "i5"]
    assert store.client.get(store.keys.user_recs("u0")) is not None
    assert client.recent_items("u0") == {"i0", "i4", "i2"}
    assert client.recent_items("stranger") == frozenset()
    assert store.delete_user("u0") == 3  # list, assignment and recent items go together
    assert store.client.get(store.keys.user_recent("u0")) is None


def test_user_level_drops_a_recent_item_from_a_stale_list(served) -> None:  # type: ignore[no-untyped-def]
    store, client = served
    stale = RecList(
        strategy="user",
        level="user",
        user_id="u0",
        items=[ScoredItem(item_id=i, score=1.0) for i in ("i0", "i1", "i5")],
        as_of=1.0,
    )
    store.write(Publication(user_recs={"u0": stale}))  # e.g. written before u0 saw i0
    answer = client.recommend("u0")
    assert (answer.level, answer.item_ids()) == ("user", ["i1", "i5"])


def test_cluster_level_drops_the_users_items(served) -> None:  # type: ignore[no-untyped-def]
    store, client = served
    store.client.delete(store.keys.user_recs("u0"))  # expired, say: the cluster list answers
    cluster = client.assignment("u0").cluster_id  # type: ignore[union-attr]
    raw = store.cluster_recs(cluster)
    assert raw is not None and {"i0", "i2"} <= set(raw.item_ids())  # what u0 already has
    answer = client.recommend("u0")
    assert answer.level == "cluster" and answer.item_ids()
    assert not set(answer.item_ids()) & client.recent_items("u0")


def test_trending_level_drops_the_users_items(served) -> None:  # type: ignore[no-untyped-def]
    store, client = served
    store.client.delete(store.keys.user_recs("u0"), store.keys.user_cluster("u0"))
    assert store.trending().item_ids()[0] == "i0"  # the most clicked item, which u0 reviewed
    answer = client.recommend("u0")
    assert answer.level == "trending" and answer.item_ids()
    assert not set(answer.item_ids()) & client.recent_items("u0")
    assert client.recommend("stranger").item_ids()[0] == "i0"  # others still get it


def test_a_level_left_empty_falls_through(served) -> None:  # type: ignore[no-untyped-def]
    store, client = served
    cluster = client.assignment("u0").cluster_id  # type: ignore[union-attr]
    only_seen = RecList(
        strategy="cluster",
        level="cluster",
        cluster_id=cluster,
        items=[ScoredItem(item_id=i, score=1.0) for i in ("i0", "i2")],
        as_of=1.0,
    )
    store.write(Publication(cluster_recs={cluster: only_seen}))
    store.client.delete(store.keys.user_recs("u0"))
    answer = client.recommend("u0")
    # the next level answers: the cluster's parent group when it has a list, else trending
    summaries = json.loads(store.client.get(store.keys.clusters()))
    group = next((s.get("group") for s in summaries if s["cluster_id"] == cluster), None)
    has_group = group is not None and store.client.get(store.keys.group_recs(group)) is not None
    assert answer.level == ("group" if has_group else "trending")
    assert answer.item_ids() and not set(answer.item_ids()) & client.recent_items("u0")
    if has_group:  # empty the group's list too: trending answers
        only_seen_group = only_seen.model_copy(update={"strategy": "group", "level": "group"})
        store.write(Publication(group_recs={group: only_seen_group}))
        answer = client.recommend("u0")
        assert answer.level == "trending" and "i0" not in answer.item_ids()
