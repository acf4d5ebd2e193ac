"""Several workers' state path on one machine, merging through Redis (issue 13).

``scale.py`` times one worker process. A worker group scales by partitions:
each worker owns some users (partition ``user % workers`` here), keeps a copy
of the shared model and, every checkpoint interval, folds what it learned into
the copy in Redis under WATCH, merging the others' changes (README, "Several
workers"). This benchmark runs ``--workers`` processes at once, each with the
worker's engine and checkpointer: it seeds the same catalogue and users as
``scale.py``, applies micro-batches of 64 reviews + 64 clicks of its own users
with lists (the worker's path), and writes its checkpoint every ``--interval``
seconds of its own wall time, stretched while writes are slow (the worker's
pacing: at least the writes' seconds, a moving average, over ``--max-share``, at most
``--max-interval``; ``--max-share 0`` keeps the interval fixed), put off to
after its next batch while another worker holds the group's checkpoint lease
(the worker's rule, at most one wait late). Before the clock starts every worker has merged
once (the first write of a catalogue and the first merge after it decode whole
models: one-off costs) and built its nearest-item index.

Reported per worker: events, seconds applying and checkpointing, writes and
merges, the median merge; and the aggregate events/s: all events over the
slowest worker's seconds. With several ``--workers`` counts, each interval runs
every count in turns (``--rounds`` times) and prints the median events/s of the
largest group over the smallest's, measured in the same run (the machine's
speed moves by tens of percent from hour to hour). Needs the Redis of
``make infra-up``; keys under a unique prefix, deleted after.

    python benchmarks/scale_out.py --items 100000 --workers 2 --interval 5 30 --max-share 0
    python benchmarks/scale_out.py --workers 1 2 --rounds 3 --out scale-out-defaults.json
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale
from common import in_turns, machine, write_result
from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.pacing import CheckpointPacing
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.cli.common import tune_process
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.refresh import ListShare
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect


def worker(
    me: int,
    workers: int,
    args: argparse.Namespace,
    interval: float,
    prefix: str,
    barrier,
    results,
) -> None:
    threadpool_limits(1)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    tune_process(settings)
    store = RecsStore(connect(settings), RedisKeys(prefix))
    config = EngineConfig(seed=0, ann_query_threads=args.ann_query_threads)
    engine = Engine(dim=scale.DIM, config=config)
    engine.list_share = ListShare.of({me}, workers)  # the worker's rule (rebalance.py)
    scale.seed(engine, np.random.default_rng(0), args.items, args.users, args.items)
    users = engine.profiles
    users.partition[: users.n_rows] = np.arange(users.n_rows) % workers  # u{n} is row n
    pacing = CheckpointPacing(interval, args.max_share, args.max_interval)
    checkpoints = Checkpointer("g", pacing, engine, store, Progress(DedupWindow(1000), {me}), bool)
    # one-off costs before the clock: the first write of the catalogue, each worker's
    # first merge (decodes the whole stored model), the index built by the first lists;
    # the worker restores the stored model at start (the first worker finds none)
    for turn in range(2 * workers):
        if turn == me:  # the first restores nothing and writes the catalogue
            checkpoints.restore()
        if turn % workers == me:
            checkpoints.write()
        barrier.wait()
    batches = max(1, args.events // (2 * scale.BATCH))
    rng = np.random.default_rng(1 + me)
    every = list(scale.stream(rng, args.items, args.users, 4 + batches, 10, workers, me))
    for batch, vectors in every[:4]:
        engine.apply(batch, vectors, [me] * len(batch))
    checkpoints.write()
    timed = every[4:]
    barrier.wait()
    applying, writes, done, put_off, waits = 0.0, [], 0, 0, []
    start = last = time.perf_counter()
    for batch, vectors in timed:
        began = time.perf_counter()
        engine.apply(batch, vectors, [me] * len(batch))
        applying += time.perf_counter() - began
        done += len(batch)
        since = time.perf_counter() - last
        if since >= pacing.wait_s:  # put off while another worker writes (the worker's rule)
            wrote = _write(checkpoints, may_put_off=since < 2 * pacing.wait_s)
            if wrote is None:
                put_off += 1
                continue
            writes.append(wrote)
            waits.append(round(pacing.wait_s, 1))
            last = time.perf_counter()
    writes.append(_write(checkpoints))  # what was learned is in Redis before the clock stops
    elapsed = time.perf_counter() - start
    merge_s = [s for s, merged, *_ in writes if merged]
    finite = all_finite(engine.shared_state(copy=False))
    results.put(
        {
            "worker": me,
            "events": done,
            "seconds": round(elapsed, 2),
            "apply_s": round(applying, 2),
            "checkpoint_s": round(sum(w[0] for w in writes), 2),
            "writes": len(writes),
            "merges": len(merge_s),
            "builds": sum(w[2] for w in writes),  # more than writes: conflicts (WATCH)
            "items_written": [w[3] for w in writes],  # item fields each write set
            "put_off": put_off,  # due, but another worker held the lease: after the next batch
            "median_merge_s": round(statistics.median(merge_s), 2) if merge_s else None,
            "waits_s": waits,  # the pacing's wait after each timed write
            "events_per_s": round(done / elapsed, 1),
            "state_finite": finite,  # no inf or NaN in the shared model after its merges
        }
    )


def all_finite(state: object) -> bool:
    """Whether every float array and float of a (nested) state is finite: a long run
    of merges once overflowed the decayed counts (README, Several workers, Merge)."""
    if isinstance(state, dict):
        return all(all_finite(value) for value in state.values())
    if isinstance(state, list | tuple):
        return all(all_finite(value) for value in state)
    if isinstance(state, np.ndarray) and state.dtype.kind == "f":
        return bool(np.isfinite(state).all())
    return not isinstance(state, float) or np.isfinite(state)


def _write(
    checkpoints: Checkpointer, may_put_off: bool = False
) -> tuple[float, bool, int, int] | None:
    """Seconds, whether it merged, how often it built the merge and the item fields it
    wrote (``last_write``); None when put off (another worker held the lease)."""
    merges, began = checkpoints.merges, time.perf_counter()
    if not checkpoints.write(may_put_off):
        return None
    seconds = time.perf_counter() - began
    wrote = checkpoints.last_write
    return seconds, checkpoints.merges > merges, wrote["builds"], wrote["items"]


def run(args: argparse.Namespace, workers: int, interval: float) -> dict:
    prefix = f"bench-scale-out-{uuid.uuid4().hex[:8]}"
    context = mp.get_context("fork")  # nothing heavy built yet: each worker builds its own
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=worker, args=(me, workers, args, interval, prefix, barrier, results))
        for me in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        rows = sorted((results.get() for _ in processes), key=lambda r: r["worker"])
        for process in processes:
            process.join()
    finally:
        client = connect(Settings(_env_file=None))  # type: ignore[call-arg]
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    events = sum(r["events"] for r in rows)
    slowest = max(r["seconds"] for r in rows)
    return {
        "items": args.items,
        "users": args.users,
        "workers": workers,
        "interval_s": interval,
        "max_share": args.max_share,
        "max_interval_s": args.max_interval,
        "ann_query_threads": args.ann_query_threads,
        "events": events,
        "events_per_s": round(events / slowest, 1),
        "per_worker": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[2], help="processes; several: in turns"
    )
    parser.add_argument("--rounds", type=int, default=1, help="each count this often, in turns")
    parser.add_argument("--events", type=int, default=20_000, help="timed events per worker")
    parser.add_argument(
        "--interval", type=float, nargs="+", default=[5.0], help="checkpoint seconds; one run each"
    )
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    parser.add_argument(
        "--max-share",
        type=float,
        default=defaults.checkpoint_max_share,
        help="share of wall time checkpoints may take (the worker's pacing; 0: fixed)",
    )
    parser.add_argument("--max-interval", type=float, default=defaults.checkpoint_max_interval_s)
    parser.add_argument(
        "--ann-query-threads",
        type=int,
        default=1,
        help="each worker's HNSW query threads (the runs on record: 1; the worker's default: "
        f"{defaults.ann_query_threads})",
    )
    parser.add_argument("--out", default="scale-out.json")
    args = parser.parse_args()
    runs, ratios = [], {}
    for interval in args.interval:
        counts = sorted(args.workers)
        turns = in_turns(
            {f"{n} workers": partial(run, args, n, interval) for n in counts},
            args.rounds,
            f"interval {interval:g} s",
        )
        runs += [row for rows in turns["runs"].values() for row in rows]
        if len(counts) > 1:
            ratio = f"{counts[-1]} over {counts[0]} workers, interval {interval:g} s"
            ratios[ratio] = turns["median_ratio"]
    result = {"runs": runs, "batch_reviews": scale.BATCH, "machine": machine()}
    write_result(args.out, {**result, "median_ratios": ratios} if ratios else result)


if __name__ == "__main__":
    main()
