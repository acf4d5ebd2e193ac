"""Per-event cost of the worker's state path against catalogue and user counts (issue 13).

Synthetic stream, no model: Zipf item popularity, random unit 384-d vectors,
micro-batches of 64 reviews each followed by a click of the same user on
another Zipf item. Before timing, the catalogue is seeded (one text vector per
item, straight into the item table) and every user gets a profile and three
seen items, so each timed user has several reviews of history. Timed:
``Engine.apply`` with outputs (the worker's path including the rec refresh).

    python benchmarks/scale.py                      # the default grid
    python benchmarks/scale.py --items 1000 100000  --users 10000 --events 4096
    python benchmarks/scale.py --items 100000 --ann-query-threads 1 2 --rounds 4 \
        --out ann-threads.json    # a batch's HNSW queries on one thread vs two, in turn

The process collects garbage as the worker does (``GC_THRESHOLD``, see
``benchmarks/gc_threshold.py``). Writes benchmarks/results/<out>.json and
docs/results/scale/<out>.png; --plot-all draws every scale*.json into
docs/results/scale/events_per_s.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_result
from streamrec.cli.common import tune_process
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine

DIM = 384
BATCH = 64


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _zipf(rng: np.random.Generator, n_items: int, size: int) -> np.ndarray:
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    p = ranks**-1.1
    return rng.choice(n_items, size, p=p / p.sum())


def seed(
    engine: Engine, rng: np.random.Generator, n_items: int, n_users: int, text_items: int
) -> None:
    """The catalogue (text for the first ``text_items`` rows) and every user's profile."""
    items = engine.items
    vectors = unit(rng, min(n_items, 4096))
    for n in range(n_items):
        row = items.row(f"i{n}")
        if n < text_items:
            items.add_text(row, vectors[n % len(vectors)])
    engine.signals.ensure(n_items)
    seen = _zipf(rng, n_items, 3 * n_users).reshape(n_users, 3)
    user_vectors = unit(rng, min(n_users, 4096))
    for u in range(n_users):
        row = engine.profiles.row(f"u{u}")
        engine.profiles.update(f"u{u}", user_vectors[u % len(user_vectors)], ts=1.0)
        for item in seen[u].tolist():
            engine.profiles.mark_seen(row, item)


def stream(
    rng: np.random.Generator,
    n_items: int,
    n_users: int,
    batches: int,
    ts0: int,
    workers: int = 1,
    me: int = 0,
):
    """Micro-batches and their review vectors; users ``u % workers == me`` only."""
    for b in range(batches):
        users = rng.integers(0, n_users // workers, BATCH) * workers + me
        items = _zipf(rng, n_items, 2 * BATCH)
        events: list[ReviewEvent | ClickEvent] = []
        for n, user in enumerate(users.tolist()):
            ts = ts0 + b * BATCH + n
            events.append(
                ReviewEvent(
                    event_id=f"r{b}-{n}",
                    user_id=f"u{user}",
                    item_id=f"i{items[n]}",
                    text="x",
                    ts=ts,
                )
            )
            events.append(
                ClickEvent(
                    event_id=f"c{b}-{n}", user_id=f"u{user}", item_id=f"i{items[BATCH + n]}", ts=ts
                )
            )
        yield events, unit(rng, BATCH)


def run(
    n_items: int,
    n_users: int,
    events: int,
    text_items: int | None,
    seed_value: int = 0,
    before_timing: Callable[[], None] | None = None,
    ann_query_threads: int = 2,
) -> dict:
    rng = np.random.default_rng(seed_value)
    config = EngineConfig(seed=seed_value, ann_query_threads=ann_query_threads)
    engine = Engine(dim=DIM, config=config)
    start = time.perf_counter()
    seed(engine, rng, n_items, n_users, text_items if text_items is not None else n_items)
    seeded = time.perf_counter() - start
    warm = stream(rng, n_items, n_users, 4, 10)
    start = time.perf_counter()
    for batch, vectors in warm:  # first lists build the ANN index and the cluster lists
        engine.apply(batch, vectors)
    warm_s = time.perf_counter() - start
    batches = max(1, events // (2 * BATCH))
    # drawn before the clock starts: the worker decodes events, it does not draw them
    # (Zipf over the catalogue and pydantic events were ~3% of the timed seconds)
    timed = list(stream(rng, n_items, n_users, batches, 10_000))
    if before_timing is not None:
        before_timing()
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    main_cpu = time.thread_time()
    for batch, vectors in timed:
        engine.apply(batch, vectors)
        done += len(batch)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    main_cpu = time.thread_time() - main_cpu
    return {
        "items": n_items,
        "users": n_users,
        "ann_query_threads": ann_query_threads,
        "text_items": text_items if text_items is not None else n_items,
        "events": done,
        "seconds": round(elapsed, 2),
        "events_per_s": round(done / elapsed, 1),
        "events_per_cpu_s": round(done / cpu, 1),  # fairer on a shared machine
        "main_thread_cpu_s": round(main_cpu, 2),  # the batch's own thread (hnswlib's left out)
        "seed_s": round(seeded, 1),
        "warmup_s": round(warm_s, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for users in sorted({r["users"] for r in rows}):
        pts = sorted((r["items"], r["events_per_s"]) for r in rows if r["users"] == users)
        ax.plot(*zip(*pts, strict=True), marker="o", label=f"{users:,} users (wall)")
        cpu = sorted((r["items"], r["events_per_cpu_s"]) for r in rows if r["users"] == users)
        ax.plot(*zip(*cpu, strict=True), marker="x", linestyle=":", label=f"{users:,} users (CPU)")
    ax.set_xscale("log")
    ax.set_xlabel("catalogue (items)")
    ax.set_ylabel("events/s (Engine.apply with lists)")
    ax.axhline(1500, color="grey", linestyle="--", linewidth=0.8)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--users", type=int, nargs="+", default=[10_000])
    parser.add_argument("--events", type=int, default=4096, help="timed events per point")
    parser.add_argument(
        "--text-items", type=int, default=None, help="items seeded with text (default all)"
    )
    parser.add_argument(
        "--ann-query-threads", type=int, nargs="+", default=[2], help="one point per value"
    )
    parser.add_argument("--rounds", type=int, default=1, help="the grid this often, in turn")
    parser.add_argument("--out", default="scale.json")
    parser.add_argument(
        "--plot-all", action="store_true", help="only redraw one plot from every scale*.json"
    )
    args = parser.parse_args()
    threadpool_limits(1)  # one BLAS thread, as the replays: numbers comparable across runs
    tune_process(Settings(_env_file=None))  # type: ignore[call-arg]
    if args.plot_all:
        found = sorted((ROOT / "benchmarks" / "results").glob("scale*.json"))
        rows = [r for path in found for r in json.loads(path.read_text())["grid"]]
        plot(rows, ROOT / "docs" / "results" / "scale" / "events_per_s.png")
        return
    rows = []
    for _ in range(args.rounds):
        for users in args.users:
            for items in args.items:
                for threads in args.ann_query_threads:
                    row = run(items, users, args.events, args.text_items, ann_query_threads=threads)
                    print(row, flush=True)
                    rows.append(row)
    write_result(
        args.out,
        {"grid": rows, "batch_reviews": BATCH, "dim": DIM, "gc_thresholds": gc.get_threshold()},
    )
    if args.rounds == 1 and len(args.ann_query_threads) == 1:  # one line per user count
        plot(rows, ROOT / "docs" / "results" / "scale" / Path(args.out).with_suffix(".png").name)


if __name__ == "__main__":
    main()
