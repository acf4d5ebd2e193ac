"""Merging the shared state of workers: exact for one worker, additive for several."""

import copy

import numpy as np
import pytest

from streamrec.checkpointing.shared_changes import (
    changed_item_rows,
    changed_neighbour_rows,
)
from streamrec.checkpointing.shared_fields import (
    encode_items,
    encode_neighbours,
    split_shared,
)
from streamrec.checkpointing.sync import merge_shared
from streamrec.core.decay import REBASE_AT, DecayedCounts, decay, merged_stored
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.items import ItemStats
from tests.doubles import HashingEmbedder

EMBED = HashingEmbedder(32)
TOPICS = ["bright guitar strings", "warm tube amp tone", "vocal condenser microphone"]


def events(start: int, count: int, users: range) -> list:
    out = []
    for n in range(start, start + count):
        user = f"u{users[n % len(users)]}"
        item = f"i{n % 7}"
        out.append(ClickEvent(event_id=f"c{n}", user_id=user, item_id=item, ts=float(n)))
        out.append(
            ReviewEvent(
                event_id=f"r{n}",
                user_id=user,
                item_id=item,
                text=TOPICS[n % 3],
                rating=4.0,
                ts=float(n),
            )
        )
    return out


def feed(engine: Engine, batch: list) -> None:
    vectors = EMBED.encode([e.text for e in batch if isinstance(e, ReviewEvent)])
    engine.apply(batch, vectors)


def engine() -> Engine:
    return Engine(32, EngineConfig(n_clusters=3, cluster_half_life=50, seed=1))


def test_without_other_writers_the_merge_is_the_local_state() -> None:
    worker = engine()
    feed(worker, events(0, 30, range(5)))
    base = copy.deepcopy(worker.shared_state())
    feed(worker, events(30, 30, range(5)))
    local = worker.shared_state()
    merged = merge_shared(base, local, base, worker.clusterer)
    np.testing.assert_allclose(merged["clusterer"]["sums"], local["clusterer"]["sums"], atol=1e-9)
    np.testing.assert_allclose(merged["items"]["popularity"], local["items"]["popularity"])
    np.testing.assert_allclose(
        merged["items"]["trending"]["stored"]
        * decay(merged["clock"] - merged["items"]["trending"]["t0"], 1000.0),
        worker.items.trending_scores(worker.clock),
        rtol=1e-9,
    )
    assert merged["clock"] == local["clock"]


def test_two_workers_add_up_to_one() -> None:
    single, a, b = engine(), engine(), engine()
    warmup = events(0, 30, range(6))
    for e in (single, a, b):
        feed(e, warmup)
    base = copy.deepcopy(a.shared_state())
    part_a, part_b = events(30, 20, range(0, 3)), events(50, 20, range(3, 6))
    feed(a, part_a)
    feed(b, part_b)
    feed(single, part_a)
    feed(single, part_b)
    after_a = merge_shared(base, a.shared_state(), base, a.clusterer)  # a syncs first
    merged = merge_shared(base, b.shared_state(), after_a, b.clusterer)  # then b
    reference = single.shared_state()
    assert merged["clock"] == reference["clock"]
    np.testing.assert_allclose(merged["items"]["popularity"], reference["items"]["popularity"])
    ids = merged["clusterer"]["ids"].tolist()
    assert ids == reference["clusterer"]["ids"].tolist()
    np.testing.assert_allclose(
        merged["clusterer"]["weights"], reference["clusterer"]["weights"], rtol=1e-6
    )
    np.testing.assert_allclose(
        merged["clusterer"]["centers"], reference["clusterer"]["centers"], atol=1e-6
    )
    counts = dict(
        zip(
            merged["items"]["vectors"]["ids"],
            merged["items"]["vectors"]["counts"].tolist(),
            strict=True,
        )
    )
    assert counts == dict(
        zip(
            reference["items"]["vectors"]["ids"],
            reference["items"]["vectors"]["counts"].tolist(),
            strict=True,
        )
    )


