"""The Redis serving contract on a real Redis: keys, atomic replacement, TTLs, fallback."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamrec.core.events import ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import (
    Assignment,
    ClusterSummary,
    Publication,
    RecList,
    RedisKeys,
    ScoredItem,
)
from streamrec.serving.store import FieldChanges, RecsStore, SharedReader, connect
from tests.doubles import HashingEmbedder
from tests.integration.helpers import join_all, wait_until

pytestmark = pytest.mark.integration


def rec_list(level: str, n: int, tag: str, **ids: object) -> RecList:
    items = [ScoredItem(item_id=f"{tag}-{i}", score=float(n - i)) for i in range(n)]
    return RecList(
        strategy=level,
        level=level,
        items=items,
        as_of=1.0e9,  # type: ignore[arg-type]
        **ids,
    )  # produced_at: the store stamps it


@pytest.fixture
def store(settings) -> RecsStore:
    return RecsStore(connect(settings), RedisKeys(settings.redis_prefix), ttl_s=0)


def test_round_trip_of_every_key_kind(store: RecsStore, settings) -> None:
    out = Publication(
        user_recs={"u1": rec_list("user", 3, "u", user_id="u1", cluster_id=7)},
        cluster_recs={7: rec_list("cluster", 4, "c", cluster_id=7)},
        trending=rec_list("trending", 5, "t"),
        assignments={
            "u1": Assignment(
                cluster_id=7,
                similarity=0.8,
                second_cluster_id=2,
                second_similarity=0.5,
                as_of=1.0e9,
            )
        },
    )
    assert store.write(out, {"events": 3}) == 5
    assert store.user_recs("u1") == out.user_recs["u1"]
    assert store.cluster_recs(7) == out.cluster_recs[7]
    assert store.trending() == out.trending
    assert store.assignment("u1") == out.assignments["u1"]
    assert all(r.produced_at > 1.0e9 for r in (*out.user_recs.values(), out.trending))
    fields = {"global": b"\x00binary\xff", "i0": b"item"}
    assert store.write_checkpoint("g", lambda shared: (fields, []), {0: b"part"}) == (fields, [])
    assert store.load_shared_fields("g") == fields
    assert store.load_partition_checkpoint("g", 0) == b"part"
    keys = {k.decode() for k in store.client.scan_iter(RedisKeys(settings.redis_prefix).pattern())}
    assert all(k.startswith(f"{settings.redis_prefix}:v1:") for k in keys)
    assert len(keys) == 7


def test_readers_never_see_a_partial_or_missing_list_while_it_is_rewritten(
    store: RecsStore, settings
) -> None:
    store.write(Publication(user_recs={"u": rec_list("user", 50, "v0", user_id="u")}))
    client = RecsClient(connect(settings), settings.redis_prefix)
    stop = threading.Event()
    seen: list[tuple[str, int, set[str]]] = []

    def reader() -> None:
        while not stop.is_set():
            answer = client.recommend("u")
            items = answer.item_ids()
            seen.append((answer.level, len(items), {i.split("-")[0] for i in items}))

    thread = threading.Thread(target=reader)
    thread.start()
    # rewrite until the reader has read often enough (under load it gets fewer turns)
    version, deadline = 0, time.monotonic() + 60
    while (version < 300 or len(seen) <= 50) and time.monotonic() < deadline:
        version += 1
        store.write(Publication(user_recs={"u": rec_list("user", 50, f"v{version}", user_id="u")}))
    stop.set()
    join_all([thread], timeout=10)
    assert len(seen) > 50
    for level, length, versions in seen:
        assert level == "user" and length == 50 and len(versions) == 1


def test_lists_expire_after_their_ttl(settings) -> None:
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix), ttl_s=1)
    store.write(Publication(user_recs={"u": rec_list("user", 2, "x", user_id="u")}))
    assert store.client.ttl(store.keys.user_recs("u")) in (0, 1)
    assert store.user_recs("u") is not None
    wait_until(lambda: store.user_recs("u") is None, timeout=5, what="the list expired")


def test_fallback_chain_user_cluster_trending_none(store: RecsStore, settings) -> None:
    client = RecsClient(connect(settings), settings.redis_prefix)
    assert client.recommend("u").level == "none"
    store.write(Publication(trending=rec_list("trending", 3, "t")))
    assert client.recommend("u").level == "trending"
    store.write(
        Publication(
            cluster_recs={4: rec_list("cluster", 3, "c", cluster_id=4)},
            assignments={"u": Assignment(cluster_id=4, similarity=0.9, as_of=1.0)},
        )
    )
    answer = client.recommend("u", k=2)
    assert (answer.level, answer.cluster_id, len(answer.item_ids())) == ("cluster", 4, 2)
    store.write(Publication(user_recs={"u": rec_list("user", 3, "u", user_id="u")}))
    assert client.recommend("u").level == "user"


def test_group_level_between_cluster_and_trending(store: RecsStore, settings) -> None:
    client = RecsClient(connect(settings), settings.redis_prefix)
    store.write(
        Publication(
            trending=rec_list("trending", 3, "t"),
            assignments={"u": Assignment(cluster_id=4, similarity=0.9, as_of=1.0)},
            clusters=[ClusterSummary(cluster_id=4, weight=1.0, users=1, group=2)],
            group_recs={2: rec_list("group", 3, "g", cluster_id=2)},
        )
    )
    answer = client.recommend("u", k=2)
    assert (answer.level, answer.cluster_id, answer.item_ids()) == ("group", 4, ["g-0", "g-1"])
    store.write(Publication(retired_groups=[2]))
    assert store.group_recs(2) is None  # a group that went is gone from Redis
    assert client.recommend("u").level == "trending"


def test_cold_start_and_seen_items_through_redis(settings) -> None:
    embedder = HashingEmbedder(64)
    engine = Engine(64, EngineConfig(n_clusters=2, recs_length=10))
    texts = ["guitar strings bright tone", "microphone vocal recording"]
    events = [
        ReviewEvent(
            event_id=f"e{n}",
            user_id=f"u{n % 4}",
            item_id=f"i{n % 6}",
            text=texts[n % 2],
            rating=5.0,
            ts=float(n),
        )
        for n in range(24)
    ]
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    store.write(engine.apply(events, embedder.encode([e.text for e in events])))
    client = RecsClient(connect(settings), settings.redis_prefix)
    unknown = client.recommend("stranger")
    assert unknown.level == "trending" and unknown.item_ids()
    newcomer = ReviewEvent(event_id="n1", user_id="newbie", item_id="i0", text=texts[0], ts=30.0)
    store.write(engine.apply([newcomer], embedder.encode([newcomer.text])))
    answer = client.recommend("newbie")
    assert answer.level == "user" and answer.cluster_id is not None
    assert "i0" not in answer.item_ids()
    for user in ("u0", "u1", "u2", "u3"):
        seen = {e.item_id for e in events if e.user_id == user}
        assert not seen & set(client.recommend(user).item_ids())
    assert np.isfinite([i.score for i in answer.recs.items]).all()  # type: ignore[union-attr]


def test_changed_users_go_with_the_offsets_even_when_another_worker_wrote_in_between(
    store: RecsStore,
) -> None:
    first = {"global": b"v1", "i0": b"x", "i1": b"y"}
    store.write_checkpoint(
        "g", lambda shared: (first, []), {0: b"p"}, {0: ({"a": b"A", "b": b"B"}, [])}
    )
    calls: list[bytes | None] = []

    def build(shared: SharedReader) -> FieldChanges:
        calls.append(shared.field("global"))
        if len(calls) == 1:  # another worker syncs between our WATCH and our EXEC
            store.client.hset(store.keys.shared_checkpoint("g"), "global", b"theirs")
        return {"global": b"mine", "i0": b"x2"}, ["i1"]

    store.write_checkpoint("g", build, {0: b"p2"}, {0: ({"c": b"C", "a": b"A2"}, ["b"])})
    assert calls == [b"v1", b"theirs"]  # built again on the other worker's value
    assert store.load_shared_fields("g") == {"global": b"mine", "i0": b"x2"}
    assert store.load_partition_checkpoint("g", 0) == b"p2"
    assert store.load_partition_users("g", 0) == {"a": b"A2", "c": b"C"}
    assert store.load_partition_users("g", 1) == {}
