"""The shared model's hash on the real Redis: a checkpoint writes the global field and
the items changed since the last one, a worker restored from it equals one that never
stopped, a model of the former one-value layout is taken over, and two workers still
merge their changes."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pytest

from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing import index_log
from streamrec.checkpointing.codec import SharedCheckpoint
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.checkpointing.shared_changes import (
    change_field,
    changes_since,
)
from streamrec.checkpointing.shared_fields import (
    GLOBAL,
    item_field,
    join_shared,
    neighbour_field,
)
from streamrec.checkpointing.sync import merge_shared
from streamrec.core.decay import REBASE_AT
from streamrec.core.events import ClickEvent
from streamrec.model.engine import Engine
from streamrec.model.item_index import IndexOp
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, SharedReader, connect
from tests.states import DIM, apply, assert_same_state, batch, config

pytestmark = pytest.mark.integration
PARTITIONS = {0, 1}


@pytest.fixture
def store(settings) -> RecsStore:  # type: ignore[no-untyped-def]
    return RecsStore(connect(settings), RedisKeys(settings.redis_prefix))


@pytest.fixture
def two_stores(settings) -> Iterator[list[RecsStore]]:  # type: ignore[no-untyped-def]
    """Two stores on the real Redis under prefixes of their own, emptied after."""
    client = connect(settings)
    stores = [RecsStore(client, RedisKeys(f"{settings.redis_prefix}-{n}")) for n in (0, 1)]
    yield stores
    for store in stores:
        for key in client.scan_iter(store.keys.pattern()):
            client.delete(key)


def worker(store: RecsStore, instance: str | None = None, **overrides: object) -> Checkpointer:
    """A worker of group ``g`` owning both partitions, restored from what Redis holds."""
    engine = Engine(DIM, config(**overrides))
    progress = Progress(DedupWindow(100), owned=set(PARTITIONS))
    checkpoints = Checkpointer("g", 0.0, engine, store, progress, bool, instance)
    checkpoints.restore()
    for number in PARTITIONS:
        checkpoints.load_partition(number)
    return checkpoints


def feed(engine: Engine, batches: int, seed: int, start: int) -> None:
    rng = np.random.default_rng(seed)
    for b in range(batches):
        apply(engine, batch(rng, 30, users=40, items=80, start=start + b * 30))


def clicks(pairs: list[tuple[str, str]], start: int) -> list[ClickEvent]:
    return [
        ClickEvent(event_id=f"k{start + n}", user_id=user, item_id=item, ts=float(start + n))
        for n, (user, item) in enumerate(pairs)
    ]


def stored(store: RecsStore) -> dict[str, bytes]:
    return store.load_shared_fields("g")


def assert_same_worker(got: Engine, expected: Engine) -> None:
    assert_same_state(got.shared_state(), expected.shared_state())
    for user in ("u1", "u2", "u3"):
        assert got.recommend("user", user) == expected.recommend("user", user)


def test_a_checkpoint_writes_the_global_field_and_only_the_items_touched(store) -> None:  # type: ignore[no-untyped-def]
    writer = worker(store)
    engine = writer.engine
    feed(engine, 8, seed=0, start=0)
    writer.write()
    n_items = engine.items.n_items
    assert writer.last_write["items"] == n_items > 60
    first, before = writer.last_write["shared_bytes"], stored(store)
    # the global field, the items, their neighbour rows and the record of this write
    assert len(before) == 1 + n_items + writer.last_write["neighbours"] + 1
    assert changes_since([before[change_field(1)]])[0] == set(before) - {change_field(1)}

    # new users: n1's two items now co-occur, n2's item is alone
    apply(engine, clicks([("n1", "i1"), ("n1", "i2"), ("n2", "i3")], 5000))
    writer.write()
    rows = engine.items.vectors.index
    touched = {item_field(rows[i]) for i in ("i1", "i2", "i3")}
    touched |= {neighbour_field(rows[i]) for i in ("i1", "i2")}
    after = stored(store)
    record = change_field(2)
    assert {k for k in after if after[k] != before.get(k)} == {GLOBAL, *touched, record}
    assert changes_since([after[record]]) == ({GLOBAL, *touched}, set())
    assert (writer.last_write["items"], writer.last_write["neighbours"]) == (3, 2)
    written = sum(len(k) + len(after[k]) for k in (GLOBAL, *touched, record))
    assert writer.last_write["shared_bytes"] == written < first / 3

    feed(engine, 2, seed=1, start=6000)  # checkpoints keep following the model
    writer.write()
    assert_same_worker(worker(store).engine, engine)


def test_a_restored_worker_goes_on_as_the_one_that_never_stopped(store) -> None:  # type: ignore[no-untyped-def]
    steady = Engine(DIM, config())
    writer = worker(store)
    for round_ in range(3):  # the first writer stops after each round; a new one restores
        feed(steady, 3, seed=round_, start=round_ * 1000)
        feed(writer.engine, 3, seed=round_, start=round_ * 1000)
        writer.write()
        writer = worker(store)
        assert_same_worker(writer.engine, steady)


ANN = {"candidates": 8, "ann_exact_below": 20}  # two-stage lists over an HNSW index
EMPTY_INSERTS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, DIM), np.float32))


def feed_and_serve(engine: Engine, batches: int, seed: int, start: int) -> dict:
    """Traffic with lists served between batches (each list queries the index)."""
    rng = np.random.default_rng(seed)
    served = {}
    for b in range(batches):
        apply(engine, batch(rng, 30, users=40, items=300, start=start + b * 30))
        for user in [f"u{n}" for n in range(0, 40, 3)]:
            if engine.knows_user(user):
                served[user] = engine.recommend("user", user).item_ids()
    return served


def nearest(engine: Engine) -> list[list[int]]:
    vectors = engine.items.unit_matrix()[::7]
    return [engine.candidates.index.nearest(engine.items, v, 12).tolist() for v in vectors]


def test_a_restored_worker_replays_its_index_log_to_the_same_graph(store) -> None:  # type: ignore[no-untyped-def]
    steady = Engine(DIM, config(**ANN))
    writer = worker(store, "w0", **ANN)
    for round_ in range(3):  # the writer stops after each round; a new one restores
        expected = feed_and_serve(steady, 3, seed=round_, start=round_ * 1000)
        assert feed_and_serve(writer.engine, 3, seed=round_, start=round_ * 1000) == expected
        writer.write()
        assert writer.last_write["index_bytes"] > 0
        writer = worker(store, "w0", **ANN)
        assert writer.engine.candidates.index.built
        assert nearest(writer.engine) == nearest(steady)
        assert_same_worker(writer.engine, steady)
    assert steady.candidates.index.built and steady.items.n_items > 200
    names = set(stored(store))
    assert {"a:w0", "a:w0:0", "a:w0:2"} <= names
    assert not any(n.startswith(("i", "n")) and ":" in n for n in names)  # no clash
    rebuilt = worker(store, **ANN)  # no instance id: no log, the graph is built anew
    assert not rebuilt.engine.candidates.index.built

    # a log that cannot be replayed (here: a deletion of a label never inserted) is
    # dropped with a warning and the graph rebuilt, never a crash
    bad = index_log.encode_log("w0", 0, [IndexOp(np.array([7 << 32]), *EMPTY_INSERTS)])
    store.client.hset(store.keys.shared_checkpoint("g"), mapping=bad)  # type: ignore[attr-defined]
    broken = worker(store, "w0", **ANN)
    assert not broken.engine.candidates.index.built
    assert broken.index_log.chunks == 0 and "a:w0:2" in broken.index_log.fields()[1]


def test_a_merge_keeps_the_index_and_moves_rows_that_hold_other_items(store) -> None:  # type: ignore[no-untyped-def]
    first, second = worker(store, "w0", **ANN), worker(store, "w1", **ANN)
    feed_and_serve(first.engine, 3, seed=0, start=0)
    first.write()
    feed_and_serve(second.engine, 3, seed=1, start=1000)  # items in another order
    index = second.engine.candidates.index
    before = list(second.engine.items.ids)
    second.write()  # merged: the layout starts with the first worker's items
    assert second.merges == 1 and second.engine.candidates.index is index
    after = list(second.engine.items.ids)
    assert sum(a != b for a, b in zip(before, after, strict=False)) > 10
    unit = second.engine.items.unit_matrix()
    with_text = np.flatnonzero(np.abs(unit).sum(axis=1) > 0)
    for row in with_text.tolist():  # each item finds itself at its new row
        assert row in index.nearest(second.engine.items, unit[row], 3).tolist()
    names = set(stored(store))
    assert "a:w0" in names and not any(n.startswith("a:w1") for n in names)
    assert index.drain() == [] and not index.keep_log  # after a merge: no log
    feed_and_serve(second.engine, 1, seed=2, start=2000)
    second.write()
    assert not any(n.startswith("a:w1") for n in stored(store))


def test_items_not_written_since_a_rebase_are_restored_to_the_bit(store) -> None:  # type: ignore[no-untyped-def]
    writer = worker(store, trending_half_life=1.0)  # the trending base moves every 301 events
    feed(writer.engine, 4, seed=0, start=0)
    writer.write()
    for round_ in range(3):  # one rebase of every item's trending count per round
        new_users = [(f"n{1000 * round_ + k}", "i0") for k in range(320)]
        apply(writer.engine, clicks(new_users, 5000 + 1000 * round_))
        writer.write()
        assert writer.last_write["items"] == 1  # i0 only: the others are caught up
        assert_same_worker(worker(store, trending_half_life=1.0).engine, writer.engine)
    apply(writer.engine, clicks([(f"m{k}", "i0") for k in range(700)], 9000))
    writer.write()  # two rebases since the last checkpoint: the base in between is lost
    assert writer.last_write["items"] == writer.engine.items.n_items
    assert_same_worker(worker(store, trending_half_life=1.0).engine, writer.engine)


def test_a_shared_model_of_the_former_layout_is_taken_over(store) -> None:  # type: ignore[no-untyped-def]
    old = Engine(DIM, config())
    feed(old, 4, seed=0, start=0)
    store.client.set(store.keys.checkpoint("g"), SharedCheckpoint(old.shared_state(), 4).to_bytes())
    writer = worker(store)
    assert_same_state(writer.engine.shared_state(), old.shared_state())
    writer.write()
    assert store.load_checkpoint("g") is None  # moved into the hash, in the same EXEC
    back = join_shared(stored(store))
    assert back.version == 5 and writer.last_write["items"] == old.items.n_items
    assert_same_state(back.state, old.shared_state())


def test_two_workers_merge_their_changes_through_the_hash(store) -> None:  # type: ignore[no-untyped-def]
    first, second = worker(store), worker(store)
    base = copy.deepcopy(second.engine.shared_state())
    feed(first.engine, 3, seed=0, start=0)
    first.write()
    feed(second.engine, 3, seed=1, start=1000)
    expected = merge_shared(
        base, second.engine.shared_state(), first.engine.shared_state(), second.engine.clusterer
    )
    second.write()  # another worker wrote since its base: the whole model is merged
    assert (first.merges, second.merges) == (0, 1)
    assert_same_state(join_shared(stored(store)).state, expected)
    assert_same_state(second.engine.shared_state(), worker(store).engine.shared_state())

    apply(first.engine, clicks([("n1", "i1")], 5000))
    first.write()  # first folds in second's changes: both now count every event
    assert first.merges == 1
    total = first.engine.signals.count.sum()
    assert total == join_shared(stored(store)).state["signals"]["count"].sum()
    assert first.engine.clock == 2 * 3 * 60 + 1


def test_a_merge_writes_only_the_items_this_worker_changed(store) -> None:  # type: ignore[no-untyped-def]
    seeder = worker(store)
    feed(seeder.engine, 3, seed=0, start=0)
    seeder.write()
    first, second = worker(store), worker(store)
    apply(first.engine, clicks([("u1", "i1"), ("u2", "i2")], 5000))
    first.write()
    apply(second.engine, clicks([("u3", "i5"), ("u4", "i5")], 6000))
    touched = {second.engine.items.ids[r] for r in second.engine.dirty_items()}
    neighbours = {second.engine.items.ids[r] for r in second.engine.dirty_neighbours()}
    before = stored(store)
    second.write()  # first wrote since second's base: a merge
    after = stored(store)
    assert second.merges == 1
    ids = join_shared(after).state["items"]["vectors"]["ids"]
    rewritten = {k for k in after if before.get(k) != after[k]}
    items = {ids[int(k[1:])] for k in rewritten if k.startswith("i")}
    rows = {ids[int(k[1:])] for k in rewritten if k.startswith("n")}
    assert "i5" in items and items == touched  # not every item of the catalogue
    assert rows <= neighbours
    assert len(items) + len(rows) < len(ids) // 4
    assert second.last_write["items"] == len(items)
    restored = worker(store).engine  # its users u1 and u2 are first's: compare second's
    assert_same_state(restored.shared_state(), second.engine.shared_state())
    for user in ("u3", "u4"):
        assert restored.recommend("user", user) == second.engine.recommend("user", user)


def test_a_merge_reading_only_the_changed_fields_equals_one_reading_all(two_stores) -> None:  # type: ignore[no-untyped-def]
    """Every merge of ``second`` reads only the changed fields, the first one after its
    restore too (its copy is decoded from the fields the restore read)."""
    reads: dict[bool, list[int]] = {False: [], True: []}

    def alternate(store: RecsStore, whole: bool) -> tuple[Checkpointer, Checkpointer]:
        seeder = worker(store)
        feed(seeder.engine, 2, seed=0, start=0)
        seeder.write()
        first, second = worker(store), worker(store)
        for one in (first, second):  # whole: every merge reads and decodes the whole hash
            one.sync.read_changed_only = not whole
        for round_ in range(3):
            rng = np.random.default_rng(10 + round_)  # a few reviews and clicks
            apply(first.engine, batch(rng, 3, users=40, items=80, start=1000 + 100 * round_))
            first.write()
            apply(second.engine, clicks([("u3", f"i{round_}"), ("u9", "i50")], 5000 + round_))
            second.write()
            reads[whole].append(second.last_write["fields_read"])
        return first, second

    changed, whole = alternate(two_stores[0], whole=False), alternate(two_stores[1], whole=True)
    assert [w.merges for w in changed] == [w.merges for w in whole] == [2, 3]
    n_fields = len(stored(two_stores[0]))
    assert 0 < max(reads[False]) < n_fields // 4 < n_fields // 2 < min(reads[True])
    assert_same_state(
        join_shared(stored(two_stores[0])).state, join_shared(stored(two_stores[1])).state
    )
    for a, b in zip(changed, whole, strict=True):
        assert_same_state(a.engine.shared_state(), b.engine.shared_state())


def test_a_write_between_a_merges_reads_sends_it_back_to_read_again(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Change records and the fields they name come in two reads: a write in between
    would patch the copy with fields of a later version than its global field (here
    neighbour cells past its catalogue). The merge reads again instead."""
    first, second = worker(store), worker(store)
    for one in (first, second):
        one.sync.read_changed_only = True
    first.lease_wait_s = 0.0  # it writes while second holds the lease (one thread: no wait)
    for round_ in range(2):  # both merged once: both keep a copy to patch
        feed(first.engine, 1, seed=round_, start=100 * round_)
        first.write()
        feed(second.engine, 1, seed=10 + round_, start=5000 + 100 * round_)
        second.write()
    assert second.sync.base_state is not None
    feed(first.engine, 1, seed=20, start=300)
    first.write()
    feed(second.engine, 1, seed=21, start=6000)
    read = SharedReader.fields_named
    raced: list[int] = []

    def field_values_after_a_write(self, names, unchanged=None):  # type: ignore[no-untyped-def]
        if not raced and names and not names[0].startswith("c"):
            rng = np.random.default_rng(22)  # new items, neighbour rows that hold them
            apply(first.engine, batch(rng, 20, users=40, items=200, start=400))
            first.write()
            raced.append(first.sync.base_version)
        return read(self, names, unchanged)

    monkeypatch.setattr(SharedReader, "fields_named", field_values_after_a_write)
    second.write()
    monkeypatch.undo()
    assert raced and second.sync.base_version == raced[0] + 1
    assert_same_state(second.sync.base_state, join_shared(stored(store)).state)
    assert_same_state(second.engine.shared_state(), worker(store).engine.shared_state())


