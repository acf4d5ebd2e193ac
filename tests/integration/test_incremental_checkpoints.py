"""Incremental checkpoints on the real Redis: only changed users are written, a restore
reads only the partitions assigned, and a checkpoint of the former layout is taken over."""

from __future__ import annotations

import pytest

from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.codec import PartitionCheckpoint
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.doubles import HashingEmbedder

pytestmark = pytest.mark.integration
EMBED = HashingEmbedder(32)


def engine_with(users: list[str], start: int = 0) -> Engine:
    engine = Engine(32, EngineConfig(n_clusters=2, cluster_refresh_events=5))
    touch(engine, users, start)
    return engine


def touch(engine: Engine, users: list[str], start: int) -> None:
    events = [
        ReviewEvent(
            event_id=f"r{start + n}", user_id=u, item_id=f"i{n % 5}", text="warm tone", ts=n
        )
        for n, u in enumerate(users)
    ]
    parts = [int(u[1:]) % 2 for u in users]
    engine.apply(events, EMBED.encode([e.text for e in events]), parts)


def checkpointer(engine: Engine, store: RecsStore, owned: set[int]) -> Checkpointer:
    progress = Progress(DedupWindow(100), owned=owned)
    worker = Checkpointer("g", 0.0, engine, store, progress, lambda: False)
    worker.restore()
    return worker


def test_a_checkpoint_writes_the_changed_users_and_a_restore_only_its_partitions(
    settings,
) -> None:  # type: ignore[no-untyped-def]
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    engine = engine_with([f"u{n}" for n in range(40)])
    writer = checkpointer(engine, store, {0, 1})
    writer.write()
    assert writer.last_write["users"] == 40
    touch(engine, ["u3", "u4", "u7"], 100)
    engine.forget_user("u9")
    writer.write()
    assert writer.last_write["users"] == 3  # only what changed, not all 40
    assert "u9" not in store.load_partition_users("g", 1)

    fresh = Engine(32, EngineConfig(n_clusters=2))
    reader = checkpointer(fresh, store, {0})
    reader.load_partition(0)  # partition 1 is another worker's: not read
    assert sorted(fresh.profiles.index) == sorted(f"u{n}" for n in range(0, 40, 2))
    assert fresh.profiles.seen_items("u4").size == engine.profiles.seen_items("u4").size


def test_a_whole_partition_checkpoint_of_the_former_layout_moves_into_the_hash(
    settings,
) -> None:  # type: ignore[no-untyped-def]
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    old = engine_with(["u0", "u2", "u4"])
    legacy = PartitionCheckpoint(old.export_users(0), {"t:0": 3}, []).to_bytes()
    store.write_checkpoint("g", lambda shared: ({}, []), {0: legacy})  # no shared model

    engine = Engine(32, EngineConfig(n_clusters=2))
    worker = checkpointer(engine, store, {0})
    worker.load_partition(0)
    assert sorted(engine.profiles.index) == ["u0", "u2", "u4"]
    worker.write()
    assert sorted(store.load_partition_users("g", 0)) == ["u0", "u2", "u4"]
    blob = store.load_partition_checkpoint("g", 0)
    assert blob is not None and PartitionCheckpoint.from_bytes(blob).users["ids"] == []
    assert PartitionCheckpoint.from_bytes(blob).offsets == {"t:0": 3}
