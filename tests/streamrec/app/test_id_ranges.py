"""Cluster id ranges: disjoint between workers, continued after a restart."""

import numpy as np

from streamrec.app.worker.commit import ID_RANGE, Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.clustering.factory import ClustererConfig
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine


def worker(owned: set[int], kind: str = "kmeans-dynamic") -> Checkpointer:
    engine = Engine(4, EngineConfig(n_clusters=2, clustering=ClustererConfig(clusterer=kind)))
    progress = Progress(DedupWindow(10), owned=set(owned))
    return Checkpointer("g", 0.0, engine, None, progress, lambda: False)  # type: ignore[arg-type]


def test_workers_hand_out_ids_from_the_range_of_their_lowest_partition() -> None:
    first, second = worker({0, 1}), worker({2, 3})
    for w in (first, second):
        w.claim_id_range()
        w.engine.clusterer.learn(np.eye(4, dtype=np.float32))
    assert first.engine.clusterer.snapshot().ids.tolist() == [0, 1]
    assert second.engine.clusterer.snapshot().ids.tolist() == [2 * ID_RANGE, 2 * ID_RANGE + 1]


def test_a_restarted_worker_continues_its_range_where_the_checkpoint_left_it() -> None:
    before = worker({0, 1})
    before.claim_id_range()
    before.engine.clusterer.learn(np.eye(4, dtype=np.float32))
    before._record_ids()  # what a checkpoint write does first
    shared = before.engine.shared_state()
    assert shared["id_ranges"] == {"0": 2}
    after = worker({0, 1})
    after.engine.load_shared(shared)
    after.claim_id_range()
    assert after.engine.clusterer.next_id == 2  # not a fresh range


def test_a_checkpoint_without_ranges_continues_after_the_ids_in_use() -> None:
    old = worker({0})
    old.engine.clusterer.learn(np.eye(4, dtype=np.float32))  # ids 0, 1 without a range
    state = old.engine.shared_state()
    state.pop("id_ranges")
    restarted = worker({0})
    restarted.engine.load_shared(state)
    restarted.claim_id_range()
    assert restarted.engine.clusterer.next_id == 2
    other = worker({3})
    other.engine.load_shared(state)
    other.claim_id_range()
    assert other.engine.clusterer.next_id == 3 * ID_RANGE


def test_dbstream_takes_part_and_fixed_ids_are_left_alone() -> None:
    density = worker({1}, "dbstream")
    density.claim_id_range()
    assert density.engine.clusterer.next_id == ID_RANGE  # type: ignore[attr-defined]
    river = worker({1}, "river-kmeans")
    river.claim_id_range()  # ids 0..k-1 by construction: nothing to claim
    river.engine.clusterer.learn(np.eye(4))
    assert river.engine.clusterer.snapshot().ids.tolist() == [0, 1]
