"""The exposure-aware re-rank measured beside the served blend, at several strengths.

Each strength scores with the model's own
:class:`streamrec.model.strategies.PopularityDebiased` over StreamRec's
``user`` blend, reading the engine of the reported ``streamrec-user`` (so at
strength 0 it ranks exactly as ``streamrec-user`` does). The blend is computed
once per serve and shared by every strength.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.evaluation.baselines import ScoreFn
from streamrec.model.engine import Engine
from streamrec.model.strategies import Learned, PopularityDebiased
from streamrec.model.view import ModelView

DEBIAS_STRENGTHS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
PREFIX = "streamrec-user-debias-"


class _OncePerServe:
    """The ``user`` blend, computed once per (user, engine clock)."""

    name = "user"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.key: tuple[str | None, int] | None = None
        self.value = np.zeros(0)

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        key = (user_id, self.engine.clock)
        if key != self.key:
            self.key, self.value = key, Learned().scores(model, user_id, cluster_id)
        return self.value


def debias_name(strength: float) -> str:
    return f"{PREFIX}{strength:g}"


def debias_sweep(
    engine: Engine, strengths: Sequence[float] = DEBIAS_STRENGTHS
) -> dict[str, ScoreFn]:
    """One score function per strength, reading ``engine`` (never feeding it)."""
    base = _OncePerServe(engine)
    sweep = {debias_name(s): PopularityDebiased(base, s) for s in strengths}
    return {
        name: (lambda user, strategy=strategy: strategy.scores(engine, user, None))
        for name, strategy in sweep.items()
    }
