"""What changed between two shared states: the rows a merge encodes, the change
records."""

from __future__ import annotations

import copy

import numpy as np

from streamrec.checkpointing.shared_changes import (
    changed_item_rows,
    changed_neighbour_rows,
    changes_since,
    encode_changes,
)
from streamrec.checkpointing.shared_fields import (
    item_field,
    neighbour_field,
    split_shared,
)
from tests.states import apply, batch
from tests.streamrec.checkpointing.test_shared_fields import changed_items, fed


def test_the_rows_found_changed_are_the_item_fields_that_differ() -> None:
    engine = fed(6, seed=2)
    before = engine.shared_state()
    rng = np.random.default_rng(9)
    for b in range(3):  # new items, engagement, clusters born and merged along the way
        apply(engine, batch(rng, 30, users=40, items=120, start=1000 + b * 30))
    after = engine.shared_state()
    assert len(after["items"]["vectors"]["ids"]) > len(before["items"]["vectors"]["ids"])
    differ = changed_items(split_shared(before, 1), split_shared(after, 1))
    found = {item_field(r) for r in changed_item_rows(after, before).tolist()}
    assert found == {k for k in differ if k.startswith("i")}
    assert changed_item_rows(after, after).size == 0
    rows = changed_neighbour_rows(after["signals"], before["signals"]).tolist()
    assert {neighbour_field(r) for r in rows} == {k for k in differ if k.startswith("n")}
    assert changed_neighbour_rows(after["signals"], after["signals"]).size == 0


def test_a_neighbour_row_that_moves_or_changes_a_cell_is_found() -> None:
    state = fed(6, seed=2).shared_state()["signals"]
    co = state["co"]
    rows = np.asarray(co["rows"])
    first, second = int(rows[0]), int(rows[np.flatnonzero(rows != rows[0])[0]])
    changed = copy.deepcopy(state)
    changed["co"]["values"][np.flatnonzero(rows == second)[-1]] += 1.0
    assert changed_neighbour_rows(changed, state).tolist() == [second]
    dropped = copy.deepcopy(state)
    keep = rows != first  # the first row goes: every later row moves up one place
    for key in ("rows", "cols", "values"):
        dropped["co"][key] = np.asarray(co[key])[keep]
    moved = set(changed_neighbour_rows(dropped, state).tolist())
    assert moved == set(np.unique(rows).tolist())


def test_a_change_in_any_per_item_value_marks_its_row_alone() -> None:
    state = fed(6, seed=2).shared_state()
    items, signals = state["items"], state["signals"]
    engaged = int(np.flatnonzero(np.asarray(items["engagement"]["stored"]).any(axis=0))[0])
    edits = {
        "sums": lambda s, r: s["items"]["vectors"]["sums"][r].__setitem__(0, 9.0),
        "counts": lambda s, r: s["items"]["vectors"]["counts"].__setitem__(r, 99),
        "last_ts": lambda s, r: s["items"]["vectors"]["last_ts"].__setitem__(r, 1e9),
        "popularity": lambda s, r: s["items"]["popularity"].__setitem__(r, 7.5),
        "trending": lambda s, r: s["items"]["trending"]["stored"].__setitem__(r, 3.25),
        "engagement": lambda s, r: s["items"]["engagement"]["stored"].__setitem__((0, r), 0.0),
        "count": lambda s, r: s["signals"]["count"].__setitem__(r, 42.0),
        "first_seen": lambda s, r: s["signals"]["first_seen"].__setitem__(r, 1.0),
        "last_seen": lambda s, r: s["signals"]["last_seen"].__setitem__(r, 5e5),
        "trend": lambda s, r: s["signals"]["trends"][-1]["stored"].__setitem__(r, 8.0),
    }
    assert len(items["vectors"]["ids"]) > 3 and signals["trends"]
    for name, edit in edits.items():
        changed = copy.deepcopy(state)
        row = engaged if name == "engagement" else 3
        edit(changed, row)
        assert changed_item_rows(changed, state).tolist() == [row], name
    renamed = copy.deepcopy(state)
    renamed["items"]["vectors"]["ids"][2] = "another"
    assert changed_item_rows(renamed, state).tolist() == [2]


def test_change_records_keep_each_fields_last_change() -> None:
    records = [
        encode_changes(["i1", "n1"], []),
        encode_changes(["i2"], ["n1"]),
        encode_changes(["n1"], ["a:x:0"]),
    ]
    assert changes_since(records) == ({"i1", "i2", "n1"}, {"a:x:0"})
    assert changes_since(records[:2]) == ({"i1", "i2"}, {"n1"})