def test_adopting_a_merged_state_keeps_histories_on_the_right_items() -> None:
    a, b = engine(), engine()
    feed(b, events(0, 10, range(2)))  # b knows items in another order
    feed(a, list(reversed(events(0, 3, range(3, 4)))))
    merged = merge_shared(a.shared_state(), a.shared_state(), b.shared_state(), a.clusterer)
    seen_before = {a.items.ids[r] for r in a.profiles.seen_items("u3")}
    a.load_shared(merged)
    assert {a.items.ids[r] for r in a.profiles.seen_items("u3")} == seen_before
    assert a.recommend("user", "u3").item_ids()
    with pytest.raises(ValueError):
        Engine(8).load_shared(merged)


def test_a_shared_state_part_without_a_merge_rule_is_refused() -> None:
    worker = engine()
    feed(worker, events(0, 10, range(3)))
    state = worker.shared_state()
    with pytest.raises(ValueError, match="no merge rule"):
        merge_shared(state, {**state, "new_part": 1}, state, worker.clusterer)


def test_cluster_id_ranges_merge_to_the_furthest_any_worker_got() -> None:
    worker = engine()
    feed(worker, events(0, 10, range(3)))
    base = copy.deepcopy(worker.shared_state())
    theirs = copy.deepcopy(base)
    theirs["id_ranges"] = {"0": 5, "2": 20_004}
    worker.id_ranges = {0: 7, 2: 20_001, 3: 30_000}
    merged = merge_shared(base, worker.shared_state(), theirs, worker.clusterer)
    assert merged["id_ranges"] == {"0": 7, "2": 20_004, "3": 30_000}
    assert "hierarchy" in merged  # this worker's tree, rebuilt after the merge when it differs


def catalogue_events(start: int, users: list[str], items: list[int]) -> list:
    """One click and one review per (user, item) pair, in turn."""
    out = []
    for n, (user, item) in enumerate(zip(users, items, strict=True), start=start):
        out.append(ClickEvent(event_id=f"c{n}", user_id=user, item_id=f"i{item}", ts=float(n)))
        out.append(
            ReviewEvent(
                event_id=f"r{n}",
                user_id=user,
                item_id=f"i{item}",
                text=TOPICS[n % 3],
                rating=4.0,
                ts=float(n),
            )
        )
    return out


def test_a_merge_leaves_what_only_theirs_changed_as_theirs_to_the_bit() -> None:
    mine, theirs = engine(), engine()
    warmup = catalogue_events(0, [f"u{n % 8}" for n in range(60)], list(range(30)) * 2)
    for worker in (mine, theirs):
        feed(worker, warmup)
    base = copy.deepcopy(mine.shared_state())
    mine.mark_items_clean()
    feed(mine, catalogue_events(100, ["u1", "u1", "u2"], [3, 4, 3]))
    feed(theirs, catalogue_events(200, ["u5", "u6", "u6", "u7"], [10, 11, 12, 10]))
    changed_here = {mine.items.ids[row] for row in mine.dirty_items()}
    neighbours_here = {mine.items.ids[row] for row in mine.dirty_neighbours()}
    theirs_state = theirs.shared_state()
    merged = merge_shared(base, mine.shared_state(), theirs_state, mine.clusterer)

    before, after = split_shared(theirs_state, 1), split_shared(merged, 2)
    ids = merged["items"]["vectors"]["ids"]
    assert ids[: len(theirs.items.ids)] == theirs.items.ids  # theirs' rows keep their places
    rewritten = {ids[int(k[1:])] for k in after if k[0] == "i" and before.get(k) != after[k]}
    moved = {ids[int(k[1:])] for k in after if k[0] == "n" and before.get(k) != after[k]}
    assert {"i3", "i4"} <= changed_here
    assert rewritten == changed_here  # only what this worker changed is written again
    # what a merge encodes: the rows that may differ, found without encoding every row
    assert {ids[row] for row in changed_item_rows(merged, theirs_state)} == rewritten
    found = changed_neighbour_rows(merged["signals"], theirs_state["signals"])
    assert {ids[row] for row in found} == moved and moved
    adopted = engine()  # the fields are what a model holding the merged state encodes
    adopted.load_shared(merged)
    every = range(len(ids))
    assert encode_items(adopted.items, adopted.signals, every) == {
        k: v for k, v in after.items() if k.startswith("i")
    }
    assert encode_neighbours(adopted.signals, every) == {
        k: v for k, v in after.items() if k.startswith("n")
    }
    assert moved <= neighbours_here
    assert len(rewritten) < len(ids) // 4


