"""Serve-then-observe replay of history: prequential, full-ranking evaluation.

For each interaction in event-time order (ties in file order), every strategy
first scores every item seen so far for that user, leaving out the user's own
past items; the rank of the item the user actually chose gives HR@k, NDCG@k,
MAP@k and MRR (ties count against the strategy). Only then is the interaction
(click and review) delivered to every model. Nothing from the future reaches
what is served. Interactions with an item never seen before cannot be ranked
by anyone and are not scored.

Models learn from the same stream side by side (see :mod:`streamrec.evaluation.baselines`);
StreamRec's engine is one of them. What the pipeline serves is
replayed by a :class:`Served` model: :class:`streamrec.evaluation.served.ServedModel`
in-process, or :mod:`streamrec.app.replay_pipeline` through Kafka and Redis,
both through this same loop.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from streamrec.evaluation.baselines import ItemIndex, ScoreFn
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.metrics import rank_of
from streamrec.evaluation.result import ReplayResult
from streamrec.evaluation.shared_reads import SharedReads
from streamrec.model.engine import Engine
from streamrec.serving.fallback import Answer


class Served(Protocol):
    """Something that serves a list through the fallback chain, then observes the stream:
    :class:`ServedModel` in-process, or the real pipeline (Kafka, worker, Redis)."""

    name: str

    def serve(self, user_id: str) -> Answer: ...

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None: ...

    def flush(self) -> None: ...


class Catalog:
    """Items seen so far (first-appearance rows) and each user's past items."""

    def __init__(self) -> None:
        self.items = ItemIndex()
        self.seen: dict[str, set[int]] = defaultdict(set)
        self.activity: dict[str, int] = defaultdict(int)  # interactions per user so far
        self._counts = np.zeros(1024, dtype=np.int64)  # room to grow into (doubling)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def counts(self) -> np.ndarray:
        """Interactions per item row so far (a view: the fairness context reads it at
        every scored interaction, so it is not converted from a list each time)."""
        return self._counts[: len(self.items)]

    def target(self, interaction: Interaction) -> int | None:
        """The item's row when this interaction can be scored: the item was seen before
        (a new item cannot be ranked) and not by this user (seen items are left out)."""
        row = self.items.rows.get(interaction.item_id)
        seen = self.seen.get(interaction.user_id, ())
        return None if row is None or row in seen else row

    def exclude(self, user_id: str) -> np.ndarray:
        """Rows of the user's past items."""
        return np.fromiter(self.seen.get(user_id, ()), dtype=np.int64)

    def add(self, interaction: Interaction) -> None:
        row = self.items.row(interaction.item_id)
        self.seen[interaction.user_id].add(row)
        self.activity[interaction.user_id] += 1
        if row >= self._counts.size:
            self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)])
        self._counts[row] += 1


class EngineModel:
    """StreamRec's engine, its named strategies scored fresh at serve time.

    The wrapper owns its engine: list every strategy to score in ``names``
    rather than wrapping one engine twice (each wrapper feeds it every event,
    so two would double its counts and halve its half-lives).
    """

    def __init__(
        self,
        engine: Engine,
        names: Sequence[str] | None = None,
        prefix: str = "streamrec-",
        suffix: str = "",
    ) -> None:
        self.engine = engine
        self.view = SharedReads(engine)  # the strategies' common reads, once per clock
        self.names = list(names or engine.strategies)
        self.prefix, self.suffix = prefix, suffix
        self.delivered = 0  # events handed to the engine

    def strategies(self) -> dict[str, ScoreFn]:
        return {
            f"{self.prefix}{name}{self.suffix}": (
                lambda user, n=name: self.engine.strategies[n].scores(self.view, user, None)
            )
            for name in self.names
        }

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        events = interaction.events()
        vectors = (
            vector[None]
            if vector is not None and len(events) == 2
            else np.zeros((0, self.engine.dim), dtype=np.float32)
        )
        self.engine.apply(events, vectors, outputs=False)
        self.delivered += len(events)


EXTRAS_LABEL = "extras (scored beside, not reported)"


def model_label(model: object) -> str:
    """How a model is named in the replay's timing: by its strategies (the first and a
    count past four), then the name of the list it serves, if it serves one.

    >>> class Two:
    ...     def strategies(self):
    ...         return {"a": None, "b": None}
    >>> model_label(Two())
    'a + b'
    """
    names = list(model.strategies()) if hasattr(model, "strategies") else []
    label = " + ".join(names) if len(names) <= 4 else f"{names[0]} + {len(names) - 1} more"
    if not hasattr(model, "serve"):
        return label
    served = str(model.name)  # type: ignore[attr-defined]
    return f"{label} + {served}" if label else served


def distinct(models: Sequence) -> list:
    """Each model once, in order: a model that is scored and serves is in both lists."""
    return list({id(m): m for m in models}.values())


def check_fed_once(models: Sequence, delivered: int) -> None:
    """Every engine belongs to one model and has seen each delivered event exactly once."""
    fed = [m for m in distinct(models) if getattr(m, "engine", None) is not None]
    if len({id(m.engine) for m in fed}) < len(fed):
        raise RuntimeError("one engine is wrapped by two models; it would learn twice")
    for model in fed:
        if model.engine.clock != model.delivered or model.delivered != delivered:
            raise RuntimeError(
                f"engine clock {model.engine.clock}, model fed "
                f"{model.delivered}, events delivered {delivered}"
            )


