"""The HNSW index's log: replaying what checkpoints drained rebuilds the same graph;
queries answered ahead, here or on another thread, are the answers asked alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamrec.model.item_index import AHEAD_CHUNK, ItemIndex
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


def test_answers_made_on_another_thread_are_the_ones_made_here() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(10), 2000, 1200)
    queries = _unit(np.random.default_rng(11), 40)
    ks = [3 + n % 7 for n in range(len(queries) - 1)] + [5000]  # the last: past the catalogue
    here = ItemIndex(DIM, exact_below=50, keep_log=True)
    there = ItemIndex(DIM, exact_below=50, keep_log=True, threads=2)
    for index in (here, there):
        index.nearest(items, queries[0], 5)  # built; then changes the prefetch inserts
    _review(items, np.random.default_rng(12), 2000, 200)
    changed = set(items.changed)
    here.prefetch(items, queries, ks)
    items.changed = set(changed)
    there.prefetch(items, queries, ks)
    for query, k in reversed(list(zip(queries, ks, strict=True))):  # any order of asking
        answer = there.nearest(items, query, k)
        assert not answer.flags.writeable  # answered ahead
        assert answer.tolist() == here.nearest(items, query, k).tolist()
    assert there.nearest(items, queries[-1], 5000).size == items.n_items
    logs = here.drain(), there.drain()  # the same inserts, in the same order
    assert len(logs[0]) == len(logs[1]) == 2
    for a, b in zip(*logs, strict=True):
        assert a.labels.tolist() == b.labels.tolist() and np.array_equal(a.vectors, b.vectors)


class _SlowIndex(ItemIndex):
    """Answers on its other thread only after a pause, so a use that does not wait for
    that thread would see the index before the batch's inserts."""

    def _answer(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return super()._answer(*args, **kwargs)


def _answering() -> bool:
    return any(thread.name == "streamrec-ann" for thread in threading.enumerate())


def test_every_other_use_of_the_index_waits_for_the_answering_thread() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(13), 500, 400)
    queries = _unit(np.random.default_rng(14), 2 * AHEAD_CHUNK)
    ks = [4] * len(queries)
    index = _SlowIndex(DIM, exact_below=50, keep_log=True, threads=2)
    index.prefetch(items, queries, ks)
    assert _answering()
    assert len(index.drain()) == 1  # the first build, made on the other thread
    assert not _answering()
    index.prefetch(items, queries, ks)
    assert index.built and index.nearest(items, queries[0], 9).size == 9  # not asked ahead


def test_one_chunk_of_queries_is_answered_here() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(17), 500, 400)
    queries = _unit(np.random.default_rng(18), AHEAD_CHUNK)
    index = _SlowIndex(DIM, exact_below=50, threads=2)
    index.prefetch(items, queries, [4] * len(queries))
    assert not _answering()  # answered before prefetch returned
    assert not index.nearest(items, queries[0], 4).flags.writeable


class _FailingIndex(ItemIndex):
    def _synced(self, items: ItemStats):  # type: ignore[no-untyped-def]
        raise RuntimeError("the graph could not be read")


def test_an_error_on_the_answering_thread_is_raised_to_the_caller() -> None:
    items = ItemStats(DIM)
    _review(items, np.random.default_rng(15), 500, 400)
    queries = _unit(np.random.default_rng(16), 2 * AHEAD_CHUNK)
    ks = [4] * len(queries)
    index = _FailingIndex(DIM, exact_below=50, threads=2)
    index.prefetch(items, queries, ks)
    with pytest.raises(RuntimeError, match="could not be read"):
        index.nearest(items, queries[1], 4)
    index.prefetch(items, queries, ks)
    with pytest.raises(RuntimeError, match="could not be read"):
        index.settle()
    index.settle()  # raised once; nothing is left running


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
