"""Incremental partition checkpoints: only changed users travel, one value per user."""

import numpy as np

from streamrec.checkpointing.codec import join_users, split_users
from streamrec.core.events import ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.doubles import HashingEmbedder

EMBED = HashingEmbedder(32)


def reviews(users: list[str], start: int) -> list[ReviewEvent]:
    return [
        ReviewEvent(
            event_id=f"r{start + n}",
            user_id=user,
            item_id=f"i{(start + n) % 7}",
            text=f"guitar strings number {n % 3}",
            ts=float(start + n),
        )
        for n, user in enumerate(users)
    ]


def apply(engine: Engine, events: list[ReviewEvent], partition: int) -> None:
    engine.apply(events, EMBED.encode([e.text for e in events]), [partition] * len(events))


def test_users_round_trip_one_value_each_in_any_order() -> None:
    engine = Engine(32, EngineConfig(n_clusters=2, cluster_refresh_events=5))
    apply(engine, reviews(["a", "b", "c", "a"], 0), 0)
    export = engine.export_users(0)
    values = split_users(export)
    assert sorted(values) == ["a", "b", "c"]
    back = join_users(dict(reversed(list(values.items()))))
    order = [back["ids"].index(u) for u in export["ids"]]
    for key in ("sums", "counts", "last_ts", "cluster", "sim", "last", "seen_lengths"):
        np.testing.assert_array_equal(np.asarray(back[key])[order], np.asarray(export[key]))
    copy = Engine(32, EngineConfig(n_clusters=2))
    copy.load_shared(engine.shared_state())
    copy.absorb_users(back)
    assert copy.profiles.seen_items("a").tolist() == engine.profiles.seen_items("a").tolist()
    assert not copy.profiles.dirty  # absorbed from a checkpoint: nothing to write back


def test_only_users_touched_or_erased_since_the_last_checkpoint_are_written() -> None:
    engine = Engine(32, EngineConfig(n_clusters=2, cluster_refresh_events=5))
    apply(engine, reviews([f"u{n}" for n in range(20)], 0), 0)
    apply(engine, reviews(["p1-user"], 100), 1)
    changed, erased = engine.changed_users(0)
    assert len(changed["ids"]) == 20 and erased == []
    engine.mark_clean({0})
    assert engine.changed_users(0)[0]["ids"] == []
    assert engine.changed_users(1)[0]["ids"] == ["p1-user"]  # partition 1 still owes it

    apply(engine, reviews(["u3", "u7"], 200), 0)
    engine.forget_user("u5")
    changed, erased = engine.changed_users(0)
    assert sorted(changed["ids"]) == ["u3", "u7"] and erased == ["u5"]
    engine.mark_clean({0})
    assert engine.changed_users(0)[1] == []
