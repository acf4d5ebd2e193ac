"""Merging the shared state of workers: exact for one worker, additive for several."""

import copy

import numpy as np
import pytest

from streamrec.checkpointing.sync import merge_shared
from streamrec.core.decay import decay
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
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