def replay(
    interactions: Sequence[Interaction],
    vectors: Sequence[np.ndarray | None],
    models: Sequence,
    served: Served | Sequence[Served] | None = None,
    k: int = 10,
    tuning_share: float = 0.2,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
    cluster_of: Callable[[str], int | None] | None = None,
    extras: dict[str, ScoreFn] | None = None,
    tops: bool = True,
) -> ReplayResult:
    """Serve every strategy, then let every model observe, interaction by interaction.

    At the end every engine must have seen each delivered event exactly once
    (:func:`check_fed_once`), else the replay fails. ``cluster_of`` names the served
    user's cluster (for the fairness breakdown); ``extras`` are scored like the
    strategies into :attr:`ReplayResult.extra_ranks`. Without ``tops`` only ranks are
    kept (no top k, no coverage): tuning chooses by NDCG alone, and a strategy's top k
    costs more than its rank.
    """
    catalog = Catalog()
    cut = math.floor(len(interactions) * tuning_share)
    result = ReplayResult(k=k, tuning_cut=cut, with_tops=tops)
    served = [] if served is None else list(served) if isinstance(served, Sequence) else [served]
    delivered = 0
    strategies = {name: fn for model in models for name, fn in model.strategies().items()}
    owner = {name: model_label(model) for model in models for name in model.strategies()}
    owner.update({name: EXTRAS_LABEL for name in extras or {}})
    learners = [(model, model_label(model)) for model in distinct([*models, *served])]
    labels = {id(model): name for model, name in learners}
    seconds = result.seconds
    steps: Sequence[int] | object = range(len(interactions))
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="replay", unit="ev")
    for n in steps:  # type: ignore[attr-defined]
        interaction, vector = interactions[n], vectors[n]
        target = catalog.target(interaction)
        if target is not None:
            cluster = None if cluster_of is None else cluster_of(interaction.user_id)
            prior = catalog.activity[interaction.user_id]
            result.context.record(prior, cluster, catalog.counts, target)
            _score(result, catalog, strategies, interaction, target, k, served, n, owner, labels)
            _rank_all(
                result.extra_ranks,
                result.extra_tops if result.with_tops else None,
                catalog,
                extras or {},
                interaction,
                target,
                k,
                (seconds, owner),
            )
        catalog.add(interaction)
        delivered += len(interaction.events())
        for model, label in learners:
            start = time.perf_counter()
            model.observe(interaction, vector)
            seconds[label] += time.perf_counter() - start
        if on_step is not None:
            on_step(n)
    for model in served:
        start = time.perf_counter()
        model.flush()
        seconds[labels[id(model)]] += time.perf_counter() - start
    check_fed_once([*models, *served], delivered)
    result.catalogue, result.delivered = len(catalog), delivered
    result.item_counts = dict(zip(catalog.items.ids, catalog.counts.tolist(), strict=True))
    return result


def _score(
    result: ReplayResult,
    catalog: Catalog,
    strategies: dict[str, ScoreFn],
    interaction: Interaction,
    target: int,
    k: int,
    served: Sequence[Served],
    n: int,
    owner: dict[str, str],
    labels: dict[int, str],
) -> None:
    """Rank every strategy's scores, then every served list (``owner``: each strategy's
    timing label, ``labels``: each served model's, by id)."""
    result.add_scored(n, interaction.ts, interaction.user_id)
    timed = (result.seconds, owner)
    top = result.tops if result.with_tops else None
    _rank_all(result.ranks, top, catalog, strategies, interaction, target, k, timed)
    for model in served:
        start = time.perf_counter()
        answer = model.serve(interaction.user_id)
        result.seconds[labels[id(model)]] += time.perf_counter() - start
        result.add_served(answer, interaction.item_id, model.name)


def _rank_all(
    ranks: dict[str, list[int]],
    tops: dict[str, list[list[str]]] | None,
    catalog: Catalog,
    strategies: dict[str, ScoreFn],
    interaction: Interaction,
    target: int,
    k: int,
    timed: tuple[dict[str, float], dict[str, str]] | None = None,
) -> None:
    """Each strategy's rank of the target and (unless ``tops`` is None) its top k, the
    user's own items left out (``timed``: seconds per label and each strategy's label,
    to add the time to)."""
    exclude = catalog.exclude(interaction.user_id)
    size = len(catalog)
    for name, score in strategies.items():
        start = time.perf_counter()
        scores = np.asarray(score(interaction.user_id), dtype=np.float64)[:size].copy()
        if len(scores) < size:
            scores = np.concatenate([scores, np.zeros(size - len(scores))])
        scores[exclude] = -np.inf
        ranks[name].append(rank_of(scores, target))
        if tops is not None:
            top = np.argpartition(-scores, min(k, size - 1))[:k] if size > k else np.arange(size)
            tops[name].append([catalog.items.ids[i] for i in top])
        if timed is not None:
            timed[0][timed[1][name]] += time.perf_counter() - start
