"""The exposure-aware re-rank measured beside the served blend, at several strengths.

Each strength scores with the model's own
:class:`streamrec.model.strategies.PopularityDebiased` over StreamRec's
``user`` blend, reading the engine of the reported ``streamrec-user`` (so at
strength 0 it ranks exactly as ``streamrec-user`` does). Through that model's
:class:`~streamrec.evaluation.shared_reads.SharedReads` the blend is computed
once per serve, shared with ``streamrec-user`` and every strength.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamrec.evaluation.baselines import ScoreFn
from streamrec.model.strategies import Learned, PopularityDebiased
from streamrec.model.view import ModelView

DEBIAS_STRENGTHS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
PREFIX = "streamrec-user-debias-"


def debias_name(strength: float) -> str:
    return f"{PREFIX}{strength:g}"


def debias_sweep(
    model: ModelView, strengths: Sequence[float] = DEBIAS_STRENGTHS
) -> dict[str, ScoreFn]:
    """One score function per strength, reading ``model`` (never feeding it)."""
    sweep = {debias_name(s): PopularityDebiased(Learned(name="user"), s) for s in strengths}
    return {
        name: (lambda user, strategy=strategy: strategy.scores(model, user, None))
        for name, strategy in sweep.items()
    }
