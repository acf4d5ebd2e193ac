"""Scaling: review events/s with one worker process vs two, on a topic of four partitions.

Both runs embed with the real model (no cache) on this machine's cores: one
worker using every core for torch, or two workers with one torch thread each,
sharing the consumer group. Writes benchmarks/results/scaling.json.
Needs the local servers (``make infra-up``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_result
from pipeline import fresh_settings, produce, review_events
from streamrec.kafka.topics import ensure_topics


def env_of(settings, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, **settings.to_env(), **extra}


def run(workers: int, threads: int, count: int) -> float:
    settings = fresh_settings(batch_size=64, device="cpu", partitions=4)
    ensure_topics(settings, keep_history=True)
    produce(settings, review_events(count, live=False))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "streamrec.cli", "worker", "--idle-timeout", "20"],
            env=env_of(
                settings, STREAMREC_TORCH_THREADS=str(threads), STREAMREC_WORKER_INSTANCE_ID=f"w{n}"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in range(workers)
    ]
    reports = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    assert sum(r["events"] for r in reports) == count, reports
    # from the first batch of any worker to the last batch of any (start-up not counted)
    busy = max(r["busy_until"] for r in reports) - min(r["busy_since"] for r in reports)
    return count / busy


def main() -> None:
    count = 480
    one = run(workers=1, threads=0, count=count)
    print(f"one worker (all cores for torch): {one:.1f} events/s")
    two = run(workers=2, threads=1, count=count)
    print(f"two workers (one torch thread each): {two:.1f} events/s")
    write_result(
        "scaling.json",
        {
            "events": count,
            "partitions": 4,
            "one_worker_events_per_s": round(one, 2),
            "two_workers_events_per_s": round(two, 2),
            "ratio_two_vs_one": round(two / one, 3),
            "limit": f"{os.cpu_count()} cores: the model's matrix products already use every core "
            "in one process, so a second process only splits them (plus its own start-up "
            "and model load)",
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
