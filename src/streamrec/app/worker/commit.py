"""Steps 3 and 4 of the commit order: the checkpoint to Redis, then the offsets to Kafka.

The shared model is merged with other workers' copies under WATCH
(:mod:`streamrec.checkpointing.sync`) and written with the owned partitions'
checkpoints in one transaction; restoring reads them back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer

from streamrec.app import observability as obs
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.codec import (
    PartitionCheckpoint,
    SharedCheckpoint,
    join_users,
    loads,
    split_users,
)
from streamrec.checkpointing.sync import merge_shared
from streamrec.kafka.offsets import commit_offsets
from streamrec.model.engine import Engine
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)

ID_RANGE = 10_000  # cluster ids in range n: [n * ID_RANGE, (n + 1) * ID_RANGE)
NO_USERS: dict = {"ids": []}  # users travel in the per-user hash, not the partition blob


def _size(parts: dict[int, bytes], users: dict) -> int:
    """Bytes a checkpoint writes besides the shared model (partition blobs and users)."""
    changed = sum(len(k) + len(v) for c, _ in users.values() for k, v in c.items())
    return sum(len(b) for b in parts.values()) + changed


class Checkpointer:
    """Restores and writes the group's checkpoints for one worker."""

    def __init__(
        self,
        group: str,
        interval_s: float,
        engine: Engine,
        store: RecsStore,
        progress: Progress,
        stopping: Callable[[], bool],
    ) -> None:
        self.group = group
        self.interval_s = interval_s
        self.engine = engine
        self.store = store
        self.progress = progress
        self.stopping = stopping
        self.merges = 0  # syncs that folded in other workers' changes
        self._last = time.monotonic()
        self._id_range: int | None = None  # the id range new clusters born here come from
        self._base_blob: bytes | None = None  # the shared model as of the last sync
        self._base_version = 0
        self.last_write: dict[str, int] = {}  # bytes and users of the last write (partitions)

    def restore(self) -> bool:
        """Adopt the group's shared model from Redis, if any (users come per partition)."""
        blob = with_retry(
            lambda: self.store.load_checkpoint(self.group), "load checkpoint", self.stopping
        )
        if blob is not None:
            shared = SharedCheckpoint.from_bytes(blob)
            self.engine.load_shared(shared.state)
            self._base_blob, self._base_version = blob, shared.version
            log.info(
                "restored shared model",
                extra={"version": shared.version, "clock": self.engine.clock},
            )
        else:  # everything learned from here on is this worker's contribution
            self._base_blob = SharedCheckpoint(self.engine.shared_state(), 0).to_bytes()
            self._base_version = 0
        return blob is not None

    def claim_id_range(self) -> None:
        """New clusters born here take ids from the range of the lowest partition owned.

        Partition n belongs to one worker at a time, so no two workers hand out
        the same id; the checkpoint keeps how far each range got
        (``Engine.id_ranges``), so a restarted worker continues the sequence an
        uninterrupted one would have, and ids after a crash equal ids without one.
        """
        clusterer = self.engine.clusterer
        if not hasattr(clusterer, "next_id") or not self.progress.owned:
            return
        self._record_ids()
        number = min(self.progress.owned)
        reached = self.engine.id_ranges.get(number)
        clusterer.next_id = reached if reached is not None else self._first_free(number)
        self._id_range = number

    def _first_free(self, number: int) -> int:
        """The first id of range ``number`` after every id already used in it (a checkpoint
        written before ranges were recorded)."""
        floor, end = number * ID_RANGE, (number + 1) * ID_RANGE
        used = [int(i) for i in self.engine.clusterer.snapshot().ids if floor <= i < end]
        current = int(self.engine.clusterer.next_id)  # type: ignore[attr-defined]
        if floor <= current < end:
            used.append(current - 1)
        return max([floor - 1, *used]) + 1

    def _record_ids(self) -> None:
        """Note how far this worker's range got, for the checkpoint."""
        clusterer = self.engine.clusterer
        if self._id_range is not None and hasattr(clusterer, "next_id"):
            ranges = self.engine.id_ranges
            ranges[self._id_range] = max(ranges.get(self._id_range, 0), int(clusterer.next_id))

    def load_partition(self, number: int) -> None:
        """Take over a partition's users, dedup entries and offsets from its checkpoint."""
        blob = with_retry(
            lambda: self.store.load_partition_checkpoint(self.group, number), "load partition"
        )
        users = with_retry(
            lambda: self.store.load_partition_users(self.group, number), "load partition users"
        )
        if blob is not None:
            part = PartitionCheckpoint.from_bytes(blob)
            if part.users.get("ids"):  # written before the per-user hash: move them there
                self.engine.absorb_users(part.users)
                self.engine.profiles.dirty.update(part.users["ids"])
            self.progress.dedup.extend(part.dedup)
            self.progress.offsets.update(part.offsets)
        if users:
            self.engine.absorb_users(join_users(users))

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval_s

    def checkpoint(self, consumer: KafkaConsumer) -> None:
        """Write the checkpoint to Redis, then commit the same offsets to Kafka."""
        with_retry(self.write, "save checkpoint", on_retry=obs.REDIS_RETRIES.inc)
        obs.CHECKPOINTS.inc()
        self.progress.dirty = False
        self._last = time.monotonic()
        self.commit(consumer)

    def commit(self, consumer: KafkaConsumer) -> None:
        """Commit the checkpointed offsets of the assigned partitions to Kafka (only while
        nothing is processed beyond the checkpoint)."""
        assert not self.progress.dirty, "offsets beyond the checkpoint are not committed"
        # a failed commit is harmless: the checkpoint holds these offsets and wins on restart
        commit_offsets(consumer, self.progress.offsets)
        self.progress.commit_owed = False

    def write(self) -> None:
        """Merge the shared model under WATCH and write it with the partitions, atomically."""
        self._record_ids()
        local = self.engine.shared_state()
        owned = sorted(self.progress.owned)
        parts = {
            number: PartitionCheckpoint(
                NO_USERS, self.progress.offsets_of(number), self.progress.dedup.entries(number)
            ).to_bytes()
            for number in owned
        }
        users = {}  # only the users changed since the last checkpoint
        for number in owned:
            changed, erased = self.engine.changed_users(number)
            users[number] = (split_users(changed), erased)
        changed = sum(len(u[0]) for u in users.values())
        self.last_write = {"bytes": _size(parts, users), "users": changed}
        written: dict = {}

        def build(raw: bytes | None) -> bytes:
            current = SharedCheckpoint.from_bytes(raw) if raw else None
            merged = local
            if current is not None and current.version != self._base_version:
                base = loads(self._base_blob)["state"]  # type: ignore[arg-type]
                merged = merge_shared(base, local, current.state, self.engine.clusterer)
            written.update(merged=merged, version=(current.version if current else 0) + 1)
            return SharedCheckpoint(merged, written["version"]).to_bytes()

        blob = self.store.write_checkpoint(self.group, build, parts, users)
        self.engine.mark_clean(set(owned))
        if written["merged"] is not local:
            self.engine.load_shared(written["merged"])
            self.claim_id_range()
            self.merges += 1
        self._base_blob, self._base_version = blob, written["version"]
