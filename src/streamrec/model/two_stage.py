"""The second stage of a ``user`` list: the learned ranker over the user's candidates.

:mod:`streamrec.model.candidates` picks at most C rows; only those are
featurised, scored (with the popularity debias when the strategy applies one),
cut to the top k (MMR over the candidates' vectors when diversity > 0) and
explained. The cost per list is O(C), not O(catalogue).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamrec.core.arrays import member_of
from streamrec.model.candidates import CandidateGenerator
from streamrec.model.config import EngineConfig
from streamrec.model.explain import explain_rows
from streamrec.model.features import FEATURES, FeatureSource, features
from streamrec.model.ranker import OnlineRanker
from streamrec.model.scoring import top_items
from streamrec.model.strategies import PopularityDebiased, Strategy


class TwoStageSource(FeatureSource, Protocol):
    candidates: CandidateGenerator
    ranker: OnlineRanker
    config: EngineConfig


def serve_candidates(
    model: TwoStageSource, strategy: Strategy, user_id: str, k: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]] | None]:
    """Rows, scores and (when ``explain_top`` > 0) the why of a known user's top ``k``."""
    rows = model.candidates.rows(model, user_id)
    matrix = features(model, user_id, rows)
    scores = model.ranker.scores(matrix)
    penalty = None
    if isinstance(strategy, PopularityDebiased) and strategy.strength > 0:
        popularity = np.clip(model.items.popularity[rows], 0, None)
        penalty = -strategy.strength * np.log1p(popularity)
        scores = scores + penalty
    exclude = None  # a cut of the catalogue holds none of the user's items already
    if rows.size == model.items.n_items:  # every row: the user's own are left out here
        exclude = np.flatnonzero(member_of(rows, model.profiles.seen_items(user_id)))
    diversity = model.config.diversity
    vectors = model.item_matrix()[rows] if diversity > 0 else None  # MMR only
    local, values = top_items(scores, k, exclude, vectors, diversity)
    why = None
    top = model.config.explain_top
    if top > 0:
        debias = penalty[local] if penalty is not None else None
        why = explain_rows(matrix[local], model.ranker.weights, FEATURES, top, debias)
    return rows[local], values, why
