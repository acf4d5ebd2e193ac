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
from streamrec.checkpointing.codec import PartitionCheckpoint, SharedCheckpoint, loads
from streamrec.checkpointing.sync import merge_shared
from streamrec.kafka.offsets import commit_offsets
from streamrec.model.engine import Engine
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)

ID_RANGE = 10_000  # cluster ids each worker process may hand out


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
        self._id_floor = 0
        self._base_blob: bytes | None = None  # the shared model as of the last sync
        self._base_version = 0

    def restore(self) -> bool:
        """Adopt the group's shared model from Redis, if any (users come per partition)."""
        blob = with_retry(
            lambda: self.store.load_checkpoint(self.group), "load checkpoint", self.stopping
        )
        slot = with_retry(self.store.next_worker_slot, "worker slot")
        self._id_floor = (slot - 1) * ID_RANGE
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
        self._claim_id_range()
        return blob is not None

    def _claim_id_range(self) -> None:
        """New clusters born here get ids no other worker process hands out."""
        clusterer = self.engine.clusterer
        if hasattr(clusterer, "next_id"):
            clusterer.next_id = max(clusterer.next_id, self._id_floor)

    def load_partition(self, number: int) -> None:
        """Take over a partition's users, dedup entries and offsets from its checkpoint."""
        blob = with_retry(
            lambda: self.store.load_partition_checkpoint(self.group, number), "load partition"
        )
        if blob is not None:
            part = PartitionCheckpoint.from_bytes(blob)
            self.engine.absorb_users(part.users)
            self.progress.dedup.extend(part.dedup)
            self.progress.offsets.update(part.offsets)

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
        local = self.engine.shared_state()
        parts = {
            number: PartitionCheckpoint(
                self.engine.export_users(number),
                self.progress.offsets_of(number),
                self.progress.dedup.entries(number),
            ).to_bytes()
            for number in sorted(self.progress.owned)
        }
        written: dict = {}

        def build(raw: bytes | None) -> bytes:
            current = SharedCheckpoint.from_bytes(raw) if raw else None
            merged = local
            if current is not None and current.version != self._base_version:
                base = loads(self._base_blob)["state"]  # type: ignore[arg-type]
                merged = merge_shared(base, local, current.state, self.engine.clusterer)
            written.update(merged=merged, version=(current.version if current else 0) + 1)
            return SharedCheckpoint(merged, written["version"]).to_bytes()

        blob = self.store.write_checkpoint(self.group, build, parts)
        if written["merged"] is not local:
            self.engine.load_shared(written["merged"])
            self._claim_id_range()
            self.merges += 1
        self._base_blob, self._base_version = blob, written["version"]
