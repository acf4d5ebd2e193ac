"""The HNSW index's log: replaying what checkpoints drained rebuilds the same graph."""

from __future__ import annotations

import numpy as np

from streamrec.model.item_index import ItemIndex
from streamrec.model.items import ItemStats

DIM = 24


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _review(items: ItemStats, rng: np.random.Generator, n_items: int, reviews: int) -> None:
    """Reviews of Zipf-popular items: new items arrive, popular ones change vectors."""
    p = np.arange(1, n_items + 1, dtype=np.float64) ** -1.1
    for item in rng.choice(n_items, reviews, p=p / p.sum()).tolist():
        items.add_text(items.row(f"i{item}"), _unit(rng, 1)[0])


def _answers(index: ItemIndex, items: ItemStats, queries: np.ndarray) -> list[list[int]]:
    return [sorted(index.nearest(items, q, 30).tolist()) for q in queries]


def test_replaying_the_drained_log_answers_as_the_index_that_never_stopped() -> None:
    rng, queries = np.random.default_rng(3), _unit(np.random.default_rng(4), 40)
    items = ItemStats(DIM)
    steady = ItemIndex(DIM, exact_below=50, keep_log=True)
    stored = []  # what the checkpoints wrote, in order
    for _ in range(6):  # traffic, queries in between (each query syncs), then a checkpoint
        for _ in range(4):
            _review(items, rng, 2000, 150)
            steady.nearest(items, queries[0], 30)
        _review(items, rng, 2000, 20)  # changed since the last sync: pending at the checkpoint
        stored += steady.drain()
    pending = set(items.changed)
    assert pending and steady.built and len(stored) > 6

    restored = ItemIndex(DIM, exact_below=50, keep_log=True)
    restored.replay(stored)
    assert restored.drain() == []  # a replay is not logged again
    rebuilt = ItemIndex(DIM, exact_below=50)  # what a restore without the log did

    # the live items are shared, so the restored index sees the pending rows as steady does
    expected = _answers(steady, items, queries)
    assert items.changed == set()
    items.changed = set(pending)
    assert _answers(restored, items, queries) == expected
    _review(items, rng, 2000, 300)  # and they go on alike
    changed = set(items.changed)
    expected = _answers(steady, items, queries)
    items.changed = changed
    assert _answers(restored, items, queries) == expected
    items.changed = set(range(items.n_items))
    assert _answers(rebuilt, items, queries) != expected  # insertion order shapes the graph


def test_a_log_is_kept_only_when_asked_for() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(0), 300, 100)
    index = ItemIndex(DIM, exact_below=10)
    index.nearest(items, _unit(np.random.default_rng(1), 1)[0], 5)
    assert index.built and index.drain() == []


def test_prefetched_answers_are_the_ones_each_query_gets_alone() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(5), 2000, 1500)
    queries = _unit(np.random.default_rng(6), 24)
    ks = [10 + n % 5 for n in range(len(queries))]  # several k: several grouped calls
    together = ItemIndex(DIM, exact_below=50, threads=2)
    alone = ItemIndex(DIM, exact_below=50)
    together.prefetch(items, queries, ks)
    for query, k in zip(queries, ks, strict=True):
        answer = together.nearest(items, query, k)
        assert not answer.flags.writeable  # found among the prefetched answers
        assert answer.tolist() == alone.nearest(items, query, k).tolist()
    assert together.nearest(items, queries[0], 7).flags.writeable  # another k: asked anew

    _review(items, np.random.default_rng(7), 2000, 50)  # the graph changes on the next query
    answer = together.nearest(items, queries[0], ks[0])
    assert answer.flags.writeable
    assert answer.tolist() == alone.nearest(items, queries[0], ks[0]).tolist()


def test_an_exact_scan_keeps_no_prefetched_answers() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(8), 100, 80)
    index = ItemIndex(DIM, exact_below=1000, threads=2)
    queries = _unit(np.random.default_rng(9), 3)
    index.prefetch(items, queries, [5, 5, 5])
    assert not index.built and index.nearest(items, queries[0], 5).flags.writeable


def test_item_index_rejects_no_threads() -> None:
    try:
        ItemIndex(DIM, threads=0)
    except ValueError as error:
        assert "threads" in str(error)
    else:
        raise AssertionError("threads=0 was accepted")