def test_merged_decayed_counts_are_the_decayed_sums_whatever_the_bases() -> None:
    half_life, size = 50.0, 4
    rng = np.random.default_rng(3)
    t_base, t_mine, t_theirs = 1000.0, 1040.0, 1070.0
    t_out = t_theirs + (t_mine - t_base)
    for bases in ((900.0, 900.0, 900.0), (900.0, 1030.0, 900.0), (900.0, 900.0, 1060.0)):
        stored = (rng.uniform(1, 5, size), rng.uniform(20, 30, size), rng.uniform(1, 5, size))
        at = (t_base, t_mine, t_theirs)
        value = [s * decay(t - t0, half_life) for s, t, t0 in zip(stored, at, bases, strict=True)]
        fade = decay(t_mine - t_base, half_life)
        expected = value[2] * fade + value[1] - value[0] * fade
        merged = merged_stored(
            stored, bases, grown=t_theirs - t_base, half_life=half_life, size=size
        )
        assert (expected > 0).all()  # mine's change since base is a gain
        np.testing.assert_allclose(merged * decay(t_out - bases[2], half_life), expected)
    same = rng.uniform(1, 5, size)
    theirs = rng.uniform(1, 5, size)
    kept = merged_stored((same, same, theirs), (9.0, 9.0, 3.0), grown=5, half_life=7.0, size=4)
    assert kept.tobytes() == theirs.tobytes()


@pytest.mark.parametrize("half_life", [5.0, float("inf")])  # inf: keep is 1 everywhere
def test_merged_vector_sums_are_theirs_plus_what_this_worker_added_on_every_row(
    half_life: float,
) -> None:
    """The merge finds this worker's changed sums by their counts, not by comparing rows:
    every row still equals ``theirs * keep + (mine - base * keep)`` (theirs' own bits
    where this worker added nothing)."""
    rng = np.random.default_rng(3)
    mine = ItemStats(8, vector_half_life=half_life)

    def review(stats: ItemStats, item: str) -> None:
        vector = rng.standard_normal(8).astype(np.float32)
        stats.add_text(stats.row(item), vector / np.linalg.norm(vector))

    for n in range(40):
        review(mine, f"i{n % 12}")
    base = copy.deepcopy(mine.state())
    theirs = copy.deepcopy(mine)
    for item in ["i1", "i2", "i2", "t1", "i5"]:  # theirs: overlaps, a new item
        review(theirs, item)
    for item in ["i2", "i3", "m1", "m1", "i5", "i5"]:  # mine: overlaps, a new item
        review(mine, item)
    merged = ItemStats.merge(base, mine.state(), theirs.state(), clocks=(40, 46, 45, 51))

    def by_id(state: dict) -> dict[str, tuple[np.ndarray, int]]:
        vectors = state["vectors"]
        return {
            i: (np.asarray(vectors["sums"][r], dtype=np.float64), int(vectors["counts"][r]))
            for r, i in enumerate(vectors["ids"])
            if i is not None
        }

    b, m, t = by_id(base), by_id(mine.state()), by_id(theirs.state())
    gamma = decay(1.0, half_life)
    zero = (np.zeros(8), 0)
    for row, item in enumerate(merged["vectors"]["ids"]):
        (bs, bc), (ms, mc), (ts, _) = b.get(item, zero), m.get(item, zero), t.get(item, zero)
        got = merged["vectors"]["sums"][row]
        if mc == bc:  # nothing added here: theirs to the bit
            assert np.array_equal(got, ts.astype(np.float32)), item
        else:
            keep = gamma ** (mc - bc)
            assert np.array_equal(got, (ts * keep + (ms - bs * keep)).astype(np.float32)), item
    assert {"i2", "i5", "m1", "t1", "i3", "i1"} <= set(merged["vectors"]["ids"])


