"""The shared model field by field: a global field and one field per item round-trip
to the same state, and the engine marks dirty exactly the items whose field changed."""

from __future__ import annotations

import numpy as np

from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    REBASES_KEPT,
    decay_bases,
    decay_half_lives,
    encode_global,
    encode_items,
    encode_neighbours,
    follow_bases,
    item_field,
    item_fields,
    join_shared,
    neighbour_field,
    split_shared,
)
from streamrec.clustering.base import LifecycleEvent
from streamrec.core.events import ClickEvent
from streamrec.model.engine import Engine
from streamrec.model.items import ItemStats
from tests.states import DIM, apply, assert_same_state, batch, config


def fed(batches: int, seed: int = 0, **overrides: object) -> Engine:
    engine = Engine(DIM, config(**overrides))
    rng = np.random.default_rng(seed)
    for b in range(batches):
        apply(engine, batch(rng, 30, users=40, items=80, start=b * 30))
    return engine


def engine_fields(engine: Engine, version: int) -> dict[str, bytes]:
    """What a checkpoint writes when every item is written (read off the live engine)."""
    rows, head = range(engine.items.n_items), engine.shared_state(per_item=False)
    return {
        GLOBAL: encode_global(head, version, [[base] for base in decay_bases(head)]),
        **encode_items(engine.items, engine.signals, rows),
        **encode_neighbours(engine.signals, rows),
    }


def dirty_fields(engine: Engine) -> set[str]:
    """The item and neighbour fields the engine says changed."""
    return {item_field(r) for r in engine.dirty_items()} | {
        neighbour_field(r) for r in engine.dirty_neighbours()
    }


