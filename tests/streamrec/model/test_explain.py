"""Explanations of `user` lists and the popularity-debias re-rank, on a real engine."""

import numpy as np
import pytest

from streamrec.core.events import ClickEvent
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.explain import DEBIAS, contributions, explain_rows, top_terms
from streamrec.model.features import FEATURES, features
from streamrec.model.strategies import Learned, PopularityDebiased
from streamrec.serving.schema import RecList, ScoredItem
from tests.streamrec.model.test_engine import run, stream


def trained(extra: list | None = None, **config: object) -> Engine:
    engine = Engine(64, EngineConfig(n_clusters=3, **config))  # type: ignore[arg-type]
    run(engine, stream(12) + (extra or []))
    return engine


def test_contributions_add_up_to_the_score_and_the_top_ones_are_the_largest() -> None:
    engine = trained()
    recs = engine.recommend("user", "u1")
    matrix = features(engine, "u1")
    rows = [engine.items.vectors.index[i.item_id] for i in recs.items]
    assert recs.items and all(item.why is not None for item in recs.items)
    for item, row in zip(recs.items, rows, strict=True):
        shares = matrix[row] * engine.ranker.weights
        assert item.score == pytest.approx(shares.sum(), abs=1e-5)
        assert len(item.why) == 3  # type: ignore[arg-type]
        left_out = sum(v for name, v in zip(FEATURES, shares, strict=True) if name not in item.why)
        assert sum(item.why.values()) + left_out == pytest.approx(item.score, abs=1e-3)  # type: ignore[union-attr]
        smallest_named = min(abs(v) for v in item.why.values())  # type: ignore[union-attr]
        unnamed = [abs(v) for n, v in zip(FEATURES, shares, strict=True) if n not in item.why]
        assert smallest_named >= max(unnamed) - 1e-4


def test_debiased_lists_name_the_debias_term_and_still_add_up() -> None:
    engine = trained(popularity_debias=0.5)
    assert isinstance(engine.strategies["user"], PopularityDebiased)
    learned = Learned().scores(engine, "u1", None)
    penalty = -0.5 * np.log1p(engine.popularity_scores())
    recs = engine.recommend("user", "u1")
    shares = contributions(features(engine, "u1"), engine.ranker.weights, penalty)
    for item in recs.items:
        row = engine.items.vectors.index[item.item_id]
        assert item.score == pytest.approx(learned[row] + penalty[row], abs=1e-5)
        assert item.score == pytest.approx(shares[row].sum(), abs=1e-5)
        assert DEBIAS in item.why  # type: ignore[operator]  # the largest term here


def test_debias_moves_the_list_toward_less_popular_items() -> None:
    popular = [  # a few items everyone clicks, so popularity is skewed
        ClickEvent(event_id=f"p{n}", user_id=f"fan{n}", item_id=f"pedal-{n % 3}", ts=100 + n)
        for n in range(30)
    ]
    plain, debiased = trained(extra=popular), trained(extra=popular, popularity_debias=2.0)
    popularity = plain.popularity_scores()

    def mean_popularity(engine: Engine) -> float:
        recs = engine.recommend("user", "u1", k=3)
        rows = [engine.items.vectors.index[i.item_id] for i in recs.items]
        return float(np.mean(popularity[rows]))

    assert mean_popularity(debiased) < mean_popularity(plain)
    zero = PopularityDebiased(Learned(), 0.0)
    assert np.array_equal(zero.scores(plain, "u1", None), Learned().scores(plain, "u1", None))
    with pytest.raises(ValueError, match="strength"):
        PopularityDebiased(Learned(), -1.0)


def test_other_lists_and_switched_off_explanations_carry_no_why() -> None:
    engine = trained(explain_top=0)
    assert all(item.why is None for item in engine.recommend("user", "u1").items)
    engine = trained()
    assert all(item.why is None for item in engine.recommend("cluster", None, 0).items)
    assert all(item.why is None for item in engine.recommend("trending", None).items)
    assert all(item.why is None for item in engine.recommend("user", "stranger").items)


def test_top_terms_orders_by_size_and_rejects_bad_shapes() -> None:
    shares = np.array([[0.1, -0.5, 0.3, 0.0]])
    assert top_terms(shares, ["a", "b", "c", "d"], top=3) == [{"b": -0.5, "c": 0.3, "a": 0.1}]
    assert top_terms(np.zeros((1, 2)), ["a", "b"]) == [{}]  # zero shares are never named
    assert explain_rows(np.array([[2.0, 1.0]]), np.array([0.5, 0.0]), ["a", "b"]) == [{"a": 1.0}]
    with pytest.raises(ValueError, match="weights"):
        contributions(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="names"):
        top_terms(shares, ["a"])


def test_why_is_absent_from_json_when_unset_and_round_trips_when_set() -> None:
    plain = ScoredItem(item_id="a", score=1.0)
    assert plain.model_dump_json() == '{"item_id":"a","score":1.0}'
    recs = RecList(
        strategy="user",
        level="user",
        as_of=1.0,
        items=[ScoredItem(item_id="b", score=0.5, why={"content": 0.4, "knn": 0.1}), plain],
    )
    back = RecList.model_validate_json(recs.model_dump_json())
    assert back == recs and back.items[0].why == {"content": 0.4, "knn": 0.1}


def test_settings_carry_debias_and_explain_top_to_the_engine() -> None:
    settings = Settings(_env_file=None, popularity_debias=0.3, explain_top=5)
    config = EngineConfig.from_settings(settings)
    assert (config.popularity_debias, config.explain_top) == (0.3, 5)
    with pytest.raises(ValueError, match="popularity_debias"):
        Settings(_env_file=None, popularity_debias=-0.1)
