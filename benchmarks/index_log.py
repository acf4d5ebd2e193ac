"""Bytes the nearest-item index log adds to a checkpoint, and the restore that replays it.

One worker with a static instance id (so it logs its HNSW index's ops) over a
catalogue of ``--items`` items (random unit 384-d vectors) and 10,000 users:
two warm-up batches with lists (the first query builds the index), a first
checkpoint, then three checkpoints after 7 batches of 64 reviews + 64 clicks
each. Printed per checkpoint: the shared-model bytes written and the part of
them that is the index log, and the write's seconds; then the seconds of a
restore (the model read back and the log replayed).

Needs the Redis of ``make infra-up``; keys go under a unique prefix, deleted after.
Usage: ``python benchmarks/index_log.py [--items 10000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect

USERS = 10_000


def worker(store: RecsStore, engine: Engine) -> Checkpointer:
    progress = Progress(DedupWindow(1000), owned={0})
    checkpoints = Checkpointer("g", 0.0, engine, store, progress, bool, "w0")
    checkpoints.restore()
    return checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    threadpool_limits(1)
    prefix = f"bench-index-log-{uuid.uuid4().hex[:8]}"
    client = connect(Settings(_env_file=None))  # type: ignore[call-arg]
    store = RecsStore(client, RedisKeys(prefix))
    rng = np.random.default_rng(0)
    engine = Engine(dim=scale.DIM, config=EngineConfig(seed=0))
    scale.seed(engine, rng, args.items, USERS, args.items)
    try:
        writer = worker(store, engine)
        for batch, vectors in scale.stream(rng, args.items, USERS, 2, 10):
            engine.apply(batch, vectors)
        writer.write()
        first = writer.last_write
        print(f"first: {first['shared_bytes'] / 1e6:.1f} MB, log {first['index_bytes'] / 1e6:.1f}")
        batches = list(scale.stream(rng, args.items, USERS, 21, 10_000))
        for n in range(3):
            for batch, vectors in batches[n * 7 : (n + 1) * 7]:
                engine.apply(batch, vectors)
            start = time.perf_counter()
            writer.write()
            seconds, last = time.perf_counter() - start, writer.last_write
            print(
                f"checkpoint {n}: {last['shared_bytes'] / 1e6:.2f} MB, of which the log "
                f"{last['index_bytes'] / 1e6:.2f} MB; write {seconds:.2f} s"
            )
        start = time.perf_counter()
        worker(store, Engine(dim=scale.DIM, config=EngineConfig(seed=0)))
        print(f"restore with the replay: {time.perf_counter() - start:.1f} s")
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


if __name__ == "__main__":
    main()
