"""The patch that reads only the fields a write changed as the whole hash."""

from __future__ import annotations

import copy

import numpy as np

from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    decay_bases,
    encode_global,
    encode_items,
    encode_neighbours,
    join_shared,
    neighbour_field,
)
from streamrec.checkpointing.shared_patch import patch_shared
from tests.states import apply, assert_same_state, batch
from tests.streamrec.checkpointing.test_shared_fields import engine_fields, fed


def test_patching_the_fields_a_write_changed_reads_as_the_whole_hash() -> None:
    engine = fed(4, seed=5)
    before = engine_fields(engine, 1)
    state = join_shared(before).state
    engine.mark_items_clean()
    rng = np.random.default_rng(11)
    for b in range(2):  # new items and neighbour rows among the old
        apply(engine, batch(rng, 8, users=40, items=100, start=2000 + b * 8))
    head = engine.shared_state(per_item=False)
    written = {
        GLOBAL: encode_global(head, 2, [[base] for base in decay_bases(head)]),
        **encode_items(engine.items, engine.signals, engine.dirty_items()),
        **encode_neighbours(engine.signals, engine.dirty_neighbours()),
    }
    assert len(engine.items.ids) > len(state["items"]["vectors"]["ids"])
    assert len(written) < len({**before, **written})  # not every field of the hash
    kept = copy.deepcopy(state)
    patched = patch_shared(state, written)
    assert patched is not None and patched.version == 2
    assert_same_state(patched.state, join_shared({**before, **written}).state)
    assert_same_state(state, kept)  # the state patched from is left as it was


def test_a_patch_drops_deleted_neighbour_rows_and_refuses_moved_bases() -> None:
    engine = fed(4, seed=5)
    fields = engine_fields(engine, 1)
    state = join_shared(fields).state
    row = int(np.asarray(state["signals"]["co"]["rows"])[-1])  # the last place: none move
    gone = {k: v for k, v in fields.items() if k != neighbour_field(row)}
    patched = patch_shared(state, {GLOBAL: fields[GLOBAL]}, [neighbour_field(row)])
    assert patched is not None
    assert_same_state(patched.state, join_shared(gone).state)
    head = engine.shared_state(per_item=False)
    head["items"]["trending"]["t0"] += 1.0  # a rebase since: unchanged fields are stale
    moved = encode_global(head, 2, [[base] for base in decay_bases(head)])
    assert patch_shared(state, {GLOBAL: moved}) is None
