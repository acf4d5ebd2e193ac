import numpy as np
import pytest

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.doubles import HashingEmbedder

TEXTS = {
    "strings": "bright guitar strings stay in tune",
    "pedal": "distortion pedal with warm overdrive tone",
    "mic": "condenser microphone for vocals recording",
    "cable": "instrument cable with no crackle noise",
}
EMBED = HashingEmbedder(64)


def review(n: int, user: str, item: str, topic: str, ts: float) -> ReviewEvent:
    return ReviewEvent(
        event_id=f"r{n}", user_id=user, item_id=item, text=TEXTS[topic], rating=5.0, ts=ts
    )


def stream(n_users: int = 12) -> list[ReviewEvent | ClickEvent]:
    topics = list(TEXTS)
    events: list[ReviewEvent | ClickEvent] = []
    for n in range(n_users * 4):
        user = n % n_users
        topic = topics[user % 4]
        item = f"{topic}-{n % 5}"
        events.append(ClickEvent(event_id=f"c{n}", user_id=f"u{user}", item_id=item, ts=n))
        events.append(review(n, f"u{user}", item, topic, n))
    return events


def run(engine: Engine, events, batch: int = 10):
    out = None
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        vectors = EMBED.encode([e.text for e in chunk if isinstance(e, ReviewEvent)])
        out = engine.apply(chunk, vectors)
    return out


def new_engine() -> Engine:
    return Engine(64, EngineConfig(n_clusters=4, cluster_refresh_events=10, recs_length=5))


def test_batch_produces_lists_for_touched_users_without_seen_items() -> None:
    engine = new_engine()
    out = run(engine, stream())
    assert out is not None and out.user_recs
    for user_id, recs in out.user_recs.items():
        seen = {engine.items.ids[r] for r in engine.profiles.seen_items(user_id)}
        assert recs.items and not seen & set(recs.item_ids())
        assert recs.as_of == engine.as_of
        assert user_id in out.assignments


def test_users_who_write_alike_share_a_cluster() -> None:
    engine = new_engine()
    run(engine, stream())
    clusters = {u: engine.user_cluster(f"u{u}") for u in range(12)}
    for u in range(4):
        assert clusters[u] == clusters[u + 4] == clusters[u + 8]


def test_cold_start_unknown_user_gets_trending_and_one_comment_user_a_cluster() -> None:
    engine = new_engine()
    run(engine, stream())
    unknown = engine.recommend("user", "nobody")
    trending = engine.recommend("trending", None)
    assert unknown.item_ids() == trending.item_ids()
    newcomer = review(999, "newbie", "mic-9", "mic", 1000)
    out = engine.apply([newcomer], EMBED.encode([newcomer.text]))
    assert engine.user_cluster("newbie") == engine.user_cluster("u2")  # the mic writers
    assert "mic-9" not in out.user_recs["newbie"].item_ids()
    assert out.user_recs["newbie"].item_ids()[0].startswith("mic")


def test_state_round_trip_continues_identically() -> None:
    events = stream()
    a = new_engine()
    run(a, events[:40])
    b = new_engine()
    b.load(a.state())
    out_a, out_b = run(a, events[40:]), run(b, events[40:])
    assert out_a is not None and out_b is not None
    for user_id in out_a.user_recs:
        assert out_a.user_recs[user_id].items == out_b.user_recs[user_id].items
    assert out_a.cluster_recs.keys() == out_b.cluster_recs.keys()
    np.testing.assert_array_equal(a.profiles.matrix(), b.profiles.matrix())


def test_vectors_must_match_reviews() -> None:
    with pytest.raises(ValueError, match="embeddings"):
        new_engine().apply(stream()[:2], np.zeros((0, 64)))


def test_cluster_summaries_carry_labels_and_sizes() -> None:
    engine = new_engine()
    run(engine, stream())
    summaries = engine.cluster_summaries()
    assert sum(s.users for s in summaries) == 12
    words = {w for s in summaries for w in s.labels}
    assert {"microphone", "strings", "pedal", "cable"} & words
    for summary in summaries:
        assert all(r.endswith(tuple("0123456789")) for r in summary.representative_reviews)


def test_engine_config_takes_every_matching_setting() -> None:
    from streamrec.core.settings import Settings
    from streamrec.model.config import EngineConfig

    settings = Settings(
        _env_file=None,
        n_clusters=7,
        cluster_half_life_events=123.0,  # type: ignore[call-arg]
        profile_half_life_reviews=3.0,
        diversity=0.2,
        seed=4,
    )
    config = EngineConfig.from_settings(settings)
    assert config.n_clusters == 7
    assert (config.cluster_half_life, config.profile_half_life) == (123.0, 3.0)
    assert (config.diversity, config.seed) == (0.2, 4)
    assert config.item_half_life == EngineConfig().item_half_life  # no setting: the default
