"""Memory per user: worker state beyond the interest vector, and Redis.

1. 100,000 users with 5 items each in the engine's profile table; the bytes
   traced by tracemalloc per user, minus the 384 float32 of the vector itself.
2. Redis: the keys the worker writes per user (rec list of 50 items and the
   cluster assignment) for 10,000 users; used_memory grows by this per user.
Writes benchmarks/results/memory.json. Needs Redis (``make infra-up``).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_result
from streamrec.core.settings import Settings
from streamrec.model.output import BatchOutput
from streamrec.model.profiles import UserProfiles
from streamrec.serving.schema import Assignment, RecList, RedisKeys, ScoredItem
from streamrec.serving.store import RecsStore, connect

USERS = 100_000
DIM = 384


def profile_bytes() -> dict:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1000, DIM)).astype(np.float32)
    ids = [f"A{n:013d}" for n in range(USERS)]  # Amazon-like reviewer ids
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    profiles = UserProfiles(DIM, half_life=5.0, capacity=USERS)
    for n, user in enumerate(ids):
        row = profiles.update(user, vectors[n % 1000], ts=float(n))
        for item in range(5):
            profiles.mark_seen(row, (n + item * 7) % 900)
        profiles.partition[row] = n % 4
    profiles.assign(np.arange(USERS), np.tile([[3, 7]], (USERS, 1)), np.full((USERS, 2), 0.5))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_user = (after - before) / USERS
    vector = DIM * 4
    return {
        "users": USERS,
        "bytes_per_user_total": round(per_user, 1),
        "vector_bytes": vector,
        "bytes_per_user_beyond_vector": round(per_user - vector, 1),
        "target_beyond_vector": "<= 2048",
        "includes": "decayed sum (the vector), last review vector (float16), counts, "
        "time, top-2 clusters and similarities, partition, 5-item history, "
        "id and index entry",
    }


def redis_bytes() -> dict:
    settings = Settings(_env_file=None, redis_prefix=f"bench-{uuid.uuid4().hex[:8]}")  # type: ignore[call-arg]
    client = connect(settings)
    store = RecsStore(client, RedisKeys(settings.redis_prefix))
    users = 10_000
    client.memory_purge() if hasattr(client, "memory_purge") else None
    before = int(client.info("memory")["used_memory"])
    now = time.time()
    for start in range(0, users, 1000):
        out = BatchOutput()
        for n in range(start, start + 1000):
            user = f"A{n:013d}"
            out.user_recs[user] = RecList(
                strategy="user",
                level="user",
                user_id=user,
                cluster_id=3,
                items=[
                    ScoredItem(item_id=f"B{(n + i) % 900:09d}", score=round(1 / (i + 1), 6))
                    for i in range(50)
                ],
                as_of=1.4e9,
                produced_at=now,
            )
            out.assignments[user] = Assignment(
                cluster_id=3,
                similarity=0.61,
                second_cluster_id=7,
                second_similarity=0.52,
                as_of=1.4e9,
            )
        store.write(out)
    after = int(client.info("memory")["used_memory"])
    for key in client.scan_iter(RedisKeys(settings.redis_prefix).pattern(), count=1000):
        client.delete(key)
    return {
        "users": users,
        "bytes_per_user": round((after - before) / users, 1),
        "holds": "rec list of 50 items (JSON) + cluster assignment (JSON), two keys",
    }


def main() -> None:
    profiles = profile_bytes()
    print(profiles)
    redis = redis_bytes()
    print(redis)
    write_result("memory.json", {"worker_profiles": profiles, "redis": redis, "machine": machine()})


if __name__ == "__main__":
    main()
