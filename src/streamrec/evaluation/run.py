"""One backfill evaluation: tune on the tuning slice, then replay everything chosen.

:func:`run_evaluation` chooses every hyper-parameter on the tuning slice
(:mod:`streamrec.evaluation.tuning`), then replays the whole stream with the
chosen StreamRec (online and with batch clustering), the lists it would serve,
and the tuned baselines, each model owning its state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from streamrec.clustering.batch import BatchKMeans
from streamrec.evaluation.baselines import (
    BiasedMFModel,
    ItemKNNModel,
    KNNVariant,
    PopularityModel,
    RandomModel,
    Renamed,
)
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.debias import DEBIAS_STRENGTHS, debias_sweep
from streamrec.evaluation.parallel import replay_split
from streamrec.evaluation.replay import EngineModel
from streamrec.evaluation.result import ReplayResult
from streamrec.evaluation.sequential import SASRecIncremental, SASRecPeriodic
from streamrec.evaluation.served import ScoredAndServed, ServedModel
from streamrec.evaluation.streaming_mf import ISGDModel, RAISGDModel
from streamrec.evaluation.tuning import TRENDING_HALF_LIVES, Grids, Tuning, tune
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine

STREAMREC = "streamrec-user"
BATCH = "batch-user"
SERVED_PRODUCTION = "streamrec-served-batch64-p4"
STRATEGIES = ["user", "cluster", "rerank", "trending"]  # StreamRec's, scored from one engine
PRODUCTION_BATCH, PRODUCTION_PARTITIONS = 64, 4
# tuned baselines reported under their family's name (the tuned choice is in metrics.json)
TUNED_FAMILIES = (
    "trending",
    "popularity",
    "item-knn",
    "biasedmf-negatives",
    "isgd",
    "raisgd",
    "sasrec-periodic",
    "sasrec-incremental",
)
NOT_IN_METRICS = ("ranker_learning_rate", "popularity_debias", "explain_top")
PROTOCOL = {
    "order": "event time; equal timestamps keep the file's order (Amazon times are per day)",
    "serving": "each interaction is served before it is observed (prequential); nothing "
    "from the future reaches what is served",
    "ranking": "full ranking over every item seen so far; the user's own past items are "
    "left out; ties count against the strategy",
    "scored": "interactions whose item was seen before (a new item cannot be ranked)",
    "k": 10,
    "split": "the first 20% of interactions are the tuning slice; every tuned "
    "hyper-parameter (StreamRec's and each baseline's, grids below) is chosen by "
    "NDCG@10 on a replay of that slice alone; metrics are reported on the remaining "
    "80% of the full replay, which runs only the chosen configurations",
    "fed once": "every model owns its state and sees each event exactly once (checked: each "
    "engine's clock equals the events delivered)",
    "mrr": "over the full ranking (served lists: within the list, 0 beyond it)",
    "uncertainty": "95% percentile bootstrap intervals resampling users (all of a user's "
    "scored interactions together), paired across strategies; paired "
    "bootstrap and Wilcoxon signed-rank tests over users against the best "
    "tuned baseline (the tuned baseline with the highest reported NDCG@10)",
}


def fixed_constants(
    config: EngineConfig, batch_refit: int, sequential: bool = False
) -> dict[str, object]:
    """What was fixed in advance (not tuned): StreamRec's constants and the baselines'."""
    # tuned (the learning rate) or serving-only (debias: its sweep is in fairness.json)
    engine = {k: v for k, v in asdict(config).items() if k not in NOT_IN_METRICS}
    constants = {
        "streamrec engine (EngineConfig; half-lives in events, 2 per interaction)": engine,
        "streamrec ranker": "features and their number fixed; l2 1e-4; negatives 10",
        "streamrec-trending": f"half-life {config.trending_half_life:g} events "
        f"({config.trending_half_life / 2:g} interactions)",
        "batch twin": f"k-means k={config.n_clusters}, refit every {batch_refit} reviews",
        "served (production)": f"micro-batch {PRODUCTION_BATCH} reviews (or "
        f"{4 * PRODUCTION_BATCH} events), {PRODUCTION_PARTITIONS} "
        "partitions",
        "item-knn": "the user's last 50 items",
        "biasedmf-negatives": "one sampled unseen item per event as y=0; l2 0.001; init N(0, 0.1)",
        "isgd/raisgd": "init N(0, 0.1); unknown users scored with zeros",
        "sasrec": "2 blocks, 64 dimensions, 1 head, the last 50 items, dropout 0.2, Adam, "
        "full-softmax next-item loss; a start token scores users with no history",
        "sasrec-periodic": "retrained from scratch on all history every retrain_every "
        "interactions (fixed, in its grid), batches of 128 windows",
        "sasrec-incremental": "micro-batches of batch interactions (fixed, in its grid), "
        "each user's latest window",
        "random": "seed 0",
    }
    if not sequential:  # the SASRec baselines did not run
        constants = {k: v for k, v in constants.items() if not k.startswith("sasrec")}
    return constants


@dataclass
class Evaluation:
    dataset: str
    result: ReplayResult
    seconds: float
    tuning: Tuning
    config: EngineConfig
    batch_refit: int = 1000
    command: str = ""
    resamples: int = 1000
    cluster_sizes: list[tuple[float, dict[int, float]]] = field(default_factory=list)
    clocks: dict[str, int] = field(default_factory=dict)  # model -> its engine's clock
    debias: tuple[float, ...] = ()  # strengths of the re-rank sweep (fairness.json)
    tuning_seconds: float = 0.0  # of ``seconds``: the replay of the tuning slice

    @property
    def model_seconds(self) -> dict[str, float]:
        """Wall seconds each model took in the final replay, the costliest first (on two
        processes they overlap: their sum exceeds the replay's own seconds)."""
        pairs = sorted(self.result.seconds.items(), key=lambda pair: (-pair[1], pair[0]))
        return {label: round(seconds, 3) for label, seconds in pairs}

    @property
    def chosen(self) -> dict[str, str]:
        return self.tuning.chosen

    def baseline_rows(self) -> dict[str, str]:
        """Tuned baselines: family -> the row that reports it."""
        rows = {f: f for f in TUNED_FAMILIES if f == "popularity" or f in self.chosen}
        rows["trending"] = self.chosen["trending"]
        return rows


def final_models(
    tuning: Tuning, dim: int, config: EngineConfig, batch_refit: int, served: bool = False
) -> list:
    """The chosen configurations, each model with its own state (with ``served``, the
    engine of StreamRec's strategies also writes the best-case served lists)."""
    p = tuning.params
    knn = p["item-knn"]
    mf = p["biasedmf-negatives"]
    models: list = [
        RandomModel(),
        PopularityModel(TRENDING_HALF_LIVES),
        Renamed(
            ItemKNNModel([KNNVariant(knn["alpha"], knn["shrinkage"], knn["recency"])]),
            {KNNVariant(knn["alpha"], knn["shrinkage"], knn["recency"]).name: "item-knn"},
        ),
        _renamed(
            BiasedMFModel(
                negatives=True, n_factors=mf["n_factors"], learning_rate=mf["learning_rate"]
            ),
            "biasedmf-negatives",
        ),
        _renamed(ISGDModel(**p["isgd"]), "isgd"),
        _renamed(RAISGDModel(**p["raisgd"]), "raisgd"),
        # one engine, one wrapper: every StreamRec strategy scored from the same state
        (
            ScoredAndServed(Engine(dim, unexplained(config)), STRATEGIES)
            if served
            else EngineModel(Engine(dim, config), STRATEGIES)
        ),
        EngineModel(
            Engine(
                dim, config, clusterer=BatchKMeans(k=config.n_clusters, refit_every=batch_refit)
            ),
            ["user"],
            prefix="batch-",
        ),
    ]
    if "sasrec-periodic" in p:  # opted in (Grids.sequential)
        models[-2:-2] = [
            _renamed(SASRecPeriodic(**p["sasrec-periodic"]), "sasrec-periodic"),
            _renamed(SASRecIncremental(**p["sasrec-incremental"]), "sasrec-incremental"),
        ]
    return models


def unexplained(config: EngineConfig) -> EngineConfig:
    """The configuration of an engine that writes served lists: they are scored by their
    items alone, so explanations would only cost time."""
    return replace(config, explain_top=0)


def _renamed(model, name: str) -> Renamed:  # type: ignore[no-untyped-def]
    return Renamed(model, {model.name: name})


def run_evaluation(
    dataset: str,
    interactions: Sequence[Interaction],
    vectors: Sequence[np.ndarray | None],
    dim: int,
    grids: Grids | None = None,
    batch_refit: int = 1000,
    served: bool = True,
    progress: bool = True,
    resamples: int = 1000,
    command: str = "",
    workers: int = 1,
) -> Evaluation:
    """Choose every hyper-parameter on the tuning slice, then replay the whole stream with
    the chosen StreamRec, its batch twin, the served lists and the tuned baselines."""
    start = time.perf_counter()
    tuning = tune(interactions, vectors, dim, grids=grids, progress=progress, workers=workers)
    tuned = time.perf_counter()
    config = EngineConfig(ranker_learning_rate=tuning.params["streamrec-user"]["learning_rate"])
    models = final_models(tuning, dim, config, batch_refit, served)
    reference = models[-2].engine
    served_models = (
        [
            models[-2],  # the best case, from the strategies' engine (ScoredAndServed)
            ServedModel(
                Engine(dim, unexplained(config)),
                SERVED_PRODUCTION,
                batch_reviews=PRODUCTION_BATCH,
                partitions=PRODUCTION_PARTITIONS,
            ),
        ]
        if served
        else []
    )
    sizes: list[tuple[float, dict[int, float]]] = []

    def record_sizes(n: int) -> None:
        if n % 250 == 0:
            snapshot = reference.clusterer.snapshot()
            sizes.append(
                (
                    interactions[n].ts,
                    dict(zip(snapshot.ids.tolist(), snapshot.weights.tolist(), strict=True)),
                )
            )

    result, engine_clocks = replay_split(
        interactions,
        vectors,
        models,
        served_models,
        workers=workers,
        anchor=[models[-2]],  # the callbacks read the reference engine
        progress=progress,
        on_step=record_sizes,
        cluster_of=reference.user_cluster,
        extras=debias_sweep(models[-2].view, DEBIAS_STRENGTHS),
    )
    named = [next(iter(m.strategies())) for m in models] + [m.name for m in served_models]
    clocks = {n: c for n, c in zip(named, engine_clocks, strict=True) if c is not None}
    return Evaluation(
        dataset,
        result,
        time.perf_counter() - start,
        tuning,
        config,
        batch_refit,
        command,
        resamples,
        cluster_sizes=sizes,
        clocks=clocks,
        debias=DEBIAS_STRENGTHS,
        tuning_seconds=tuned - start,
    )
