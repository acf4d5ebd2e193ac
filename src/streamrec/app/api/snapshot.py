"""What the API reads from the worker group's checkpoint: item text vectors (similar
items), users' histories (seen items) and user vectors (the 2-D cluster map).

The checkpoint is decoded at most every ``max_age_s`` seconds, in a background
thread once a first copy exists, so a request never waits for a refresh.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import redis

from streamrec.checkpointing.codec import PartitionCheckpoint, with_users
from streamrec.checkpointing.shared_fields import read_shared
from streamrec.serving.schema import RedisKeys

MAP_USERS = 1500  # users drawn on the map (a deterministic sample)


@dataclass
class ModelSnapshot:
    item_ids: list[str] = field(default_factory=list)
    item_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    item_index: dict[str, int] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)
    map_points: list[dict] = field(default_factory=list)
    loaded_at: float = 0.0

    def similar(self, item_id: str, k: int) -> list[dict] | None:
        """The ``k`` items whose review texts are closest (cosine); None for an unknown item."""
        row = self.item_index.get(item_id)
        if row is None:
            return None
        sims = self.item_vectors @ self.item_vectors[row]
        sims[row] = -np.inf
        top = np.argsort(-sims)[:k]
        return [
            {"item_id": self.item_ids[r], "similarity": round(float(sims[r]), 4)}
            for r in top.tolist()
            if np.isfinite(sims[r]) and sims[r] > 0
        ]


def build_snapshot(shared: dict | None, parts: list[PartitionCheckpoint]) -> ModelSnapshot:
    snapshot = ModelSnapshot(loaded_at=time.time())
    if shared is not None:
        vectors = shared["items"]["vectors"]
        ids, sums = list(vectors["ids"]), np.asarray(vectors["sums"], dtype=np.float32)
        keep = [r for r, i in enumerate(ids) if i is not None]
        norms = np.linalg.norm(sums[keep], axis=1, keepdims=True)
        snapshot.item_ids = [ids[r] for r in keep]
        snapshot.item_vectors = sums[keep] / np.maximum(norms, 1e-12)
        snapshot.item_index = {i: n for n, i in enumerate(snapshot.item_ids)}
    users = [p.users for p in parts if p.users.get("ids")]
    for export in users:
        lengths = np.asarray(export["seen_lengths"]).tolist()
        flat, start = list(export["seen_items"]), 0
        for user_id, length in zip(export["ids"], lengths, strict=True):
            snapshot.seen[user_id] = flat[start : start + length]
            start += length
    snapshot.map_points = _map_points(users)
    return snapshot


def _map_points(users: list[dict]) -> list[dict]:
    """Users projected on the first two principal components of their interest vectors."""
    if not users:
        return []
    ids = [i for u in users for i in u["ids"]]
    sums = np.vstack([np.asarray(u["sums"], dtype=np.float64) for u in users])
    clusters = np.concatenate([np.asarray(u["cluster"]) for u in users]).tolist()
    norms = np.linalg.norm(sums, axis=1)
    rows = np.flatnonzero(norms > 0)[:MAP_USERS]
    if len(rows) < 3:
        return []
    vectors = sums[rows] / norms[rows, None]
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ components[:2].T
    return [
        {
            "user_id": ids[r],
            "x": round(float(x), 4),
            "y": round(float(y), 4),
            "cluster": clusters[r],
        }
        for r, (x, y) in zip(rows.tolist(), xy.tolist(), strict=True)
    ]


class SnapshotReader:
    """Keeps a recent :class:`ModelSnapshot` of one worker group."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, group: str, partitions: int, max_age_s: float
    ) -> None:
        self.client, self.keys, self.group, self.max_age_s = client, keys, group, max_age_s
        self.partitions = partitions
        self._snapshot: ModelSnapshot | None = None
        self._refreshing = threading.Lock()

    def get(self) -> ModelSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            with self._refreshing:
                if self._snapshot is None:
                    self._snapshot = self._load()
            return self._snapshot
        if time.time() - snapshot.loaded_at > self.max_age_s and self._refreshing.acquire(
            blocking=False
        ):
            threading.Thread(target=self._refresh, daemon=True).start()
        return snapshot

    def _refresh(self) -> None:
        try:
            self._snapshot = self._load()
        finally:
            self._refreshing.release()

    def _load(self) -> ModelSnapshot:
        shared = read_shared(
            dict(self.client.hscan_iter(self.keys.shared_checkpoint(self.group), count=1000)),
            self.client.get(self.keys.checkpoint(self.group)),  # type: ignore[arg-type]
        )
        if shared is None:
            return ModelSnapshot(loaded_at=time.time())
        # partition checkpoints are numbered like the topics' partitions: one MGET, no SCAN
        # (a SCAN walks the whole database, however many other keys it holds)
        names = [self.keys.partition_checkpoint(self.group, n) for n in range(self.partitions)]
        raws = self.client.mget(names) if names else []
        parts = [
            with_users(
                PartitionCheckpoint.from_bytes(raw),  # type: ignore[arg-type]
                self.client.hgetall(self.keys.partition_users(self.group, n)),  # type: ignore[arg-type]
            )
            for n, raw in enumerate(raws)  # type: ignore[arg-type]
            if raw
        ]
        return build_snapshot(shared, parts)
