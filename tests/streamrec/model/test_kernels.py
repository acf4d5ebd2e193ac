"""The compiled loops against the numpy code they replace: the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.model import kernels
from streamrec.model.kernels import weighted_cell_sums


def numpy_sums(
    cols: np.ndarray, vals: np.ndarray, lengths: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One bincount per weighting (each bin adds its cells in input order)."""
    unique, index = np.unique(cols, return_inverse=True)
    sums = [
        np.bincount(index, weights=vals * np.repeat(w, lengths), minlength=unique.size)
        for w in weights
    ]
    return unique, np.array(sums).reshape(len(weights), unique.size)


@pytest.mark.parametrize("seed", range(6))
def test_weighted_cell_sums_equal_bincount_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    span = int(rng.choice([5, 300, 100_000]))  # few columns (many repeats) to sparse
    for _ in range(40):  # the scratch buffers are reused (and grown) between calls
        lengths = rng.integers(0, 60, int(rng.integers(1, 50)))
        cols = rng.integers(0, span, int(lengths.sum()))
        vals = rng.random(cols.size) * 10.0 ** rng.integers(-3, 4)
        weights = rng.random((int(rng.integers(1, 4)), lengths.size))
        weights[-1, : int(rng.integers(0, lengths.size + 1))] = 0.0  # as history_sums' near
        unique, sums = weighted_cell_sums(cols, vals, lengths, weights)
        expected_unique, expected = numpy_sums(cols, vals, lengths, weights)
        assert unique.dtype == np.int64 and unique.tolist() == expected_unique.tolist()
        assert sums.shape == expected.shape and sums.tobytes() == expected.tobytes()
    assert not kernels._Scratch.acc.any() and not kernels._Scratch.touched.any()
    assert not kernels._Scratch.bits.any() and not kernels._Scratch.summary.any()  # left zeroed


def test_no_cells_give_no_columns() -> None:
    empty = np.zeros(0, dtype=np.int64)
    unique, sums = weighted_cell_sums(empty, np.zeros(0), np.zeros(3, np.int64), np.ones((2, 3)))
    assert unique.size == 0 and sums.shape == (2, 0)


def test_columns_on_word_and_group_edges_come_out_sorted() -> None:
    """The sparse path reads its columns off a bitmap (64 columns a word, 64 words a
    group): columns at either side of each edge, in a scrambled order, repeated."""
    edges = [0, 1, 63, 64, 65, 4095, 4096, 4097, 262_143, 262_144, 262_145, 999_999]
    cols = np.array(edges[::-1] + edges[::2] + [262_144] * 3)
    vals = np.arange(1.0, cols.size + 1.0)
    lengths = np.array([5, cols.size - 5])
    weights = np.array([[1.0, 0.5], [0.0, 2.0]])
    unique, sums = weighted_cell_sums(cols, vals, lengths, weights)
    expected_unique, expected = numpy_sums(cols, vals, lengths, weights)
    assert unique.tolist() == edges == expected_unique.tolist()
    assert sums.tobytes() == expected.tobytes()
    assert not kernels._Scratch.bits.any() and not kernels._Scratch.summary.any()


def test_the_bit_place_table_names_every_bit_of_a_word() -> None:
    for place in range(64):
        low = (1 << place) * int(kernels._DEBRUIJN) % 2**64
        assert kernels._BIT_PLACE[low >> 58] == place
