"""Candidate heads: sorted prefixes cached per model clock."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.events import ClickEvent
from streamrec.model.candidates import CandidateGenerator, _sorted_head
from tests.streamrec.model.test_two_stage import _engine


def _by_sort(scores: np.ndarray, k: int, positive: bool) -> list[int]:
    """The reference: a full sort by (-score, row)."""
    rows = [r for r in range(scores.size) if not positive or scores[r] > 0]
    return sorted(rows, key=lambda r: (-scores[r], r))[:k]


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("k", [0, 1, 5, 37, 200, 500])
def test_sorted_head_equals_a_full_sort_with_ties_by_row(k: int, positive: bool) -> None:
    rng = np.random.default_rng(k)
    scores = rng.integers(-3, 6, 300).astype(np.float64)  # many ties, some not positive
    assert _sorted_head(scores, k, positive).tolist() == _by_sort(scores, k, positive)


def test_heads_of_different_lengths_are_prefixes_of_one_order() -> None:
    engine = _engine(candidates=40)
    generator = engine.candidates
    trending = engine.items.trending_scores(engine.clock)
    heads = [generator._trending(engine, k).tolist() for k in (3, 10, 70, 5)]
    for head in heads:
        assert head == _by_sort(trending, len(head), positive=False)
    assert len(heads[2]) == min(70, engine.items.n_items)


def test_heads_are_recomputed_when_the_model_learns() -> None:
    engine = _engine(candidates=40)
    generator: CandidateGenerator = engine.candidates
    generator._new_clock(engine.clock)
    before = generator._trending(engine, 10).tolist()
    tail = generator._trending(engine, 60)[-1]  # an item far down the head: clicks lift it
    clicks = [
        ClickEvent(event_id=f"late{n}", user_id=f"late{n}", item_id=engine.items.ids[tail], ts=1e6)
        for n in range(30)
    ]
    engine.apply(clicks, np.zeros((0, 8), dtype=np.float32))
    generator._new_clock(engine.clock)
    after = generator._trending(engine, 10).tolist()
    assert after == _by_sort(engine.items.trending_scores(engine.clock), 10, positive=False)
    assert after != before and int(tail) in after