def test_merges_that_move_a_decay_base_write_and_read_only_what_changed(two_stores) -> None:  # type: ignore[no-untyped-def]
    """Two workers whose every write but the first is a merge, far past 1,024 trending
    half-lives: the merges move the trending base on (nothing overflows), each still
    writes only the item its worker clicked, and the other worker's next merge catches
    its copy up over the bases' history instead of reading the whole hash; reading
    only the changed fields gives what reading every field gives. The half-life is not a
    power of two's divisor of the clock steps, so rebase factors round."""
    reads: dict[bool, list[int]] = {False: [], True: []}
    written: list[int] = []

    def alternate(store: RecsStore, whole: bool) -> tuple[Checkpointer, Checkpointer]:
        seeder = worker(store, trending_half_life=1.37)
        feed(seeder.engine, 2, seed=0, start=0)
        seeder.write()
        first, second = (worker(store, trending_half_life=1.37) for _ in range(2))
        for one in (first, second):
            one.sync.read_changed_only = not whole
        for round_ in range(8):  # 240 clicks a round: the base moves every other round
            for n, one in enumerate((first, second)):
                users = [
                    (f"w{100_000 * (n + 1) + 1000 * round_ + k}", f"i{n + 1}") for k in range(120)
                ]
                apply(one.engine, clicks(users, 10_000 * (n + 1) + 1000 * round_))
                one.write()
                if one.merges:
                    reads[whole].append(one.last_write["fields_read"])
                    if not whole:
                        written.append(one.last_write["items"])
        return first, second

    changed, whole = alternate(two_stores[0], whole=False), alternate(two_stores[1], whole=True)
    assert [w.merges for w in changed] == [w.merges for w in whole] == [7, 8]
    state = join_shared(stored(two_stores[0])).state
    trending, clock = state["items"]["trending"], state["clock"]
    assert clock > 1024 + 2 * REBASE_AT  # the stored values overflow past 1,024 half-lives
    assert 0 < clock - trending["t0"] <= 2 * REBASE_AT
    assert np.isfinite(trending["stored"]).all()
    n_items = len(state["items"]["vectors"]["ids"])
    assert max(written) <= 2 < n_items // 4  # its clicked item (and at most one more)
    n_fields = len(stored(two_stores[0]))
    assert 0 < max(reads[False]) < n_fields // 4 < n_fields // 2 < min(reads[True])
    assert_same_state(state, join_shared(stored(two_stores[1])).state)
    for a, b in zip(changed, whole, strict=True):
        assert_same_state(a.engine.shared_state(), b.engine.shared_state())
