"""Top-M neighbours per item: bounded rows, heavy hitters kept, state and merge."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.model.signals import ItemSignals
from streamrec.model.sparse_rows import SparseRows


def test_a_row_never_holds_more_than_twice_its_limit_and_keeps_heavy_hitters() -> None:
    table = SparseRows(limit=4)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        table.add(0, int(rng.integers(100, 10_000)))  # a long tail of one-off neighbours
        table.add(0, 1, 1.0)  # and two heavy hitters
        table.add(0, 2, 0.5)
    assert len(table.rows[0]) < 8
    assert {1, 2} <= set(table.rows[0])
    assert table.rows[0][1] == 2000.0


def test_memory_is_items_times_limit() -> None:
    signals = ItemSignals(neighbours=8)
    rng = np.random.default_rng(1)
    for item in rng.integers(0, 300, 2000).tolist():
        signals.observe(item, rng.integers(0, 300, 50))
    assert max(len(r) for r in signals.co.rows.values()) < 16
    assert max(len(r) for r in signals.transitions.rows.values()) < 16


def test_state_round_trips_with_its_limit() -> None:
    table = SparseRows(limit=3)
    for col in range(10):
        table.add(5, col, float(col))
    back = SparseRows.from_state(table.state())
    assert back.limit == 3 and back.rows == table.rows


def test_merge_adds_changes_and_cuts_each_row_to_its_limit() -> None:
    base, mine, theirs = SparseRows(limit=2), SparseRows(limit=2), SparseRows(limit=2)
    for table in (mine, theirs):
        table.add(0, 1, 1.0)
    mine.add(0, 2, 5.0)
    theirs.add(0, 3, 3.0)
    theirs.add(0, 4, 0.5)
    identity = np.arange(5)
    merged = SparseRows.merge(
        base.state(), mine.state(), theirs.state(), (identity, identity, identity)
    )
    back = SparseRows.from_state(merged)
    assert back.rows[0] == {2: 5.0, 3: 3.0}  # the two largest of 1: 2.0, 2: 5.0, 3: 3.0, 4: 0.5


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="neighbours"):
        SparseRows(limit=0)


def test_sparse_sum_weighs_rows_and_sorts_columns() -> None:
    table = SparseRows()
    table.add(0, 7, 1.0)
    table.add(1, 7, 2.0)
    table.add(1, 3, 1.0)
    cols, a, b = table.sparse_sum([0, 1], np.array([1.0, 10.0]), np.array([0.0, 1.0]))
    assert cols.tolist() == [3, 7] and a.tolist() == [10.0, 21.0] and b.tolist() == [1.0, 2.0]


def test_compiled_dense_and_sorted_sparse_sums_are_bit_identical(monkeypatch) -> None:
    from streamrec.model import kernels, sparse_rows

    assert kernels.COMPILED  # numba is a dependency: the worker runs the compiled sum
    rng = np.random.default_rng(3)
    table = SparseRows(limit=64)
    for _ in range(3000):
        table.add(int(rng.integers(0, 40)), int(rng.integers(0, 500)), float(rng.random()))
    rows = rng.integers(0, 40, 25).tolist()
    weights, more = rng.random(25), rng.random(25)
    answers = [table.sparse_sum(rows, weights, more)]
    monkeypatch.setattr(sparse_rows, "COMPILED", False)
    for span in (10**9, 0):  # numpy: always dense, never dense
        monkeypatch.setattr(sparse_rows, "DENSE_SPAN", span)
        answers.append(table.sparse_sum(rows, weights, more))
    for compiled, dense, sorted_ in zip(*answers, strict=True):
        assert compiled.dtype == dense.dtype == sorted_.dtype
        assert compiled.tobytes() == dense.tobytes() == sorted_.tobytes()
