"""Two-stage serving: bounded candidates, the fallback below them, the HNSW index,
featurising only some rows, the ranker's sampled negatives."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.model.candidates import CandidateGenerator, with_fallback
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.features import features
from streamrec.model.item_index import ItemIndex
from streamrec.model.items import ItemStats
from streamrec.model.ranker import OnlineRanker
from streamrec.model.scoring import unit_max

DIM = 8


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _engine(
    candidates: int,
    items: int = 200,
    events: int = 400,
    seed: int = 0,
    threads: int = 1,
    outputs: list | None = None,
) -> Engine:
    """An engine that saw ``events`` reviews and clicks over ``items`` Zipf-ish items
    (``outputs``: where to keep what each batch returned)."""
    rng = np.random.default_rng(seed)
    config = EngineConfig(
        n_clusters=3,
        candidates=candidates,
        ann_exact_below=0,
        ann_query_threads=threads,
        seed=seed,
    )
    engine = Engine(dim=DIM, config=config)
    p = 1.0 / np.arange(1, items + 1)
    for b in range(events // 40):
        batch: list[ReviewEvent | ClickEvent] = []
        picks = rng.choice(items, 40, p=p / p.sum())
        for n, item in enumerate(picks.tolist()):
            user, ts = f"u{rng.integers(30)}", b * 40 + n + 1
            if n % 2:
                batch.append(ClickEvent(event_id=f"c{ts}", user_id=user, item_id=f"i{item}", ts=ts))
            else:
                batch.append(
                    ReviewEvent(
                        event_id=f"r{ts}", user_id=user, item_id=f"i{item}", text="t", ts=ts
                    )
                )
        out = engine.apply(batch, _unit(rng, 20))
        if outputs is not None:
            outputs.append(out)
    return engine


@pytest.fixture(scope="module")
def bounded() -> Engine:
    """More items than candidates (C = 40): the two-stage path."""
    return _engine(candidates=40)


@pytest.fixture(scope="module")
def exact() -> Engine:
    """Fewer items than candidates: every item is scored."""
    return _engine(candidates=1000)


def test_candidates_are_bounded_unseen_and_sorted(bounded: Engine) -> None:
    engine = bounded
    assert engine.items.n_items > 40
    for user in ("u1", "u2", "u3"):
        rows = engine.candidates.rows(engine, user)
        assert 0 < rows.size <= 40
        assert np.all(np.diff(rows) > 0)
        assert not np.isin(rows, engine.profiles.seen_items(user)).any()


def test_small_catalogue_scores_every_item_exactly(exact: Engine) -> None:
    engine = exact
    rows = engine.candidates.rows(engine, "u1")
    assert rows.tolist() == list(range(engine.items.n_items))
    full = engine.ranker.scores(features(engine, "u1"))
    assert np.allclose(engine.learned_scores("u1"), full)


def test_every_non_candidate_ranks_below_every_candidate(bounded: Engine) -> None:
    engine = bounded
    rows = engine.candidates.rows(engine, "u1")
    full = engine.learned_scores("u1")
    outside = np.setdiff1d(np.arange(engine.items.n_items), rows)
    assert full.shape == (engine.items.n_items,) and outside.size
    assert full[outside].max() < full[rows].min()
    # among themselves the outside items follow trending
    trend = engine.trending_scores()[outside]
    assert np.array_equal(
        np.argsort(full[outside], kind="stable"), np.argsort(trend, kind="stable")
    )


def test_served_user_list_comes_from_the_candidates_with_why(bounded: Engine) -> None:
    engine = bounded
    rows = set(engine.candidates.rows(engine, "u1").tolist())
    served = engine.recommend("user", "u1")
    ids = engine.items.ids
    assert served.items and all(ids.index(i.item_id) in rows for i in served.items)
    assert all(i.why is not None for i in served.items)
    own = {ids[r] for r in engine.profiles.seen_items("u1").tolist()}
    assert own and not own & {i.item_id for i in served.items}  # never an item back
    scores = [i.score for i in served.items]
    assert scores == sorted(scores, reverse=True)


def test_cluster_list_over_candidates_matches_full_scoring_on_them(bounded: Engine) -> None:
    engine = bounded
    cluster_id = int(engine.clusterer.snapshot().ids[0])
    rows = engine.candidates.cluster_rows(engine, cluster_id, engine.centroid(cluster_id))
    full = engine.strategies["cluster"].scores(engine, None, cluster_id)
    at = engine.strategies["cluster"].scores_at(engine, cluster_id, rows)  # type: ignore[attr-defined]
    assert np.allclose(at, full[rows])
    given = engine.strategies["cluster"].scores_at(  # type: ignore[attr-defined]
        engine, cluster_id, rows, engine.item_matrix()[rows]
    )
    assert given.tobytes() == at.tobytes()  # vectors a group gathered once: the same bits
    served = engine.recommend("cluster", None, cluster_id)
    assert len(served.items) == min(engine.config.recs_length, rows.size)


def test_features_of_some_rows_equal_those_rows_of_the_full_matrix(exact: Engine) -> None:
    engine = exact
    rows = np.array([0, 5, 17, engine.items.n_items - 1])
    for user in ("u1", "u7", "stranger"):
        assert np.allclose(features(engine, user, rows), features(engine, user)[rows])


def test_unit_at_equals_unit_max_of_the_full_vector(exact: Engine) -> None:
    engine = exact
    rows = np.arange(engine.items.n_items)
    assert np.allclose(engine.unit_trending_at(rows), unit_max(engine.trending_scores()))
    for cluster_id in engine.clusterer.snapshot().ids.tolist():
        full = unit_max(engine.cluster_engagement(cluster_id))
        assert np.allclose(engine.unit_cluster_engagement_at(cluster_id, rows), full)


def test_hnsw_index_finds_the_nearest_items_and_follows_changed_vectors() -> None:
    rng = np.random.default_rng(1)
    items = ItemStats(DIM)
    vectors = _unit(rng, 500)
    for n, vector in enumerate(vectors):
        items.add_text(items.row(f"i{n}"), vector)
    index = ItemIndex(DIM, exact_below=0)
    query = vectors[42]
    found = index.nearest(items, query, 10)
    exact = np.argsort(-(items.unit_matrix() @ query))[:10]
    assert 42 in found.tolist() and len(set(found) & set(exact)) >= 8
    # item 7 is reviewed until its vector points at the query: it must come back re-indexed
    for _ in range(4):
        items.add_text(7, query)
    assert 7 in index.nearest(items, query, 5).tolist()


def test_item_index_rejects_a_negative_threshold() -> None:
    with pytest.raises(ValueError, match="exact_below"):
        ItemIndex(DIM, exact_below=-1)
    with pytest.raises(ValueError, match="candidates"):
        CandidateGenerator(DIM, size=2)


def test_with_fallback_keeps_candidate_scores() -> None:
    full = with_fallback(np.array([1, 3]), np.array([0.2, 0.9]), 5, np.array([5.0, 0, 1, 0, 0]))
    assert full[[1, 3]].tolist() == [0.2, 0.9]
    assert full[[0, 2, 4]].max() < 0.2 and full[0] > full[2] > full[4]


def test_ranker_samples_distinct_negatives_outside_history() -> None:
    ranker = OnlineRanker(negatives=10, seed=3)
    exclude = np.arange(0, 5000, 2)
    picked = ranker.sample(100_000, target=1, exclude=exclude)  # rejection sampling
    assert picked.size == 10 and np.unique(picked).size == 10
    assert not np.isin(picked, exclude).any() and 1 not in picked.tolist()
    few = ranker.sample(6, target=0, exclude=np.array([1, 2]))  # exact path: 3 allowed rows
    assert sorted(few.tolist()) == [3, 4, 5]


def test_learning_featurises_only_the_target_and_negatives() -> None:
    ranker = OnlineRanker(negatives=4, seed=0)
    asked: list[int] = []

    def featurise(rows: np.ndarray) -> np.ndarray:
        asked.append(rows.size)
        out = np.zeros((rows.size, len(ranker.weights)))
        out[0, 0] = 1.0  # the target has the first feature
        return out

    ranker.learn_rows(featurise, 100_000, target=5, exclude=np.array([1, 2]))
    assert asked == [5] and ranker.weights[0] > 0


def test_a_restored_engine_serves_the_same_lists(bounded: Engine) -> None:
    """Checkpoint state round-trips; the HNSW index is rebuilt from the item vectors."""
    restored = Engine(dim=DIM, config=bounded.config)
    restored.load(bounded.state())
    for user in ("u1", "u2"):
        assert restored.candidates.rows(restored, user).tolist() == (
            bounded.candidates.rows(bounded, user).tolist()
        )
        assert restored.recommend("user", user) == bounded.recommend("user", user)


def test_threads_for_the_index_queries_change_no_list() -> None:
    one: list = []
    two: list = []
    _engine(candidates=40, outputs=one)
    _engine(candidates=40, threads=2, outputs=two)
    assert any(out.user_recs for out in one) and any(out.cluster_recs for out in one)
    for a, b in zip(one, two, strict=True):
        for lists in ("user_recs", "cluster_recs", "group_recs"):
            assert getattr(a, lists) == getattr(b, lists)
