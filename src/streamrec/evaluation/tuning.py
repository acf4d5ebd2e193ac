"""Hyper-parameters chosen on the tuning slice only, for StreamRec and every baseline.

The tuning slice is the first ``tuning_share`` of the interactions. Each
family's grid is replayed on that slice alone (serve then observe, as in the
full replay), and the configuration with the best NDCG@10 there is chosen;
ties go to the first in grid order. Nothing of the reported part is read
while choosing. The full replay then runs only the chosen configurations.

>>> grid = default_grids()
>>> sorted(grid)
['biasedmf-negatives', 'isgd', 'item-knn', 'raisgd', 'streamrec-user', 'trending']
>>> sorted(Grids(sequential=True).describe())[4:6]
['sasrec-incremental', 'sasrec-periodic']
>>> choose({"isgd-a": {"ndcg@10": 0.1}, "isgd-b": {"ndcg@10": 0.1}}, ["isgd-a", "isgd-b"])
'isgd-a'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.evaluation.baselines import BiasedMFModel, ItemKNNModel, KNNVariant, PopularityModel
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.parallel import replay_split
from streamrec.evaluation.rate_sweep import RateSweep, rate_name
from streamrec.evaluation.sequential import SASRecIncremental, SASRecPeriodic
from streamrec.evaluation.streaming_mf import ISGDModel, RAISGDModel
from streamrec.model.config import EngineConfig

TRENDING_HALF_LIVES = (250, 500, 1000, 2000, 4000, 8000)  # in interactions


@dataclass
class Grids:
    """The candidate values of every tuned hyper-parameter."""

    streamrec_learning_rates: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.5)
    trending_half_lives: tuple[int, ...] = TRENDING_HALF_LIVES
    knn_alphas: tuple[float, ...] = (0.5, 0.75, 1.0)
    knn_shrinkages: tuple[float, ...] = (0.0, 10.0, 50.0, 200.0)
    knn_recencies: tuple[float, ...] = (0.0, 5.0, 10.0, 25.0)
    biasedmf_factors: tuple[int, ...] = (8, 16, 32)
    biasedmf_learning_rates: tuple[float, ...] = (0.01, 0.05, 0.1)
    mf_factors: tuple[int, ...] = (10, 50, 100)
    mf_learning_rates: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
    mf_regularisations: tuple[float, ...] = (0.01, 0.1)
    raisgd_negatives: tuple[int, ...] = (1, 3, 10)
    sasrec_epochs: tuple[int, ...] = (10, 30)  # periodic: passes over all history per retrain
    sasrec_steps: tuple[int, ...] = (1, 4)  # incremental: Adam steps per micro-batch
    sasrec_learning_rates: tuple[float, ...] = (1e-3, 5e-3)
    # fixed, not tuned: interactions between retrains, and per micro-batch (the worker's)
    sasrec_retrain_every: int = 1000
    sasrec_batch: int = 64
    # the SASRec baselines cost minutes per replay (periodic retrains): opt in
    sequential: bool = False

    def describe(self) -> dict[str, dict[str, list]]:
        return {
            "streamrec-user": {"ranker_learning_rate": list(self.streamrec_learning_rates)},
            "trending": {"half_life_interactions": list(self.trending_half_lives)},
            "item-knn": {
                "alpha": list(self.knn_alphas),
                "shrinkage": list(self.knn_shrinkages),
                "recency": list(self.knn_recencies),
            },
            "biasedmf-negatives": {
                "factors": list(self.biasedmf_factors),
                "learning_rate": list(self.biasedmf_learning_rates),
            },
            "isgd": {
                "factors": list(self.mf_factors),
                "eta": list(self.mf_learning_rates),
                "lambda": list(self.mf_regularisations),
            },
            "raisgd": {
                "factors": list(self.mf_factors),
                "eta": list(self.mf_learning_rates),
                "lambda": list(self.mf_regularisations),
                "l": list(self.raisgd_negatives),
            },
        } | (
            {}
            if not self.sequential
            else {
                "sasrec-periodic": {
                    "retrain_every": [self.sasrec_retrain_every],
                    "epochs": list(self.sasrec_epochs),
                    "learning_rate": list(self.sasrec_learning_rates),
                },
                "sasrec-incremental": {
                    "batch": [self.sasrec_batch],
                    "steps": list(self.sasrec_steps),
                    "learning_rate": list(self.sasrec_learning_rates),
                },
            }
        )


def default_grids() -> dict[str, dict[str, list]]:
    return Grids().describe()


@dataclass
class Candidates:
    """Models for the tuning replay and, per family, strategy name -> parameters."""

    models: list = field(default_factory=list)
    params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, family: str, model, params_by_name: dict[str, dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
        self.models.append(model)
        self.params.setdefault(family, {}).update(params_by_name)


def candidates(grids: Grids, dim: int) -> Candidates:
    out = Candidates()
    rates = grids.streamrec_learning_rates
    out.add(  # one engine, a ranker per rate (each ranks as its own engine would)
        "streamrec-user",
        RateSweep(dim, EngineConfig(), rates),
        {rate_name(lr): {"learning_rate": lr} for lr in rates},
    )
    out.add(
        "trending",
        PopularityModel(grids.trending_half_lives),
        {f"trending-{h}": {"half_life": h} for h in grids.trending_half_lives},
    )
    variants = [
        KNNVariant(a, s, r)
        for a, s, r in itertools.product(
            grids.knn_alphas, grids.knn_shrinkages, grids.knn_recencies
        )
    ]
    out.add(
        "item-knn",
        ItemKNNModel(variants),
        {
            v.name: {"alpha": v.alpha, "shrinkage": v.shrinkage, "recency": v.recency}
            for v in variants
        },
    )
    for f, lr in itertools.product(grids.biasedmf_factors, grids.biasedmf_learning_rates):
        mf = BiasedMFModel(negatives=True, n_factors=f, learning_rate=lr)
        out.add("biasedmf-negatives", mf, {mf.name: {"n_factors": f, "learning_rate": lr}})
    for f, eta, lam in itertools.product(
        grids.mf_factors, grids.mf_learning_rates, grids.mf_regularisations
    ):
        isgd = ISGDModel(f, eta, lam)
        out.add(
            "isgd", isgd, {isgd.name: {"factors": f, "learning_rate": eta, "regularisation": lam}}
        )
        for negatives in grids.raisgd_negatives:
            raisgd = RAISGDModel(f, eta, lam, negatives)
            out.add(
                "raisgd",
                raisgd,
                {
                    raisgd.name: {
                        "factors": f,
                        "learning_rate": eta,
                        "regularisation": lam,
                        "negatives": negatives,
                    }
                },
            )
    if grids.sequential:
        _sequential(out, grids)
    return out


def _sequential(out: Candidates, grids: Grids) -> None:
    """SASRec candidates; the retrain interval and the micro-batch are fixed."""
    every = grids.sasrec_retrain_every
    for epochs, lr in itertools.product(grids.sasrec_epochs, grids.sasrec_learning_rates):
        periodic = SASRecPeriodic(every, epochs, lr)
        params = {"retrain_every": every, "epochs": epochs, "learning_rate": lr}
        out.add("sasrec-periodic", periodic, {periodic.name: params})
    for steps, lr in itertools.product(grids.sasrec_steps, grids.sasrec_learning_rates):
        incremental = SASRecIncremental(grids.sasrec_batch, steps, lr)
        params = {"batch": grids.sasrec_batch, "steps": steps, "learning_rate": lr}
        out.add("sasrec-incremental", incremental, {incremental.name: params})


def choose(
    summary: dict[str, dict[str, float]], names: Sequence[str], metric: str = "ndcg@10"
) -> str:
    """The name with the best ``metric``; the first in ``names`` on a tie."""
    best = names[0]
    for name in names[1:]:
        if summary.get(name, {}).get(metric, -math.inf) > summary.get(best, {}).get(
            metric, -math.inf
        ):
            best = name
    return best


@dataclass
class Tuning:
    """What was chosen for each family, with the tuning-slice NDCG@10 of every candidate."""

    chosen: dict[str, str]
    params: dict[str, dict[str, Any]]
    scores: dict[str, dict[str, float]]
    interactions: int
    scored: int
    grids: dict[str, dict[str, list]] = field(default_factory=dict)


def tune(
    interactions: Sequence[Interaction],
    vectors: Sequence[np.ndarray | None],
    dim: int,
    tuning_share: float = 0.2,
    grids: Grids | None = None,
    progress: bool = False,
    workers: int = 1,
) -> Tuning:
    """Replay the tuning slice alone with every candidate and choose per family."""
    cut = math.floor(len(interactions) * tuning_share)
    grids = grids or Grids()
    found = candidates(grids, dim)
    result, _ = replay_split(
        interactions[:cut],
        vectors[:cut],
        found.models,
        workers=workers,
        tuning_share=1.0,
        progress=progress,
        tops=False,  # chosen by NDCG: no top k, no coverage
    )
    summary = result.summary("all")
    chosen, params, scores = {}, {}, {}
    for family, by_name in found.params.items():
        names = list(by_name)
        chosen[family] = choose(summary, names)
        params[family] = by_name[chosen[family]]
        scores[family] = {n: round(summary.get(n, {}).get("ndcg@10", 0.0), 5) for n in names}
    return Tuning(chosen, params, scores, cut, len(result.index), grids.describe())
