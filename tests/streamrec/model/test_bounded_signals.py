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


def test_rows_keep_their_cells_while_the_arena_moves_them() -> None:
    """Rows grow in turns (each outgrowing its run moves it to the arena's end) and
    prune; the table always equals plain dictionaries fed the same cells, in order,
    and its sums read the moved runs."""
    from streamrec.model import sparse_rows

    limit = 16
    table, expected = SparseRows(limit=limit), {}
    rng = np.random.default_rng(7)
    moved = 0
    for step in range(6000):
        row, col = int(rng.integers(0, 30)), int(rng.integers(0, 200))
        value = float(rng.integers(1, 4))
        start = int(table._start[row]) if row in table._slots else -1
        table.add(row, col, value)
        moved += start not in (-1, int(table._start[row]))
        cells = expected.setdefault(row, {})
        cells[col] = cells.get(col, 0.0) + value
        if len(cells) >= 2 * limit:
            expected[row] = sparse_rows._top(cells, limit)
        if step % 500 == 0:
            assert [list(r.items()) for r in table.rows.values()] == [
                list(r.items()) for r in expected.values()
            ]
    assert moved > 30  # every row moved at least once
    assert table._end <= 2 * int(table._room.sum())  # what moves leave behind stays small
    assert list(table.rows) == list(expected)
    rows = [3, 17, 3, 29, 999]  # a repeated row and one the table never held
    cols, sums = table.sparse_sum(rows, np.array([1.0, 2.0, 0.5, 1.0, 1.0]))
    dense = np.zeros(200)
    for row, weight in zip(rows, [1.0, 2.0, 0.5, 1.0, 1.0], strict=True):
        for col, value in expected.get(row, {}).items():
            dense[col] += weight * value
    assert cols.tolist() == np.flatnonzero(dense).tolist()
    assert np.allclose(sums, dense[cols])


def test_a_loaded_table_equals_its_source_and_grows_like_it() -> None:
    rng = np.random.default_rng(11)
    table = SparseRows(limit=6)
    for _ in range(3000):
        table.add(int(rng.integers(0, 80)), int(rng.integers(0, 300)), float(rng.random()))
    state = table.state()
    back = SparseRows.from_state(state)
    assert all(np.array_equal(back.state()[k], state[k]) for k in ("rows", "cols", "values"))
    for _ in range(2000):  # rows grow past their loaded room and move in the arena
        row, col, value = int(rng.integers(0, 90)), int(rng.integers(0, 300)), float(rng.random())
        table.add(row, col, value)
        back.add(row, col, value)
    assert back.rows == table.rows
    rows = rng.integers(0, 90, 20).tolist()
    weights = rng.random(20)
    for a, b in zip(back.sparse_sum(rows, weights), table.sparse_sum(rows, weights), strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_state_with_split_rows_or_repeated_cells_is_read_cell_by_cell() -> None:
    split = {"rows": [1, 2, 1], "cols": [5, 6, 7], "values": [1.0, 2.0, 3.0], "limit": 4}
    assert SparseRows.from_state(split).rows == {1: {5: 1.0, 7: 3.0}, 2: {6: 2.0}}
    repeated = {"rows": [1, 1], "cols": [5, 5], "values": [1.0, 2.0], "limit": 4}
    assert SparseRows.from_state(repeated).rows == {1: {5: 2.0}}
