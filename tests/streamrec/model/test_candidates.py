"""Candidate heads: sorted prefixes cached per model clock."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.events import ClickEvent
from streamrec.model import candidates
from streamrec.model.candidates import CandidateGenerator, _sorted_head, _union
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


@pytest.mark.parametrize("seed", range(4))
def test_compiled_union_keeps_the_numpy_union_s_rows(seed: int, monkeypatch) -> None:
    """Parts with repeats, seen rows, cuts below and above their sizes, and a union
    larger than the list (cut to its lowest rows): the same rows either way."""
    assert candidates.COMPILED
    rng = np.random.default_rng(seed)
    for _ in range(50):
        span = int(rng.choice([50, 5_000, 300_000]))
        parts = [rng.integers(0, span, int(rng.integers(0, 80))) for _ in range(rng.integers(1, 6))]
        cut = rng.integers(0, 90, len(parts)).tolist()
        seen = rng.integers(0, span, int(rng.integers(0, 30)))
        size = int(rng.integers(1, 200))
        compiled = _union(parts, cut, seen, size)
        with monkeypatch.context() as patch:
            patch.setattr(candidates, "COMPILED", False)
            expected = _union(parts, cut, seen, size)
        assert compiled.dtype == expected.dtype == np.int64
        assert compiled.tolist() == expected.tolist()
