"""StreamRec's ``user`` strategy at several ranker learning rates, on one engine.

Tuning compares the ranker's learning rates. Nothing else in the engine reads
the ranker's weights (clusters, profiles, item signals and candidates learn
from the stream alone) and every ranker's sampler is seeded alike, so engines
that differ only in the learning rate differ only in their weights. One engine
therefore carries them all: its ranker leads, the others follow every step on
the same target and negatives (:attr:`streamrec.model.ranker.OnlineRanker.followers`),
and each serve featurises the user's candidates once and scores them with
every ranker. Each strategy ranks exactly as its own engine would
(``tests/streamrec/evaluation/test_rate_sweep.py``), at the cost of one engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from streamrec.evaluation.baselines import ScoreFn
from streamrec.evaluation.replay import EngineModel
from streamrec.model.candidates import with_fallback
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.ranker import OnlineRanker


def rate_name(rate: float) -> str:
    return f"streamrec-user@lr{rate:g}"


class RateSweep(EngineModel):
    """One engine, one ``user`` strategy per ranker learning rate (named :func:`rate_name`)."""

    def __init__(self, dim: int, config: EngineConfig, rates: Sequence[float]) -> None:
        if not rates:
            raise ValueError("a learning-rate sweep needs at least one rate")
        super().__init__(Engine(dim, replace(config, ranker_learning_rate=rates[0])), ["user"])
        self.rates = list(rates)
        self.engine.ranker.followers = [
            OnlineRanker(rate, config.ranker_negatives, seed=config.seed) for rate in rates[1:]
        ]

    def rankers(self) -> list[OnlineRanker]:
        return [self.engine.ranker, *self.engine.ranker.followers]

    def strategies(self) -> dict[str, ScoreFn]:
        return {
            rate_name(rate): (lambda user, n=n: self._scores(user)[n])
            for n, rate in enumerate(self.rates)
        }

    def _scores(self, user_id: str) -> list[np.ndarray]:
        """Every ranker's full-ranking scores (``Engine.learned_scores`` with each), the
        candidates featurised once per serve."""
        return self.view.once(("rates", user_id), lambda: self._every_rate(user_id))

    def _every_rate(self, user_id: str) -> list[np.ndarray]:
        engine = self.engine
        if not engine.knows_user(user_id):  # as Learned: unknown users get trending
            return [engine.trending_scores()] * len(self.rates)
        rows, matrix = engine.candidate_features(user_id)
        trending, size = engine.trending_scores(), engine.items.n_items
        return [with_fallback(rows, r.scores(matrix), size, trending) for r in self.rankers()]
