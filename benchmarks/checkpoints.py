"""Bytes and seconds per checkpoint at equal traffic as the number of users grows.

For each user count: an engine with that many users over 4 partitions (random
unit 384-d profiles, a few items each, 1,000 items), checkpointed once in full
to the local Redis; then the same traffic (``BATCHES`` batches of 64 reviews
by random users, with their clicks) goes through ``Engine.apply`` and the
worker's real ``Checkpointer.write`` runs after each third of it. Reported: bytes of the
partition part (offsets, dedup, changed users) and of the shared model, the
write's seconds, what the former whole-partition rewrite would have written,
and the seconds to restore all partitions into a fresh engine.

Needs the Redis of ``make infra-up``; keys go under a unique prefix, deleted after.
Usage: ``python benchmarks/checkpoints.py [USERS ...]`` (default 10000 100000).
Writes benchmarks/results/checkpoints.json.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_result
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.codec import PartitionCheckpoint
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect

DIM, ITEMS, PARTITIONS, BATCHES, BATCH, ROUNDS = 384, 1000, 4, 21, 64, 3


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def populate(engine: Engine, users: int, rng: np.random.Generator) -> None:
    """``users`` profiles with 5 items each, written straight into the tables (fast)."""
    for item in range(ITEMS):
        engine.items.row(f"i{item}")
    vectors = unit(rng, users)
    for n in range(users):
        row = engine.profiles.update(f"u{n}", vectors[n], ts=float(n))
        engine.profiles.partition[row] = n % PARTITIONS
        for item in rng.integers(0, ITEMS, 5).tolist():
            engine.profiles.mark_seen(row, item)


def traffic(users: int, rng: np.random.Generator) -> list[tuple[list, np.ndarray, list]]:
    """The same batches for every user count: 64 reviews (and clicks) by random users."""
    batches = []
    for b in range(BATCHES):
        events, parts = [], []
        for k in range(BATCH):
            user, item = int(rng.integers(users)), f"i{int(rng.zipf(1.3)) % ITEMS}"
            n = b * BATCH + k
            events += [
                ClickEvent(event_id=f"c{n}", user_id=f"u{user}", item_id=item, ts=1e6 + n),
                ReviewEvent(
                    event_id=f"r{n}", user_id=f"u{user}", item_id=item, text="x", ts=1e6 + n
                ),
            ]
            parts += [user % PARTITIONS] * 2
        batches.append((events, unit(rng, BATCH), parts))
    return batches


def measure(users: int, store: RecsStore, group: str) -> dict:
    rng = np.random.default_rng(0)
    engine = Engine(DIM, EngineConfig())
    populate(engine, users, rng)
    progress = Progress(DedupWindow(100_000), owned=set(range(PARTITIONS)))
    checkpointer = Checkpointer(group, 5.0, engine, store, progress, lambda: False)
    checkpointer.restore()
    checkpointer.write()  # the first checkpoint holds everyone
    first = dict(checkpointer.last_write)
    batches = traffic(10_000, np.random.default_rng(1))  # the same traffic for every size
    seconds, written, changed = [], [], []
    for round_ in range(ROUNDS):  # a checkpoint after each share of the traffic
        for events, vectors, parts in batches[round_::ROUNDS]:
            engine.apply(events, vectors, parts)
            for n, event in enumerate(events):
                progress.dedup.add(event.event_id, event.user_id, parts[n])
        start = time.perf_counter()
        checkpointer.write()
        seconds.append(time.perf_counter() - start)
        written.append(checkpointer.last_write["bytes"])
        changed.append(checkpointer.last_write["users"])
    shared = len(store.load_checkpoint(group) or b"")
    full = sum(
        len(PartitionCheckpoint(engine.export_users(p), {}, []).to_bytes())
        for p in range(PARTITIONS)
    )
    fresh = Engine(DIM, EngineConfig())
    restorer = Checkpointer(group, 5.0, fresh, store, Progress(DedupWindow(100_000)), bool)
    start = time.perf_counter()
    restorer.restore()
    for number in range(PARTITIONS):
        restorer.load_partition(number)
    restore_s = time.perf_counter() - start
    assert len(fresh.profiles) == len(engine.profiles)
    return {
        "users": users,
        "first_checkpoint_partition_bytes": first["bytes"],
        "partition_bytes": written,
        "changed_users": changed,
        "shared_model_bytes": shared,
        "write_s": [round(s, 3) for s in seconds],
        "write_s_median": round(float(np.median(seconds)), 3),
        "whole_partition_rewrite_bytes": full,
        "restore_s": round(restore_s, 2),
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    client = connect(settings)
    keys = RedisKeys(f"bench-{uuid.uuid4().hex[:8]}")
    rows = []
    try:
        for users in sizes:
            row = measure(users, RecsStore(client, keys), f"g{users}")
            print(row)
            rows.append(row)
    finally:
        for key in client.scan_iter(keys.pattern()):
            client.delete(key)
    growth = sum(rows[-1]["partition_bytes"]) / sum(rows[0]["partition_bytes"])
    write_result(
        "checkpoints.json",
        {
            "traffic": {"batches": BATCHES, "reviews_per_batch": BATCH, "checkpoints": ROUNDS},
            "partitions": PARTITIONS,
            "items": ITEMS,
            "rows": rows,
            "partition_bytes_growth_first_to_last": round(growth, 3),
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
