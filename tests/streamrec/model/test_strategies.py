import numpy as np

from streamrec.model.scoring import top_items


def test_excluded_rows_never_come_back_and_ties_break_by_row() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 0.5])
    rows, values = top_items(scores, 3, exclude=np.array([1]))
    assert rows.tolist() == [2, 3, 0]
    assert values.tolist() == [3.0, 2.0, 1.0]


def test_fewer_items_than_k() -> None:
    rows, _ = top_items(np.array([0.1, -np.inf]), 5)
    assert rows.tolist() == [0]


def test_mmr_trades_relevance_for_variety() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores = np.array([1.0, 0.99, 0.5])
    plain, _ = top_items(scores, 2, vectors=vectors)
    diverse, _ = top_items(scores, 2, vectors=vectors, diversity=0.6)
    assert plain.tolist() == [0, 1]
    assert diverse.tolist() == [0, 2]
