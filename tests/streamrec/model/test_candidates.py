"""Candidate heads: sorted prefixes cached per model clock."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model import candidates
from streamrec.model.candidates import CandidateGenerator, _sorted_head, _union
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.model.test_two_stage import DIM, _engine


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


def test_when_an_engine_is_read_never_changes_what_it_answers_later() -> None:
    """The index takes each batch's items when the batch is applied, not at the next
    query: an engine read after every batch and one never read answer alike (an HNSW
    graph depends on the order and grouping of its inserts)."""
    read, unread = _engine_pair()
    users = sorted(read.profiles.index)
    assert read.candidates.index.built and read.items.n_items > read.candidates.size
    for user in users:
        assert np.array_equal(
            read.candidates.rows(read, user), unread.candidates.rows(unread, user)
        )
        assert np.array_equal(read.learned_scores(user), unread.learned_scores(user))


def _engine_pair() -> tuple[Engine, Engine]:
    rng = np.random.default_rng(3)
    config = EngineConfig(n_clusters=3, candidates=12, ann_exact_below=0, seed=3)
    read, unread = Engine(dim=DIM, config=config), Engine(dim=DIM, config=config)
    p = 1.0 / np.arange(1, 61)
    for b in range(30):
        items = rng.choice(60, 8, p=p / p.sum()).tolist()
        batch = [
            ReviewEvent(
                event_id=f"r{b}-{n}",
                user_id=f"u{rng.integers(12)}",
                item_id=f"i{i}",
                text="t",
                ts=8 * b + n + 1,
            )
            for n, i in enumerate(items)
        ]
        vectors = rng.standard_normal((len(batch), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for engine in (read, unread):
            engine.apply(batch, vectors, outputs=False)
        for user in {e.user_id for e in batch}:  # the read engine queries its index now
            read.learned_scores(user)
    return read, unread
