"""Steps 3 and 4 of the commit order: the checkpoint to Redis, then the offsets to Kafka.

The shared model is merged with other workers' copies under WATCH
(:mod:`streamrec.checkpointing.sync`) and written with the owned partitions'
checkpoints in one transaction; restoring reads them back. It is a hash of a
global field and one field per item: while no other worker wrote since this
one's last sync (a single worker: always) a checkpoint writes the global field
and the items changed since; after another worker's write, the fields it
changed are read, merged and written where they differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer

from streamrec.app import observability as obs
from streamrec.app.worker.index_keeper import IndexLogKeeper
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing import index_log
from streamrec.checkpointing.codec import (
    PartitionCheckpoint,
    SharedCheckpoint,
    join_users,
    split_users,
)
from streamrec.checkpointing.shared_changes import (
    CHANGES_KEPT,
    change_field,
    changed_item_rows,
    changed_neighbour_rows,
    changes_since,
    merged_fields,
    model_fields,
    patch_shared,
    patched_fields,
    with_change_record,
)
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    decay_bases,
    decay_half_lives,
    encode_global,
    encode_items,
    encode_neighbours,
    follow_bases,
    join_shared,
    split_shared,
)
from streamrec.checkpointing.sync import merge_shared
from streamrec.core.arrays import copy_state
from streamrec.kafka.offsets import commit_offsets
from streamrec.model.engine import Engine
from streamrec.serving.store import FieldChanges, RecsStore, SharedReader, with_retry

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
        instance: str | None = None,
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
        # the shared model's fields as of the last sync (what Redis holds, when nobody
        # else wrote), its version and the decay bases its item fields may be stored
        # against (codec.follow_bases)
        self._base_fields: dict[str, bytes] = {}
        self._base_state: dict | None = None  # the same, parsed (kept after a merge)
        # a merge reads only the fields the other workers changed (False: the whole hash)
        self.read_changed_only = True
        self._base_version = 0
        self._history: list[list] = []
        self.last_write: dict[str, int] = {}  # what the last write wrote (bytes, fields)
        self.index_log = IndexLogKeeper(engine, instance)

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
            self._base_version = shared.version
            log.info(
                "restored shared model",
                extra={"version": shared.version, "clock": self.engine.clock},
            )
        else:  # everything learned from here on is this worker's contribution
            shared = SharedCheckpoint(self.engine.shared_state(), 0)
            self._base_version = 0
        self._base_fields = model_fields(fields) or split_shared(shared.state, shared.version)
        self._history = shared.history or [[b] for b in decay_bases(shared.state)]
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
        changes = self.store.write_checkpoint(
            self.group, lambda shared: self._build(shared, written), parts, users
        )
        self.engine.mark_clean(set(owned))
        if written["merged"] is not None:
            # the next merge starts from it: parsing the fields again took a third of one
            self._base_state = copy_state(written["merged"])
            self.engine.load_shared(written["merged"], keep_index=True)
            self.index_log.stop()
            self.claim_id_range()
            self.merges += 1
            self._base_fields = written["fields"]  # the merged model's fields alone
        else:
            model = model_fields(written["fields"])
            self._base_fields.update(model)
            patched = None  # with several workers, the copy the next merge patches
            if self.read_changed_only and self._base_state is not None:
                patched = patch_shared(self._base_state, model)
            self._base_state = None if patched is None else patched.state
        self.index_log.stored(written["index_chunks"])
        self.engine.mark_items_clean()
        self._base_version, self._history = written["version"], written["history"]
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

    def _build(self, shared: SharedReader, written: dict) -> FieldChanges:
        """The shared model's field changes given what is stored (under WATCH: it may run
        again); ``written`` receives the new version and fields, and the merged state."""
        written["builds"] = written.get("builds", 0) + 1
        stored = shared.field(GLOBAL)
        current_blob = stored if stored is not None else shared.legacy()
        current = SharedCheckpoint.from_bytes(current_blob) if current_blob else None
        version = current.version if current is not None else 0
        if current is not None and version != self._base_version:  # another worker wrote
            changed = None if stored is None else self._read_changed(shared, stored, version)
            if changed is not None:  # only what the others changed since this worker's sync
                theirs, fields, written["read"] = changed
                return with_change_record(self._merge(theirs, fields, written), version + 1)
            theirs = shared.fields() if stored is not None else {}
            written["read"] = len(theirs)
            merge = self._merge(join_shared(theirs) if theirs else current, theirs, written)
            return with_change_record(merge, version + 1)
        head = self.engine.shared_state(per_item=False)
        bases = decay_bases(head)
        # item fields not written now are caught up over the bases' history on reading;
        # without one (nothing stored, a history too long or with a gap) all are written
        history = (
            None if stored is None else follow_bases(self._history, bases, decay_half_lives(head))
        )
        whole = history is None
        every = range(self.engine.items.n_items)
        rows = every if whole else self.engine.dirty_items()
        neighbours = every if whole else self.engine.dirty_neighbours()
        history = history or [[base] for base in bases]
        fields = {
            GLOBAL: encode_global(head, version + 1, history),
            **encode_items(self.engine.items, self.engine.signals, rows),
            **encode_neighbours(self.engine.signals, neighbours),
        }
        log_fields, deleted, chunks = self.index_log.fields()
        fields |= log_fields
        written.update(
            version=version + 1, fields=fields, merged=None, history=history, index_chunks=chunks
        )
        return with_change_record((fields, deleted), version + 1)

    def _read_changed(
        self, shared: SharedReader, stored: bytes, version: int
    ) -> tuple[SharedCheckpoint, dict[str, bytes], int] | None:
        """The stored model at ``version``, its fields and how many were read: the copy
        as of the last sync patched with the fields the change records since name; None
        when a record is gone or a decay base moved: then the whole hash is read."""
        since = range(self._base_version + 1, version + 1)
        if not self.read_changed_only or not 0 < len(since) <= CHANGES_KEPT:
            return None
        records = shared.fields_named([change_field(v) for v in since])
        if any(record is None for record in records):
            return None
        written, deleted = changes_since(records)  # type: ignore[arg-type]
        names = sorted(written - {GLOBAL})
        values = shared.fields_named(names, unchanged=(GLOBAL, stored))  # one version
        if any(value is None for value in values):
            return None
        fetched = {GLOBAL: stored, **dict(zip(names, values, strict=True))}  # type: ignore[arg-type]
        theirs = patch_shared(self._base(), fetched, deleted)
        if theirs is None:
            return None
        fields = patched_fields(self._base_fields, fetched, deleted)
        return theirs, fields, len(records) + len(fetched)

    def _base(self) -> dict:
        """The stored model as of the last sync: the copy kept, else (after a restore)
        decoded from the fields held."""
        if self._base_state is None:
            self._base_state = join_shared(self._base_fields).state
        return self._base_state

    def _merge(
        self, theirs: SharedCheckpoint, stored: dict[str, bytes], written: dict
    ) -> FieldChanges:
        """Fold this worker's changes since the last sync into ``theirs`` (the stored
        fields ``stored``) and return the fields that differ from them."""
        base = self._base()
        local = self.engine.shared_state(copy=False)  # read, not kept: no (items x dim) copy
        merged = merge_shared(base, local, theirs.state, self.engine.clusterer)
        # the merge keeps theirs' bases: fields it leaves as stored stay readable
        bases = decay_bases(merged)
        past = theirs.history or [[base] for base in decay_bases(theirs.state)]
        followed = follow_bases(past, bases, decay_half_lives(merged))
        history = followed or [[base] for base in bases]
        # fields equal to theirs stay as stored (readable: the same bases' history)
        partial = bool(stored) and followed is not None
        rows, neighbours = (
            (
                changed_item_rows(merged, theirs.state),
                changed_neighbour_rows(merged["signals"], theirs.state["signals"]),
            )
            if partial
            else (None, None)
        )
        fields = split_shared(merged, theirs.version + 1, history, rows, neighbours)
        model, changed, gone = merged_fields(stored, fields, merged)
        written.update(
            version=theirs.version + 1, fields=model, merged=merged, history=history, index_chunks=0
        )
        return changed, sorted(gone + self.index_log.merge_deletions(stored))