def changed_items(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {k for k, v in after.items() if k != GLOBAL and before.get(k) != v}


def test_fields_round_trip_to_the_same_state_in_any_order() -> None:
    engine = fed(20)
    assert len(engine.items.cluster_rows) > 1 and engine.signals.co.rows  # all parts used
    state = engine.shared_state()
    fields = split_shared(state, version=5)
    with_neighbours = sum(k.startswith("n") for k in fields)
    assert len(fields) == 1 + engine.items.n_items + with_neighbours and with_neighbours > 10
    back = join_shared(dict(reversed(list(fields.items()))))
    assert back.version == 5
    assert_same_state(back.state, state)
    assert engine_fields(engine, 5) == fields  # the live engine encodes the same bytes


def test_a_restored_engine_continues_as_the_original() -> None:
    engine = fed(10)
    copy = Engine(DIM, config())
    copy.load_shared(join_shared(split_shared(engine.shared_state(), 1)).state)
    copy.absorb_users(engine.export_users())
    rng = np.random.default_rng(9)
    for b in range(5):
        events = batch(rng, 30, users=40, items=90, start=1000 + b * 30)
        apply(engine, events)
        apply(copy, events)
    assert_same_state(copy.shared_state(), engine.shared_state())


def test_only_the_items_engaged_with_and_the_engaging_users_history_are_dirty() -> None:
    engine = Engine(DIM, config())
    apply(
        engine, [ClickEvent(event_id=f"e{n}", user_id="u1", item_id=f"i{n}", ts=n) for n in (1, 2)]
    )
    apply(engine, [ClickEvent(event_id="e9", user_id="u3", item_id="i9", ts=3)])
    engine.mark_items_clean()
    rows = engine.items.vectors.index
    apply(engine, [ClickEvent(event_id="e3", user_id="u5", item_id="i3", ts=4)])
    assert engine.dirty_items() == {rows["i3"]}  # a new user: no co-occurrence
    assert engine.dirty_neighbours() == set()
    apply(engine, [ClickEvent(event_id="e4", user_id="u1", item_id="i4", ts=5)])
    assert engine.dirty_items() == {rows["i3"], rows["i4"]}
    # i4 co-occurs with u1's items i1 and i2: their neighbour rows change, not their stats
    assert engine.dirty_neighbours() == {rows[i] for i in ("i1", "i2", "i4")}
    engine.mark_items_clean()
    assert engine.dirty_items() == engine.dirty_neighbours() == set()


def test_the_dirty_items_are_exactly_those_whose_field_changed() -> None:
    engine = fed(5)
    rng = np.random.default_rng(3)
    lifecycle = 0
    for b in range(25):
        before = engine_fields(engine, 1)
        engine.mark_items_clean()
        out = apply(engine, batch(rng, 12, users=60, items=120, start=5000 + b * 12))
        lifecycle += sum(event.kind == "split" for event in out.lifecycle)
        assert dirty_fields(engine) == changed_items(before, engine_fields(engine, 1)), b
        assert decay_bases(engine.shared_state()) == decay_bases(join_shared(before).state)
    assert lifecycle > 0  # clusters split along the way: engagement rows moved


def test_merged_dead_and_reused_cluster_rows_dirty_the_items_counted_in_them() -> None:
    items = ItemStats(dim=2)
    for item, cluster in [("a", 1), ("b", 2), ("c", 2), ("d", 3)]:
        items.engage(items.row(item), 1.0, cluster, clock=0)
    rows = items.vectors.index
    items.dirty.clear()
    items.apply_lifecycle(LifecycleEvent("merged", 2, step=1, related=(1,)))
    assert items.dirty == {rows["b"], rows["c"]}  # moved into cluster 1's row
    items.dirty.clear()
    items.apply_lifecycle(LifecycleEvent("died", 3, step=2))
    assert items.dirty == set()  # its row is freed, its counts stay until reused
    items.engage(items.row("e"), 1.0, 4, clock=3)  # cluster 4 reuses a freed row
    freed = {rows["d"]} if items.cluster_rows[4] == 2 else {rows["b"], rows["c"]}
    assert items.dirty == {rows["e"]} | (freed - {rows["e"]})
    items.dirty.clear()
    items.apply_lifecycle(LifecycleEvent("split", 5, step=4, related=(1,)))
    assert items.dirty == {rows["a"], rows["b"], rows["c"]}  # half of cluster 1's counts


def new_users_on(item: str, users: int, start: int) -> list[ClickEvent]:
    """Clicks of ``users`` new users on one item: only its field (no co-occurrence)."""
    ids = range(start, start + users)
    return [ClickEvent(event_id=f"n{k}", user_id=f"n{k}", item_id=item, ts=k) for k in ids]


def test_items_untouched_since_rebases_are_caught_up_to_the_bit() -> None:
    engine = fed(4, trending_half_life=1.0)  # the trending base moves every 301 events
    fields, head = engine_fields(engine, 1), engine.shared_state(per_item=False)
    history, half_lives = [[base] for base in decay_bases(head)], decay_half_lives(head)
    for round_ in range(3):  # one rebase per round, a delta checkpoint after each
        engine.mark_items_clean()
        before = engine_fields(engine, 1)
        apply(engine, new_users_on("i0", 320, start=10_000 * (round_ + 1)))
        assert engine.dirty_items() == {engine.items.vectors.index["i0"]}
        assert changed_items(before, engine_fields(engine, 1)) - dirty_fields(engine)  # moved
        head = engine.shared_state(per_item=False)
        history = follow_bases(history, decay_bases(head), half_lives)  # type: ignore[assignment]
        assert history is not None and len(history[0]) == round_ + 2
        fields[GLOBAL] = encode_global(head, 1, history)
        fields.update(encode_items(engine.items, engine.signals, engine.dirty_items()))
        assert_same_state(join_shared(fields).state, engine.shared_state())


def test_signal_trends_of_untouched_items_are_caught_up_to_the_bit() -> None:
    engine = fed(3)
    fields, head = engine_fields(engine, 1), engine.shared_state(per_item=False)
    history, half_lives = [[base] for base in decay_bases(head)], decay_half_lives(head)
    engine.mark_items_clean()
    row = engine.items.vectors.index["i0"]
    for _ in range(30_100):  # the 100-engagement trend rebases once (300 half-lives)
        engine.signals.observe(row, np.zeros(0, dtype=np.int32))
    head = engine.shared_state(per_item=False)
    history = follow_bases(history, decay_bases(head), half_lives)  # type: ignore[assignment]
    assert history is not None and [len(past) for past in history] == [1, 1, 2, 1, 1, 1]
    assert engine.dirty_items() == {row}
    fields[GLOBAL] = encode_global(head, 1, history)
    fields.update(encode_items(engine.items, engine.signals, engine.dirty_items()))
    assert_same_state(join_shared(fields).state, engine.shared_state())


def test_bases_are_followed_one_rebase_at_a_time_and_only_so_far() -> None:
    half_lives = [1.0, 10.0]
    assert follow_bases([[0.0], [0.0]], [0.0, 0.0], half_lives) == [[0.0], [0.0]]
    assert follow_bases([[0.0], [0.0]], [301, 0.0], half_lives) == [[0.0, 301], [0.0]]
    assert follow_bases([[0.0], [0.0]], [602, 0.0], half_lives) is None  # two rebases?
    assert follow_bases([[0.0], [0.0]], [0.0, 3001], half_lives) == [[0.0], [0.0, 3001]]
    assert follow_bases([[5.0], [0.0]], [1.0, 0.0], half_lives) is None  # moved back
    full = [float(n) for n in range(REBASES_KEPT)]
    assert follow_bases([full, [0.0]], [full[-1] + 1, 0.0], half_lives) is None


def test_item_fields_are_the_item_field_of_each_row_however_often_they_are_asked_for() -> None:
    first = item_fields(5)
    assert first == [item_field(r) for r in range(5)]
    first.append("x")  # a copy: the names made once stay as they are
    assert item_fields(12) == [item_field(r) for r in range(12)]
    assert item_fields(3) == ["i0", "i1", "i2"]
