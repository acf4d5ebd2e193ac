"""Why an item is on a user's list: the learned blend's per-feature contributions.

The ``user`` strategy scores an item as ``weights @ features`` (minus the
popularity debias when it is on), so each feature's share of the score is
exactly ``weight x value``. A list keeps the ``top`` largest shares by size
(rounded); the rest of the score is what is left out.

>>> rows = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 1.0]])
>>> explain_rows(rows, np.array([0.2, -1.0, 0.3]), ("a", "b", "c"), top=2)
[{'b': -0.5, 'a': 0.2}, {'b': -2.0, 'c': 0.3}]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.model.features import FEATURES
from streamrec.model.strategies import Learned, PopularityDebiased, Strategy
from streamrec.model.view import ModelView

DEBIAS = "popularity_debias"  # the re-rank's own term, named beside the features


def contributions(
    rows: np.ndarray,
    weights: np.ndarray,
    debias: np.ndarray | None = None,
) -> np.ndarray:
    """(items x terms) shares of each item's score; with ``debias``, one more column
    holding the re-rank's (negative) term, so every row sums to the item's score."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    weights = np.asarray(weights, dtype=np.float64)
    if rows.shape[1] != weights.shape[0]:
        raise ValueError(f"{rows.shape[1]} feature columns but {weights.shape[0]} weights")
    shares = rows * weights[None, :]
    if debias is not None:
        shares = np.column_stack([shares, np.asarray(debias, dtype=np.float64)])
    return shares


def top_terms(
    shares: np.ndarray, names: Sequence[str], top: int = 3, digits: int = 4
) -> list[dict[str, float]]:
    """Per item, the ``top`` shares largest by size, largest first (ties: column order),
    rounded; shares that round to zero are never named."""
    if len(names) != shares.shape[1]:
        raise ValueError(f"{len(names)} names for {shares.shape[1]} columns")
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    order = np.argsort(-np.abs(shares), axis=1, kind="stable")[:, :top]  # one sort for all
    values = np.round(shares[np.arange(shares.shape[0])[:, None], order], digits)
    labels = np.asarray(names, dtype=object)[order].tolist()
    rounded = values.tolist()
    explained = list(map(dict, map(zip, labels, rounded)))  # one dict(zip) per row
    for row in np.flatnonzero((values == 0).any(axis=1)).tolist():  # shares rounded away
        explained[row] = {
            name: v for name, v in zip(labels[row], rounded[row], strict=True) if v != 0
        }
    return explained


def explain_rows(
    rows: np.ndarray,
    weights: np.ndarray,
    names: Sequence[str],
    top: int = 3,
    debias: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """The ``top`` contributions of each row of features (see :func:`contributions`)."""
    terms = [*names, DEBIAS] if debias is not None else list(names)
    return top_terms(contributions(rows, weights, debias), terms, top)


def explainable(strategy: Strategy) -> bool:
    """Whether the strategy scores with the learned blend (optionally debiased)."""
    if isinstance(strategy, PopularityDebiased):
        return explainable(strategy.base)
    return isinstance(strategy, Learned)


def explain_list(
    model: ModelView,
    strategy: Strategy,
    matrix: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    top: int,
) -> list[dict[str, float]]:
    """The ``top`` contributions of each listed row of a user's feature ``matrix`` under the
    ranker's ``weights``, with the popularity debias term when ``strategy`` applies one."""
    debias = None
    if isinstance(strategy, PopularityDebiased) and strategy.strength > 0:
        debias = strategy.penalty(model)[rows]
    return explain_rows(matrix[rows], weights, FEATURES, top, debias)
