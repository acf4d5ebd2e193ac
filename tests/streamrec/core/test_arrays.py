"""The sort-based set operations return exactly what numpy's do."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pytest

from streamrec.core.arrays import (
    copy_state,
    member_of,
    row_norms,
    rows_in,
    small_pages,
    unique_inverse,
    unique_rows,
)
from streamrec.model.engine import Engine
from streamrec.model.scoring import kth_largest
from tests.states import DIM, apply, assert_same_state, batch, config


@pytest.mark.parametrize("size", [0, 1, 7, 3000])
def test_set_operations_equal_numpys(size: int) -> None:
    rng = np.random.default_rng(size)
    rows = rng.integers(0, max(1, size // 3), size)
    pool = rng.integers(0, max(1, size // 3), size // 4)
    np.testing.assert_array_equal(unique_rows(rows), np.unique(rows))
    values, index = unique_inverse(rows)
    expected_values, expected_index = np.unique(rows, return_inverse=True)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(index, expected_index)
    scratch = np.full(max(1, size // 3) + 5, -7, dtype=np.intp)  # stale contents must not leak
    values, index = unique_inverse(rows, scratch)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(index, expected_index)
    np.testing.assert_array_equal(member_of(rows, pool), np.isin(rows, pool))


def test_kth_largest_equals_a_full_partition_on_tie_heavy_scores() -> None:
    rng = np.random.default_rng(0)
    scores = np.where(rng.random(5000) < 0.8, 0.0, rng.random(5000))
    scores[:50] = -1.0
    for k in (1, 10, 999, 1000, 1001, 4900, 5000):
        assert kth_largest(scores, k) == np.sort(scores)[-k]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_norms_are_numpys_to_the_bit(dtype: type) -> None:
    rng = np.random.default_rng(1)
    for shape in [(1, 384), (7, 384), (3, 5), (0, 4)]:
        matrix = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
        expected = np.linalg.norm(matrix, axis=-1, keepdims=True)
        got = row_norms(matrix)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()


def test_rows_in_maps_as_one_lookup_per_id_whatever_the_prefix() -> None:
    rng = np.random.default_rng(4)
    for _ in range(50):
        keys = [f"k{n}" for n in rng.permutation(30)[: rng.integers(0, 30)]]
        order = {k: n for n, k in enumerate(keys)}
        cut = int(rng.integers(0, len(keys) + 1))
        ids = keys[:cut] + [
            None if rng.random() < 0.2 else f"k{rng.integers(40)}" for _ in range(5)
        ]
        expected = [order.get(i, -1) if i is not None else -1 for i in ids]
        assert rows_in(order, ids).tolist() == expected
    shuffled = {"a": 1, "b": 0}  # rows not numbered in key order: every id is looked up
    assert rows_in(shuffled, ["a", "b"]).tolist() == [1, 0]


class Pair(NamedTuple):
    left: list
    right: int


def containers(state: object) -> dict[int, object]:
    """Every mutable container reachable from ``state`` (dicts, lists, sets, arrays)."""
    found: dict[int, object] = {}
    stack = [state]
    while stack:
        value = stack.pop()
        if isinstance(value, dict | list | set | np.ndarray):
            found[id(value)] = value
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple | set):
            stack.extend(value)
    return found


def test_a_state_copy_equals_a_deep_copy_and_shares_nothing_mutable() -> None:
    engine = Engine(DIM, config())
    apply(engine, batch(np.random.default_rng(0), 30, users=20, items=40, start=0))
    state = engine.shared_state()
    state["odd"] = [OrderedDict(a=[1]), {2, 3}, Pair([4], 5), (np.ones(2), "x")]
    copied = copy_state(state)
    assert_same_state(copied, copy.deepcopy(state))
    assert [type(v) for v in copied["odd"]] == [OrderedDict, set, Pair, tuple]
    assert not containers(copied).keys() & containers(state).keys()


def test_small_pages_turns_numpys_huge_page_requests_off_inside_only() -> None:
    switch = np._core.multiarray._set_madvise_hugepage
    before = switch(True)
    try:
        with small_pages():
            assert switch(False) is False  # off inside
            assert np.zeros((2048, 1024)).sum() == 0.0  # 16 MB made on normal pages
        assert switch(True) is True  # and back on after
        with pytest.raises(RuntimeError), small_pages():
            raise RuntimeError("a failed write")
        assert switch(True) is True  # restored on an error too
    finally:
        switch(before)
