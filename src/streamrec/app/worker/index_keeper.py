"""This worker's nearest-item index log in its checkpoints (``checkpointing.index_log``).

Only a worker with a static instance id can find its own log again after a
restart, so without one nothing is logged and a restarted worker rebuilds the
graph from the item vectors. The ops drained from the index wait here until a
checkpoint stores them (the checkpoint's build may run again under WATCH).
"""

from __future__ import annotations

import logging

from streamrec.checkpointing import index_log
from streamrec.model.engine import Engine
from streamrec.model.item_index import IndexOp

log = logging.getLogger(__name__)


class IndexLogKeeper:
    def __init__(self, engine: Engine, instance: str | None) -> None:
        self.engine = engine
        self.instance = instance
        engine.candidates.index.keep_log = instance is not None
        self.chunks = 0  # chunk fields of this worker's log as stored
        self._ops: list[IndexOp] = []  # drained from the index, not yet stored
        self._stale: set[str] = set()  # this worker's chunk fields to delete

    def restore(self, fields: dict[str, bytes]) -> None:
        """Replay the stored log after the shared model was loaded, so the graph is the
        one this worker had (else it is rebuilt on the first query, a new log)."""
        if self.instance is None:
            return
        found = index_log.read_log(fields, self.instance)
        ops, pending, self.chunks = found or ([], [], 0)
        if found:
            try:
                self.engine.candidates.index.replay(ops)
                self.engine.items.changed = set(pending)
            except (RuntimeError, ValueError, IndexError) as error:  # hnswlib: RuntimeError
                log.warning("index log not replayable, rebuilding", extra={"error": str(error)})
                self.engine.candidates.reset()
                found, ops, self.chunks = None, [], 0
        self._stale = {
            name
            for name in fields
            if index_log.is_chunk_of(name, self.instance)
            and int(name.rsplit(":", 1)[1]) >= self.chunks
        }
        log.info("restored the item index log", extra={"ops": len(ops), "found": bool(found)})

    def take_ops(self) -> None:
        """Before a checkpoint: the ops since the last one (kept until stored)."""
        if self.instance is not None:
            self._ops += self.engine.candidates.index.drain()

    def fields(self) -> tuple[dict[str, bytes], list[str], int]:
        """The fields a checkpoint without a merge writes, those it deletes, and the chunk
        count after it."""
        if self.instance is None:
            return {}, [], self.chunks
        fields = index_log.encode_log(self.instance, self.chunks, self._ops)
        chunks = self.chunks + len(fields)
        pending = self.engine.items.changed
        fields[index_log.meta_field(self.instance)] = index_log.encode_meta(chunks, pending)
        return fields, sorted(self._stale), chunks

    def merge_deletions(self, stored: dict[str, bytes]) -> list[str]:
        """A merge's write deletes this worker's log (see :meth:`stop`)."""
        if self.instance is None:
            return []
        own = index_log.meta_field(self.instance)
        # its chunks as counted here too: a merge may read only the fields that changed
        counted = [index_log.chunk_field(self.instance, n) for n in range(self.chunks)]
        found = [k for k in stored if k == own or index_log.is_chunk_of(k, self.instance)]
        return sorted({own, *counted, *found})

    def stored(self, chunks: int) -> None:
        self.chunks, self._ops, self._stale = chunks, [], set()

    def stop(self) -> None:
        """After a merge the index holds what several workers did in an order no log can
        replay on its own: its log is deleted (by the merge's write) and no longer kept."""
        self.engine.candidates.index.keep_log = False
        self.engine.candidates.index.drain()
        self.instance = None