def test_two_workers_merging_forever_keep_their_decayed_counts_finite() -> None:
    """Each merge stores the decayed counters against theirs' base; with every write a
    merge, no worker's own rebase ever reached the shared copy, so its base stayed
    where it was and the stored values grew as 2^(clock / half-life) until they
    overflowed (1,024 half-lives: at a 100-event trend, past ~100,000 events). A merge
    now rebases a counter as a live one does (past ``REBASE_AT`` half-lives)."""
    workers = [Engine(32, EngineConfig(n_clusters=3, trending_half_life=1.0, seed=1)) for _ in "ab"]
    feed(workers[0], events(0, 10, range(6)))
    shared = copy.deepcopy(workers[0].shared_state())
    workers[1].load_shared(copy.deepcopy(shared))
    bases = [copy.deepcopy(shared), copy.deepcopy(shared)]
    for round_ in range(24):  # 1,200 events: past 1,024 trending half-lives
        me = round_ % 2
        feed(workers[me], events(100 + 25 * round_, 25, range(me, 6, 2)))
        merged = merge_shared(bases[me], workers[me].shared_state(), shared, workers[me].clusterer)
        workers[me].load_shared(copy.deepcopy(merged))
        shared, bases[me] = merged, copy.deepcopy(merged)
    trending = shared["items"]["trending"]
    clock = shared["clock"]
    assert clock > 1100 * trending["half_life"]
    assert np.isfinite(trending["stored"]).all() and trending["stored"].max() > 0
    assert (clock - trending["t0"]) / trending["half_life"] <= 2 * REBASE_AT
    assert all(np.isfinite(t["stored"]).all() for t in shared["signals"]["trends"])
    # what the values mean is kept: the trending counts of a single worker fed the same
    alone = Engine(32, EngineConfig(n_clusters=3, trending_half_life=1.0, seed=1))
    feed(alone, events(0, 10, range(6)))
    for round_ in range(24):
        feed(alone, events(100 + 25 * round_, 25, range(round_ % 2, 6, 2)))
    np.testing.assert_allclose(
        shared["items"]["trending"]["stored"] * decay(clock - trending["t0"], 1.0),
        alone.items.trending_scores(alone.clock),
        rtol=1e-9,
        atol=1e-300,
    )


def test_rows_left_alone_stay_theirs_to_the_bit_after_this_workers_own_rebase() -> None:
    """This worker's live counter rebased since base (its base moved, every value times
    one rounded factor): the rows it did not change still come out as theirs."""
    half_life = 7.3  # rebase factors that round
    mine = DecayedCounts(half_life, capacity=4)
    mine.add(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]), t=10.0)
    base = copy.deepcopy(mine.state())
    mine.add_one(0, 1.0, t=10.0 + 301 * half_life)  # a rebase, then row 0 changes
    assert mine.t0 != base["t0"]
    theirs = np.random.default_rng(0).uniform(1, 5, 4)
    merged = merged_stored(
        (base["stored"], mine.stored, theirs),
        (base["t0"], mine.t0, base["t0"]),
        grown=3.0,
        half_life=half_life,
        size=4,
    )
    assert merged[1:].tobytes() == theirs[1:].tobytes()
    assert merged[0] > theirs[0]
