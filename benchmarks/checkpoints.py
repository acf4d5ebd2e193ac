"""Bytes and seconds per checkpoint at equal traffic as the number of users, or of
items, grows.

**Users.** For each user count: an engine with that many users over 4 partitions (random
unit 384-d profiles, a few items each, 1,000 items), checkpointed once in full
to the local Redis; then the same traffic (``BATCHES`` batches of 64 reviews
by random users, with their clicks) goes through ``Engine.apply`` and the
worker's real ``Checkpointer.write`` runs after each third of it. Reported: bytes of the
partition part (offsets, dedup, changed users) and of the shared model, the
write's seconds, what the former whole-partition rewrite would have written,
and the seconds to restore all partitions into a fresh engine.

**Items.** For each catalogue size: an engine whose items all have a 384-d text
vector, popularity, trending and per-cluster engagement counts, signal counts and
``NEIGHBOURS`` co-occurrence neighbours (``NEIGHBOURS // 4`` transitions),
plus ``CATALOGUE_USERS`` users with 5 items each; checkpointed once in full, then
the same traffic (``BATCHES`` batches of 64 reviews and clicks on Zipf-popular
items) with a checkpoint after each third. Reported per checkpoint: the bytes
of the shared model the checkpoint writes now (the global field, the items whose
statistics changed and the items whose neighbour rows changed since the last
one, :mod:`streamrec.app.worker.commit`) against the
bytes of the whole shared model the former layout rewrote at every checkpoint,
their ratio, the seconds of each, and the seconds to restore the shared model
from the hash and from the former one-value layout.

Needs the Redis of ``make infra-up``; keys go under a unique prefix, deleted after.
Usage: ``python benchmarks/checkpoints.py [USERS ...]`` (default 10000 100000),
writes benchmarks/results/checkpoints.json;
``python benchmarks/checkpoints.py items [ITEMS ...]`` (default 1000 10000 100000),
writes benchmarks/results/checkpoints-items.json.
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
from streamrec.checkpointing.codec import PartitionCheckpoint, SharedCheckpoint
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.signals import SparseRows
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect

DIM, ITEMS, PARTITIONS, BATCHES, BATCH, ROUNDS = 384, 1000, 4, 21, 64, 3
CATALOGUE_USERS, NEIGHBOURS, CLUSTERS = 2000, 32, 20


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
    shared = sum(len(k) + len(v) for k, v in store.load_shared_fields(group).items())
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


# -- the catalogue dimension ---------------------------------------------------------


def stock(engine: Engine, items: int, rng: np.random.Generator) -> None:
    """``items`` items with every per-item statistic the shared model keeps, written
    straight into the tables (fast)."""
    stats, signals = engine.items, engine.signals
    for item in range(items):
        stats.row(f"i{item}")
    stats.vectors.sums[:items] = unit(rng, items)
    stats.vectors.counts[:items] = rng.integers(1, 50, items)
    stats.unit[:items] = stats.vectors.sums[:items]
    stats.popularity[:items] = rng.exponential(5.0, items)
    stats.trending.add(np.arange(items), rng.exponential(1.0, items), 0.0)
    for cluster in range(CLUSTERS):  # each cluster engaged with a tenth of the items
        row = stats.cluster_row(cluster)
        chosen = rng.choice(items, items // 10, replace=False)
        stats.engagement.stored[row, chosen] = rng.exponential(1.0, chosen.size)
    signals.ensure(items)
    signals.count[:items] = rng.integers(1, 50, items)
    signals.first_seen[:items], signals.last_seen[:items] = 0.0, 1.0
    for trend in signals.trends:
        trend.add(np.arange(items), np.ones(items), 0.0)
    neighbours = rng.integers(0, items, (items, NEIGHBOURS))
    for name, width in (("co", NEIGHBOURS), ("transitions", NEIGHBOURS // 4)):
        cells = {
            "rows": np.repeat(np.arange(items), width),
            "cols": neighbours[:, :width].ravel(),
            "values": np.ones(items * width),
            "limit": engine.config.neighbours_per_item,
        }
        setattr(signals, name, SparseRows.from_state(cells))


def catalogue_traffic(items: int, rng: np.random.Generator) -> list[tuple[list, np.ndarray, list]]:
    """The same number of batches for every catalogue: 64 reviews (and clicks) by random
    users on Zipf-popular items (the same seed: the same popular head)."""
    batches = []
    for b in range(BATCHES):
        events, parts = [], []
        for k in range(BATCH):
            user, item = int(rng.integers(CATALOGUE_USERS)), f"i{int(rng.zipf(1.3)) % items}"
            n, ts = b * BATCH + k, 1e6 + b * BATCH + k
            events += [
                ClickEvent(event_id=f"c{n}", user_id=f"u{user}", item_id=item, ts=ts),
                ReviewEvent(event_id=f"r{n}", user_id=f"u{user}", item_id=item, text="x", ts=ts),
            ]
            parts += [user % PARTITIONS] * 2
        batches.append((events, unit(rng, BATCH), parts))
    return batches


def restore_s(store: RecsStore, group: str) -> tuple[float, Engine]:
    """Seconds to restore a fresh engine's shared model from the group's checkpoint."""
    fresh = Engine(DIM, EngineConfig())
    restorer = Checkpointer(group, 5.0, fresh, store, Progress(DedupWindow(10)), bool)
    start = time.perf_counter()
    restorer.restore()
    return time.perf_counter() - start, fresh


def measure_items(items: int, store: RecsStore, group: str) -> dict:
    rng = np.random.default_rng(0)
    engine = Engine(DIM, EngineConfig())
    stock(engine, items, rng)
    populate_users(engine, items, rng)
    progress = Progress(DedupWindow(100_000), owned=set(range(PARTITIONS)))
    checkpointer = Checkpointer(group, 5.0, engine, store, progress, lambda: False)
    checkpointer.restore()
    checkpointer.write()  # the first checkpoint holds every item
    first = checkpointer.last_write["shared_bytes"]
    batches = catalogue_traffic(items, np.random.default_rng(1))
    names = ("delta", "whole", "items", "neighbours", "delta_s", "whole_s")
    rows: dict[str, list] = {k: [] for k in names}
    for round_ in range(ROUNDS):
        for events, vectors, parts in batches[round_::ROUNDS]:
            engine.apply(events, vectors, parts, outputs=False)
        start = time.perf_counter()
        whole = SharedCheckpoint(engine.shared_state(), 0).to_bytes()  # the former write
        rows["whole_s"].append(time.perf_counter() - start)
        rows["whole"].append(len(whole))
        start = time.perf_counter()
        checkpointer.write()
        rows["delta_s"].append(time.perf_counter() - start)
        rows["delta"].append(checkpointer.last_write["shared_bytes"])
        rows["items"].append(checkpointer.last_write["items"])
        rows["neighbours"].append(checkpointer.last_write["neighbours"])
    hash_s, restored = restore_s(store, group)
    assert restored.clock == engine.clock and restored.items.n_items == items
    former = f"{group}-former"
    store.client.set(store.keys.checkpoint(former), whole)
    former_s, _ = restore_s(store, former)
    ratio = sum(rows["whole"]) / sum(rows["delta"])
    return {
        "items": items,
        "first_checkpoint_shared_bytes": first,
        "shared_bytes_per_checkpoint_delta": rows["delta"],
        "shared_bytes_per_checkpoint_whole": rows["whole"],
        "item_fields_written_per_checkpoint": rows["items"],
        "neighbour_fields_written_per_checkpoint": rows["neighbours"],
        "whole_over_delta": round(ratio, 1),
        "delta_write_s": [round(s, 3) for s in rows["delta_s"]],
        "whole_encode_s": [round(s, 3) for s in rows["whole_s"]],
        "restore_s_hash": round(hash_s, 2),
        "restore_s_former_blob": round(former_s, 2),
    }


def populate_users(engine: Engine, items: int, rng: np.random.Generator) -> None:
    """``CATALOGUE_USERS`` users with 5 items of the catalogue each."""
    vectors = unit(rng, CATALOGUE_USERS)
    for n in range(CATALOGUE_USERS):
        row = engine.profiles.update(f"u{n}", vectors[n], ts=float(n))
        engine.profiles.partition[row] = n % PARTITIONS
        for item in rng.integers(0, items, 5).tolist():
            engine.profiles.mark_seen(row, item)


def main_items(sizes: list[int]) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    client = connect(settings)
    keys = RedisKeys(f"bench-{uuid.uuid4().hex[:8]}")
    rows = []
    try:
        for items in sizes:
            row = measure_items(items, RecsStore(client, keys), f"g{items}")
            print(row)
            rows.append(row)
    finally:
        for key in client.scan_iter(keys.pattern()):
            client.delete(key)
    write_result(
        "checkpoints-items.json",
        {
            "traffic": {"batches": BATCHES, "reviews_per_batch": BATCH, "checkpoints": ROUNDS},
            "users": CATALOGUE_USERS,
            "neighbours_per_item": NEIGHBOURS,
            "clusters": CLUSTERS,
            "rows": rows,
            "machine": machine(),
        },
    )


def main() -> None:
    if sys.argv[1:2] == ["items"]:
        main_items([int(a) for a in sys.argv[2:]] or [1_000, 10_000, 100_000])
        return
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
