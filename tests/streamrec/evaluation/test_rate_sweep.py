"""A learning-rate sweep on one engine ranks exactly as one engine per rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from streamrec.evaluation.rate_sweep import RateSweep, rate_name
from streamrec.evaluation.replay import EngineModel, replay
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream

RATES = (0.02, 0.2, 0.5)
# two-stage over HNSW: candidates are a real subset and negatives are drawn
CONFIG = EngineConfig(n_clusters=3, candidates=8, ann_exact_below=10)


def test_each_rate_ranks_as_its_own_engine_and_learns_the_same_weights() -> None:
    interactions, vectors = synthetic_stream(300, items=30)
    sweep = RateSweep(16, CONFIG, RATES)
    alone = [
        EngineModel(
            Engine(16, replace(CONFIG, ranker_learning_rate=rate)), ["user"], suffix=f"@{rate:g}"
        )
        for rate in RATES
    ]
    result = replay(interactions, vectors, [sweep, *alone])
    assert len(result.index) > 100
    for rate in RATES:
        assert result.ranks[rate_name(rate)] == result.ranks[f"streamrec-user@{rate:g}"]
        assert result.tops[rate_name(rate)] == result.tops[f"streamrec-user@{rate:g}"]
    for ranker, model in zip(sweep.rankers(), alone, strict=True):
        np.testing.assert_array_equal(ranker.weights, model.engine.ranker.weights)
        assert ranker.steps == model.engine.ranker.steps > 50
    # the rates learned different weights, so the comparison above could fail
    assert not np.array_equal(sweep.rankers()[0].weights, sweep.rankers()[2].weights)
    assert sweep.engine.clock == sweep.delivered == 600


def test_a_sweep_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="at least one rate"):
        RateSweep(16, CONFIG, [])
