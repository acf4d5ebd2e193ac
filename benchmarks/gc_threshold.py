"""The worker's state path under Python's garbage-collector thresholds and the worker's
own (``GC_THRESHOLD``), alternating, each run in a fresh interpreter (issue 13).

Each round runs ``scale.run`` (the synthetic stream of ``benchmarks/scale.py``:
Zipf items, 10,000 users, batches of 64 reviews + 64 clicks, ``Engine.apply``
with lists) once with Python's default thresholds (700, 10, 10) and once with
the setting's young threshold, in turns (a noisy machine slows both alike),
and counts the full (oldest-generation)
collections of the timed part and the seconds they took. The collector frees memory and
changes no value, so both runs compute the same lists.

    python benchmarks/gc_threshold.py                   # 10^3, 10^4, 10^5 items
    python benchmarks/gc_threshold.py --items 100000 --rounds 3

Writes benchmarks/results/gc-threshold.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale
from common import in_turns, machine, write_result
from streamrec.cli.common import tune_process
from streamrec.core.settings import Settings

PYTHON_DEFAULT = (700, 10, 10)


class FullCollections:
    """Counts the oldest generation's collections and their seconds while installed."""

    def __init__(self) -> None:
        self.count, self.seconds, self._start = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._start


def timed(items: int, events: int, threshold: int) -> dict:
    """One run of ``scale.run`` in a fresh interpreter at young threshold ``threshold``
    (no heap left from another run); full collections counted in the timed part only."""
    command = [sys.executable, __file__, "--child", str(items), str(events), str(threshold)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def child(items: int, events: int, threshold: int) -> None:
    threadpool_limits(1)
    gc.set_threshold(threshold, *PYTHON_DEFAULT[1:])
    full = FullCollections()
    row = scale.run(items, 10_000, events, None, before_timing=lambda: gc.callbacks.append(full))
    row.update(full_collections=full.count, full_collection_s=round(full.seconds, 3))
    print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--events", type=int, default=4096, help="timed events per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", type=int, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    threadpool_limits(1)
    tune_process(Settings(_env_file=None))  # type: ignore[call-arg]
    tuned = gc.get_threshold()
    rows = []
    for items in args.items:
        variants = {
            name: partial(timed, items, args.events, thresholds[0])
            for name, thresholds in (("python", PYTHON_DEFAULT), ("setting", tuned))
        }
        rows.append({"items": items, **in_turns(variants, args.rounds, f"{items} items")})
    write_result(
        "gc-threshold.json",
        {
            "python_default": PYTHON_DEFAULT,
            "setting": tuned,
            "grid": rows,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
