"""A learning step's reads of the history sums: the features of the full sums, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.model import history_reads
from streamrec.model.features import _compiled_columns
from streamrec.model.history import HistorySums
from streamrec.model.signals import READ_ROWS, ItemSignals
from tests.streamrec.model.test_signals import filled


@pytest.fixture(autouse=True)
def small_scratch(monkeypatch) -> None:
    """Each test starts from a scratch smaller than the rows it reads (grown on demand)."""
    monkeypatch.setattr(history_reads._Scratch, "acc", np.zeros((0, 2)))
    monkeypatch.setattr(history_reads._Scratch, "touched", np.zeros(0, dtype=np.bool_))


def features_both_ways(
    signals: ItemSignals, seen: list[int], rows: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The compiled columns from the reads, then from the full sums (kept after a call)."""
    signals.version += 1  # nothing kept: the reads run
    assert not isinstance(signals.history_reads(seen, rows, size), HistorySums)
    from_reads = _compiled_columns(signals, seen, rows, size)
    signals.history_sums(seen)  # now kept: the features read the full sums
    assert isinstance(signals.history_reads(seen, rows, size), HistorySums)
    return from_reads, _compiled_columns(signals, seen, rows, size)


@pytest.mark.parametrize("seed", range(4))
def test_features_from_the_reads_equal_those_of_the_full_sums(seed: int) -> None:
    signals = filled(seed)
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(60):
        seen = rng.integers(0, 40, size=int(rng.integers(1, 15))).tolist()
        size = int(rng.choice([20, 40, 90]))  # below, at and past the tables' columns
        rows = rng.integers(0, size, size=int(rng.integers(1, 12)))  # repeats, any order
        reads, full = features_both_ways(signals, seen, rows, size)
        assert reads.tobytes() == full.tobytes(), (seed, seen, rows.tolist(), size)
        checked += int(np.count_nonzero(full[:, 5:8]))
    assert checked > 0  # the kNN and transition columns were read, not only zeros


def test_the_reads_hold_the_rows_and_each_maximum_only() -> None:
    signals = filled(1)
    seen = [3, 7, 11, 20, 1]
    full = signals.history_sums(seen)
    signals.version += 1
    rows = np.array([39, 3, 3, 500])  # a repeat and a row past ``size``
    reads = signals.history_reads(seen, rows, size=40)
    assert isinstance(reads, history_reads.HistoryReads)
    norm = np.sqrt(np.maximum(signals.count[full.cols], 1.0))  # as the features divide
    tops = {int(full.cols[np.argmax(full.knn / norm)])}
    tops |= {int(full.cols[np.argmax(full.knn_recent / norm)])}
    assert set(reads.cols.tolist()) == {3, 39} | tops
    at = dict(zip(full.cols.tolist(), full.knn.tolist(), strict=True))
    assert reads.knn.tolist() == [at.get(c, 0.0) for c in reads.cols.tolist()]
    t_top = int(full.t_cols[np.argmax(full.transition)])
    assert {3, 39, t_top} == set(reads.t_cols.tolist())
    scratch = history_reads._Scratch  # left zeroed for the next call
    assert not scratch.acc.any() and not scratch.touched.any()


def test_many_rows_read_the_full_sums() -> None:
    signals = filled(2)
    rows = np.arange(READ_ROWS + 1) % 40
    assert isinstance(signals.history_reads([1, 2, 3], rows, 40), HistorySums)
