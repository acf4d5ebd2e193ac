"""Steps 3 and 4 of the commit order: the checkpoint to Redis, then the offsets to Kafka.

The shared model's changes (:mod:`streamrec.app.worker.shared_sync`: merged with
other workers' copies under WATCH) are written with the owned partitions'
checkpoints in one transaction; restoring reads them back.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from kafka import KafkaConsumer

from streamrec.app import observability as obs
from streamrec.app.worker.index_keeper import IndexLogKeeper
from streamrec.app.worker.pacing import CheckpointPacing
from streamrec.app.worker.progress import Progress
from streamrec.app.worker.shared_sync import SharedSync
from streamrec.checkpointing import index_log
from streamrec.checkpointing.codec import (
    PartitionCheckpoint,
    SharedCheckpoint,
    join_users,
    split_users,
)
from streamrec.checkpointing.shared_fields import join_shared
from streamrec.core.arrays import small_pages
from streamrec.kafka.offsets import commit_offsets
from streamrec.model.engine import Engine
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)

LEASE_S = 120.0  # the checkpoint lease's expiry: far above a merge (5 s at 10^5 items)
LEASE_WAIT_S = 10.0  # how long a write that cannot be put off waits for the lease
ID_RANGE = 10_000  # cluster ids in range n: [n * ID_RANGE, (n + 1) * ID_RANGE)
NO_USERS: dict = {"ids": []}  # users travel in the per-user hash, not the partition blob


def _size(parts: dict[int, bytes], users: dict) -> int:
    """Bytes a checkpoint writes besides the shared model (partition blobs and users)."""
    changed = sum(len(k) + len(v) for c, _ in users.values() for k, v in c.items())
    return sum(len(b) for b in parts.values()) + changed


class Checkpointer:
    """Restores and writes the group's checkpoints for one worker, due as ``pacing``
    says (:mod:`streamrec.app.worker.pacing`; a float: that fixed interval)."""

    def __init__(
        self,
        group: str,
        pacing: CheckpointPacing | float,
        engine: Engine,
        store: RecsStore,
        progress: Progress,
        stopping: Callable[[], bool],
        instance: str | None = None,
    ) -> None:
        self.group = group
        # a bare interval never stretches (tests and benchmarks time writes themselves)
        self.pacing = pacing if isinstance(pacing, CheckpointPacing) else CheckpointPacing(pacing)
        self.engine = engine
        self.store = store
        self.progress = progress
        self.stopping = stopping
        self.merges = 0  # syncs that folded in other workers' changes
        self._last = time.monotonic()
        self._id_range: int | None = None  # the id range new clusters born here come from
        self.last_write: dict[str, int] = {}  # what the last write wrote (bytes, fields)
        self.index_log = IndexLogKeeper(engine, instance)
        self.sync = SharedSync(engine, self.index_log)
        self._holder = uuid.uuid4().hex  # this worker's name on the group's checkpoint lease
        self.lease_wait_s = LEASE_WAIT_S

    def restore(self) -> bool:
        """Adopt the group's shared model from Redis, if any (users come per partition)."""
        fields = with_retry(
            lambda: self.store.load_shared_fields(self.group), "load checkpoint", self.stopping
        )
        shared = join_shared(fields) if fields else self._restore_former()
        found = shared is not None
        if shared is not None:
            self.engine.load_shared(shared.state)
            self.index_log.restore(fields)
            log.info(
                "restored shared model",
                extra={"version": shared.version, "clock": self.engine.clock},
            )
        else:  # everything learned from here on is this worker's contribution
            shared = SharedCheckpoint(self.engine.shared_state(), 0)
        self.sync.adopt(fields, shared)
        return found

    def _restore_former(self) -> SharedCheckpoint | None:
        """The shared model of the former one-value layout (the next write moves it into
        the hash)."""
        blob = with_retry(
            lambda: self.store.load_checkpoint(self.group), "load checkpoint", self.stopping
        )
        return None if blob is None else SharedCheckpoint.from_bytes(blob)

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
        return time.monotonic() - self._last >= self.pacing.wait_s

    def checkpoint(self, consumer: KafkaConsumer, may_put_off: bool = False) -> bool:
        """Write the checkpoint to Redis, then commit the same offsets to Kafka; False
        when put off (see :meth:`write`; at most one interval past due)."""
        put_off = may_put_off and time.monotonic() - self._last < 2 * self.pacing.wait_s
        if not with_retry(
            lambda: self.write(put_off), "save checkpoint", on_retry=obs.REDIS_RETRIES.inc
        ):
            obs.CHECKPOINTS_PUT_OFF.inc()
            return False
        obs.CHECKPOINTS.inc()
        self.progress.dirty = False
        self._last = time.monotonic()
        self.commit(consumer)
        return True

    def commit(self, consumer: KafkaConsumer) -> None:
        """Commit the checkpointed offsets of the assigned partitions to Kafka (only while
        nothing is processed beyond the checkpoint)."""
        assert not self.progress.dirty, "offsets beyond the checkpoint are not committed"
        # a failed commit is harmless: the checkpoint holds these offsets and wins on restart
        commit_offsets(consumer, self.progress.offsets)
        self.progress.commit_owed = False

    def write(self, may_put_off: bool = False) -> bool:
        """Merge the shared model under WATCH and write it with the partitions, atomically.

        While it writes, the worker holds the group's checkpoint lease: two workers
        merging at once would both pay for a merge, and WATCH would throw one away.
        With ``may_put_off``, a worker that finds another holding it writes nothing
        and returns False (it goes on with the next batch and tries again after it);
        without, it waits for the lease (at most ``lease_wait_s``, then writes anyway:
        WATCH keeps that correct)."""
        leased = self.store.take_lease(self.group, self._holder, LEASE_S)
        if not leased and may_put_off:
            return False
        deadline = time.monotonic() + self.lease_wait_s
        while not leased and time.monotonic() < deadline:
            time.sleep(0.05)
            leased = self.store.take_lease(self.group, self._holder, LEASE_S)
        began = time.monotonic()
        try:
            self._write()
            obs.CHECKPOINT_WAIT.set(self.pacing.wrote(time.monotonic() - began))
        finally:
            if leased:
                self.store.drop_lease(self.group, self._holder)
        return True

    def _write(self) -> None:
        self._record_ids()
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
        self.index_log.take_ops()
        written: dict = {}
        with small_pages():  # a merge's (items x dim) arrays: short-lived, made at once
            changes = self.store.write_checkpoint(
                self.group, lambda shared: self.sync.build(shared, written), parts, users
            )
            self.engine.mark_clean(set(owned))
            self.sync.settle(written)
        # the model's own arrays (loaded below) keep huge pages: batches read them
        if written["merged"] is not None:
            self.engine.load_shared(written["merged"], keep_index=True)
            self.index_log.stop()
            self.claim_id_range()
            self.merges += 1
        self.index_log.stored(written["index_chunks"])
        self.engine.mark_items_clean()
        self.last_write = {
            "fields_read": written.get("read", 0),  # by a merge (0: none)
            "builds": written["builds"],  # more than 1: another worker wrote first (WATCH)
            "bytes": _size(parts, users),
            "users": sum(len(u[0]) for u in users.values()),
            "shared_bytes": sum(len(k) + len(v) for k, v in changes[0].items()),
            "items": sum(k.startswith("i") for k in changes[0]),  # item fields
            "neighbours": sum(k.startswith("n") for k in changes[0]),  # neighbour fields
            "index_bytes": sum(
                len(k) + len(v) for k, v in changes[0].items() if k.startswith(index_log.PREFIX)
            ),
        }
