"""Two workers merging through the shared hash at a catalogue above ``ANN_EXACT_BELOW``.

Both workers start from one shared model of ``--items`` items (random unit 384-d
vectors) and ``USERS`` users; then, ``--cycles`` times, each applies half of a
batch of 64 reviews + 64 clicks with lists (the worker's path) and writes its
checkpoint, so every write after the first finds the other's and merges. Reported
per cycle: seconds of the batch after a merge and of the write, the shared bytes
written and the shared fields the merge read. The same run is repeated with the
nearest-item index rebuilt after each merge (what a merge did before it kept the
index), and with every merge reading and decoding the whole hash (what a merge
did before the writes recorded what they changed); the ratios of the median
batch and write seconds are printed.

Needs the Redis of ``make infra-up``; keys go under a unique prefix, deleted after.
Usage: ``python benchmarks/merges.py [--items 20000] [--cycles 6] [--variants
kept,rebuilt,whole] [--out merges.json]``; writes benchmarks/results/<out>.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale
from common import machine, write_result
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect

USERS = 2000


def worker(store: RecsStore, engine: Engine, owned: set[int]) -> Checkpointer:
    checkpoints = Checkpointer("g", 0.0, engine, store, Progress(DedupWindow(1000), owned), bool)
    checkpoints.restore()
    return checkpoints


def cycles(items: int, count: int, variant: str) -> dict:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    prefix = f"bench-merges-{uuid.uuid4().hex[:8]}"
    client = connect(settings)
    store = RecsStore(client, RedisKeys(prefix))
    rng = np.random.default_rng(0)
    seeded = Engine(dim=scale.DIM, config=EngineConfig(seed=0))
    scale.seed(seeded, rng, items, USERS, items)
    worker(store, seeded, {0}).write()
    pair = [worker(store, Engine(dim=scale.DIM, config=EngineConfig(seed=0)), {n}) for n in (0, 1)]
    for checkpoints in pair:  # whole: no change records read, the whole hash as before
        checkpoints.sync.read_changed_only = variant != "whole"
    rows: dict[str, list[float]] = {"batch_s": [], "write_s": [], "shared_mb": [], "read": []}
    try:
        for n, (batch, vectors) in enumerate(scale.stream(rng, items, USERS, count, 10)):
            for side, checkpoints in enumerate(pair):
                half = slice(side * 64, (side + 1) * 64)
                start = time.perf_counter()
                checkpoints.engine.apply(batch[half], vectors[side * 32 : (side + 1) * 32])
                applied = time.perf_counter() - start
                checkpoints.write()
                written = time.perf_counter() - start - applied
                if variant == "rebuilt" and checkpoints.merges:
                    checkpoints.engine.candidates.reset()  # the former merge
                if n > 0:  # from the second cycle on, the batch follows a merge
                    rows["batch_s"].append(round(applied, 3))
                    rows["write_s"].append(round(written, 3))
                    rows["shared_mb"].append(round(checkpoints.last_write["shared_bytes"] / 1e6, 2))
                    rows["read"].append(checkpoints.last_write["fields_read"])
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--variants", default="kept,rebuilt,whole")
    parser.add_argument("--out", default="merges.json")
    args = parser.parse_args()
    threadpool_limits(1)
    result: dict = {"items": args.items, "users": USERS}
    for variant in args.variants.split(","):
        result[f"index_{variant}" if variant != "whole" else "whole_read"] = rows = cycles(
            args.items, args.cycles, variant
        )
        print(variant, rows, flush=True)

    def median(variant: str, key: str) -> float:
        return statistics.median(result[variant][key])

    if "index_rebuilt" in result:
        ratio = median("index_rebuilt", "batch_s") / median("index_kept", "batch_s")
        result["batch_rebuilt_over_kept"] = round(ratio, 1)
        print(f"batch after a merge, rebuilt / kept: {ratio:.1f}x", flush=True)
    if "whole_read" in result:
        ratio = median("whole_read", "write_s") / median("index_kept", "write_s")
        result["write_whole_read_over_changed"] = round(ratio, 1)
        print(f"merge write, whole hash read / changed fields read: {ratio:.1f}x", flush=True)
    write_result(args.out, {**result, "machine": machine()})


if __name__ == "__main__":
    main()
