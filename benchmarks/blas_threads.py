"""The worker's state path with numpy's BLAS at the library's own thread count and at
the worker's ``BLAS_THREADS`` (default 1), one and several processes at once (issue 13).

Each run starts ``--processes`` fresh interpreters together, each running
``scale.run`` (the synthetic stream of ``benchmarks/scale.py``: Zipf items, 10,000
users, batches of 64 reviews + 64 clicks, ``Engine.apply`` with lists) with its
process tuned as a command tunes it (``tune_process``), ``BLAS_THREADS=0`` (OpenBLAS's
own: one thread per core) or the setting. The processes seed apart and start their
clocks together, as workers of a group on one machine run side by side. Both modes run in
turns (a noisy machine slows both alike). BLAS threads change where a product is computed,
not its value here (``scale.py`` keeps one thread, as the replays do).

Reported per run: each process's events/s and events per CPU second, and the
aggregate events/s (all events over the slowest process's seconds).

    python benchmarks/blas_threads.py                                  # 1 and 2 processes
    python benchmarks/blas_threads.py --processes 2 --rounds 3 --items 100000

Writes benchmarks/results/blas-threads.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from threadpoolctl import threadpool_info

import scale
from common import in_turns, machine, write_result
from streamrec.cli.common import tune_process
from streamrec.core.settings import Settings

MODES = {"library": 0, "setting": Settings(_env_file=None).blas_threads}  # type: ignore[call-arg]


def blas_threads() -> int:
    """The largest thread count of the process's BLAS libraries."""
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def child(items: int, events: int, threads: int) -> None:
    """One process: tuned as a command with ``BLAS_THREADS=threads``; says ``ready``
    when seeded and warm, and starts its clock at the parent's line."""
    tune_process(Settings(_env_file=None, blas_threads=threads))  # type: ignore[call-arg]

    def wait_for_start() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    row = scale.run(items, 10_000, events, None, before_timing=wait_for_start)
    row["blas_threads"] = blas_threads()
    print(json.dumps(row), flush=True)


def together(processes: int, items: int, events: int, threads: int) -> dict:
    """``processes`` children at once, their timed parts started together."""
    command = [sys.executable, __file__, "--child", str(items), str(events), str(threads)]
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    try:
        rows = _rows(children)
    finally:  # a failed child leaves none of the others waiting for its line
        for proc in children:
            proc.kill()
    total = sum(r["events"] for r in rows)
    return {
        "processes": processes,
        "blas_threads": rows[0]["blas_threads"],
        "events_per_s": round(total / max(r["seconds"] for r in rows), 1),
        "per_process": [
            {k: r[k] for k in ("events", "seconds", "events_per_s", "events_per_cpu_s")}
            for r in rows
        ],
    }


def _rows(children: list[subprocess.Popen]) -> list[dict]:
    """Start the children's clocks once every one is seeded and warm; their rows."""
    for proc in children:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a child stopped before it was ready")
    for proc in children:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    rows = []
    for proc in children:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"a child failed with exit code {proc.returncode}")
        rows.append(json.loads(out.splitlines()[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=19_200, help="timed events per process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="blas-threads.json")
    parser.add_argument("--child", type=int, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    grid = []
    for processes in args.processes:
        variants = {
            mode: partial(together, processes, args.items, args.events, threads)
            for mode, threads in MODES.items()
        }
        label = f"{processes} processes"
        grid.append({"processes": processes, **in_turns(variants, args.rounds, label)})
    write_result(
        args.out,
        {
            "items": args.items,
            "events": args.events,
            "modes": MODES,
            "grid": grid,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
