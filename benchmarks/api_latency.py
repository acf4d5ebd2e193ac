"""Latency of GET /v1/users/{id}/recs under a fixed request rate (open loop, loopback).

Starts ``streamrec serve`` in its own process against the running Kafka and Redis
(a fresh Redis prefix and topics), writes per-user lists for USERS users, then for
each rate sends requests on a fixed schedule (request i at t0 + i / rate, bounded in
count and time) from one asyncio client with keep-alive connections. Latency is
measured from the scheduled send time, so a stalled server is not hidden by a client
that waits (coordinated omission). Every answer publishes its impression to Kafka.
Writes benchmarks/results/api_latency.json.

    python benchmarks/api_latency.py [--rates 100 250 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # devtools

from common import machine, write_result
from devtools.runs import isolated_settings
from streamrec.core.settings import Settings
from streamrec.kafka.topics import delete_topics, ensure_topics
from streamrec.serving.schema import Assignment, Publication, RecList, RedisKeys, ScoredItem
from streamrec.serving.store import RecsStore, connect

USERS = 2000
MAX_SECONDS_PER_RATE = 30.0


def seed(settings: Settings) -> None:
    """A 50-item user list and an assignment per user, cluster lists and trending."""
    items = [ScoredItem(item_id=f"B{n:08d}", score=1.0 - n / 1000) for n in range(300)]
    rng = np.random.default_rng(0)
    out = Publication()
    for u in range(USERS):
        picks = rng.choice(len(items), 50, replace=False)
        out.user_recs[f"u{u}"] = RecList(
            strategy="user",
            level="user",
            user_id=f"u{u}",
            cluster_id=u % 20,
            items=[items[p] for p in picks],
            as_of=1.4e9,
        )
        out.assignments[f"u{u}"] = Assignment(cluster_id=u % 20, similarity=0.8, as_of=1.4e9)
    for c in range(20):
        out.cluster_recs[c] = RecList(
            strategy="cluster", level="cluster", cluster_id=c, items=items[c : c + 50], as_of=1.4e9
        )
    out.trending = RecList(strategy="trending", level="trending", items=items[:50], as_of=1.4e9)
    RecsStore(connect(settings), RedisKeys(settings.redis_prefix)).write(out)


def start_server(settings: Settings, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings.to_env(),
        "STREAMREC_API_PORT": str(port),
        "STREAMREC_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "streamrec.cli", "serve"]
    server = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the API did not become ready in 60 s")


async def load(port: int, rate: float, seconds: float, connections: int = 32) -> dict:
    """Requests on a fixed schedule over ``connections`` keep-alive connections (a raw
    HTTP/1.1 client: a heavier client would take the CPU the server is measured on)."""
    count = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.5

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                i = await queue.get()
                if i < 0:
                    return
                due = start + i / rate
                path = f"/v1/users/u{i % USERS}/recs?k=10"
                writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                errors += not head.startswith(b"HTTP/1.1 200")
                latencies.append(time.perf_counter() - due)
        finally:
            writer.close()

    async def schedule() -> None:
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            queue.put_nowait(i)
        for _ in range(connections):
            queue.put_nowait(-1)

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.wait_for(
        asyncio.gather(schedule(), *workers), timeout=seconds + MAX_SECONDS_PER_RATE
    )
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "rate_target": rate,
        "requests": count,
        "completed": len(latencies),
        "errors": errors,
        "achieved_rate": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 250, 500])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    settings = isolated_settings(f"bench-{run}", topic_partitions=2)
    ensure_topics(settings)
    seed(settings)
    port = free_port()
    server = start_server(settings, port)
    try:
        asyncio.run(load(port, 100, 2))  # warm-up: connections, the API's first reads
        results = []
        for rate in args.rates:
            result = asyncio.run(load(port, rate, args.seconds))
            print(
                f"{rate:6.0f} req/s: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                f"achieved {result['achieved_rate']} req/s, errors {result['errors']}"
            )
            results.append(result)
    finally:
        server.terminate()
        server.wait(30)
        client = connect(settings)
        for key in client.scan_iter(f"bench-{run}:*"):
            client.delete(key)
        delete_topics(
            settings,
            [
                settings.topic_reviews,
                settings.topic_clicks,
                settings.topic_impressions,
                settings.topic_dead_letter,
                settings.topic_cluster_events,
            ],
        )
    write_result(
        "api_latency.json",
        {
            "machine": machine(),
            "users": USERS,
            "seconds_per_rate": args.seconds,
            "client": "raw asyncio HTTP/1.1, 32 keep-alive connections, open loop, latency "
            "from the scheduled send time",
            "results": results,
            "target": "p99 <= 10 ms at 500 req/s",
        },
    )


if __name__ == "__main__":
    main()
