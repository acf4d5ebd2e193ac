"""This worker's side of the group's shared model: what Redis held at its last sync,
and the field changes of its next write (step 3 of the commit order, under WATCH).

While no other worker wrote since this one's last sync (a single worker: always)
a write changes the global field and the items changed since. After another
worker's write, the fields it changed are read (the change records name them),
patched into the copy kept from the last sync, merged with this worker's changes
and written where they differ (:mod:`streamrec.checkpointing.sync`).
"""

from __future__ import annotations

from streamrec.app.worker.index_keeper import IndexLogKeeper
from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.shared_changes import (
    CHANGES_KEPT,
    change_field,
    changed_item_rows,
    changed_neighbour_rows,
    changes_since,
    merged_fields,
    model_fields,
    patched_fields,
    with_change_record,
)
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    caught_up_state,
    decay_bases,
    decay_half_lives,
    encode_global,
    encode_items,
    encode_neighbours,
    follow_bases,
    join_shared,
    split_shared,
)
from streamrec.checkpointing.shared_patch import patch_shared
from streamrec.checkpointing.sync import merge_shared
from streamrec.core.arrays import copy_state
from streamrec.model.engine import Engine
from streamrec.serving.store import FieldChanges, SharedReader


class SharedSync:
    """The shared model as of this worker's last sync and how its next write changes it."""

    def __init__(self, engine: Engine, index_log: IndexLogKeeper) -> None:
        self.engine = engine
        self.index_log = index_log
        # the shared model's fields as of the last sync (what Redis holds, when nobody
        # else wrote), its version and the decay bases its item fields may be stored
        # against (codec.follow_bases)
        self.base_fields: dict[str, bytes] = {}
        self.base_state: dict | None = None  # the same, parsed (kept after a merge)
        # a merge reads only the fields the other workers changed (False: the whole hash)
        self.read_changed_only = True
        self.base_version = 0
        self.history: list[list] = []

    def adopt(self, fields: dict[str, bytes], shared: SharedCheckpoint) -> None:
        """Start from a restored model (``fields``: its stored fields, if any)."""
        self.base_version = shared.version
        self.base_fields = model_fields(fields) or split_shared(shared.state, shared.version)
        self.history = shared.history or [[b] for b in decay_bases(shared.state)]

    def settle(self, written: dict) -> None:
        """After the write of what :meth:`build` put in ``written``: that is the base now."""
        if written["merged"] is not None:
            # the next merge starts from it: parsing the fields again took a third of one
            self.base_state = copy_state(written["merged"])
            self.base_fields = written["fields"]  # the merged model's fields alone
        else:
            model = model_fields(written["fields"])
            self.base_fields.update(model)
            patched = None  # with several workers, the copy the next merge patches
            if self.read_changed_only and self.base_state is not None:
                patched = patch_shared(self.base_state, model)
            self.base_state = None if patched is None else patched.state
        self.base_version, self.history = written["version"], written["history"]

    def build(self, shared: SharedReader, written: dict) -> FieldChanges:
        """The shared model's field changes given what is stored (under WATCH: it may run
        again); ``written`` receives the new version and fields, and the merged state."""
        written["builds"] = written.get("builds", 0) + 1
        stored = shared.field(GLOBAL)
        current_blob = stored if stored is not None else shared.legacy()
        current = SharedCheckpoint.from_bytes(current_blob) if current_blob else None
        version = current.version if current is not None else 0
        if current is not None and version != self.base_version:  # another worker wrote
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
            None if stored is None else follow_bases(self.history, bases, decay_half_lives(head))
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
        since = range(self.base_version + 1, version + 1)
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
        theirs = patch_shared(self.base(), fetched, deleted)
        if theirs is None:
            return None
        fields = patched_fields(self.base_fields, fetched, deleted)
        return theirs, fields, len(records) + len(fetched)

    def base(self) -> dict:
        """The stored model as of the last sync: the copy kept, else (after a restore)
        decoded from the fields held."""
        if self.base_state is None:
            self.base_state = join_shared(self.base_fields).state
        return self.base_state

    def _merge(
        self, theirs: SharedCheckpoint, stored: dict[str, bytes], written: dict
    ) -> FieldChanges:
        """Fold this worker's changes since the last sync into ``theirs`` (the stored
        fields ``stored``) and return the fields that differ from them."""
        base = self.base()
        local = self.engine.shared_state(copy=False)  # read, not kept: no (items x dim) copy
        merged = merge_shared(base, local, theirs.state, self.engine.clusterer)
        # the merge keeps theirs' bases, or moves an old one on as a live counter does:
        # fields it leaves as stored stay readable (caught up over the bases' history)
        bases = decay_bases(merged)
        past = theirs.history or [[base] for base in decay_bases(theirs.state)]
        followed = follow_bases(past, bases, decay_half_lives(merged))
        history = followed or [[base] for base in bases]
        # fields equal to theirs as a reader catches them up stay as stored
        former = None if followed is None else caught_up_state(theirs.state, followed)
        rows, neighbours = (
            (
                changed_item_rows(merged, former),
                changed_neighbour_rows(merged["signals"], theirs.state["signals"]),
            )
            if stored and former is not None
            else (None, None)
        )
        fields = split_shared(merged, theirs.version + 1, history, rows, neighbours)
        model, changed, gone = merged_fields(stored, fields, merged)
        written.update(
            version=theirs.version + 1, fields=model, merged=merged, history=history, index_chunks=0
        )
        return changed, sorted(gone + self.index_log.merge_deletions(stored))
