"""One replay over two processes: the models split between them, the ranks joined.

Every model learns only from the stream and scores only from its own state, so
a model replayed in another process gives exactly the ranks it gives beside the
others: the joined result equals the single-process one, and the report built
from it is the same to the byte (``tests/streamrec/evaluation/test_parallel.py``).
On two cores the wall time is about that of the heavier half.

The second process is spawned (a fresh interpreter: a forked child deadlocks in
OpenMP, e.g. scikit-learn's k-means, once the parent has used its thread pool)
with the untouched models, the stream, this process's BLAS and OpenMP
thread limits (so it computes exactly what it would here) and its garbage
collector thresholds (so it runs as fast); it replays its half
without progress bar or callbacks (those stay with the models they read, in
this process) and sends back its ranks, tops and engine clocks. With one
worker the replay runs in this process.
"""

from __future__ import annotations

import gc
import multiprocessing
import traceback
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.replay import distinct, replay
from streamrec.evaluation.result import ReplayResult

LOCAL_ONLY = ("progress", "on_step", "cluster_of", "extras")  # options of this process only
RANKING = 0.02  # seconds per 1,000 events to rank one strategy's scores (see weight)
EXTRA = 0.05  # per extra (a debias strength: the user's scores reweighted, then ranked; 58 s)


def replay_split(
    interactions: Sequence[Interaction],
    vectors: Sequence[np.ndarray | None],
    models: Sequence,
    served: Sequence = (),
    workers: int = 2,
    anchor: Sequence = (),
    **options: Any,
) -> tuple[ReplayResult, list[int | None]]:
    """:func:`~streamrec.evaluation.replay.replay` with the models on ``workers`` (1 or
    2) processes; ``anchor`` are models the callbacks in ``options`` read (they stay
    here). Returns the result and each model's engine clock (None: no engine), in the
    order of ``[*models, *served]``."""
    every = [*models, *served]  # a model that is scored and serves is in both
    each = distinct(every)
    _one_engine_each(each)
    if workers < 2 or len(each) < 2:
        result = replay(interactions, vectors, models, served, **options)
        return result, [_clock(m) for m in every]
    extras = len(options.get("extras") or {})  # scored here, beside the anchored models
    away = _balanced(each, {id(m) for m in anchor}, EXTRA * extras)
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    child_options = {k: v for k, v in options.items() if k not in LOCAL_ONLY}
    split = (_only(models, away), _only(served, away))
    limits = _thread_limits()
    process = context.Process(
        target=_replay_away,
        args=(
            writer,
            list(interactions),
            list(vectors),
            *split,
            child_options,
            limits,
            gc.get_threshold(),
        ),
    )
    process.start()
    writer.close()
    try:
        result = replay(
            interactions,
            vectors,
            _only(models, away, keep=False),
            _only(served, away, False),
            **options,
        )
        payload = reader.recv()
    finally:
        process.join()
    if isinstance(payload, str):
        raise RuntimeError(f"the second replay process failed:\n{payload}")
    ranks, tops, clocks, seconds = payload
    result.seconds.update(seconds)  # each model ran in one of the two processes
    order = [*_names(models), *(s.name for s in served)]
    result.ranks, result.tops = (
        _joined(result.ranks, ranks, order),
        _joined(result.tops, tops, order),
    )
    their_clocks = iter(clocks)  # in the order of ``every``, as sent
    return result, [next(their_clocks) if id(m) in away else _clock(m) for m in every]


def _thread_limits() -> dict[str, int]:
    """This process's thread count per library kind (BLAS, OpenMP): the other process
    uses the same, so its sums are the same."""
    limits: dict[str, int] = {}
    for pool in threadpool_info():
        api, threads = pool["user_api"], int(pool["num_threads"])
        limits[api] = min(threads, limits.get(api, threads))
    return limits


def _replay_away(  # type: ignore[no-untyped-def]
    writer, interactions, vectors, models, served, options, limits, gc_thresholds
) -> None:
    gc.set_threshold(*gc_thresholds)
    try:
        with threadpool_limits(limits=limits):
            result = replay(interactions, vectors, models, served, **options)
        payload: object = (
            dict(result.ranks),
            dict(result.tops),
            [_clock(m) for m in [*models, *served]],
            dict(result.seconds),
        )
    except BaseException:  # the parent raises it with this traceback
        payload = traceback.format_exc()
    writer.send(payload)
    writer.close()


def _joined(mine: dict, theirs: dict, order: list[str]) -> dict:
    """Both processes' lists per strategy, keys in the one-process order."""
    joined: dict = defaultdict(list)
    for name in order:
        if name in mine or name in theirs:
            joined[name] = mine[name] if name in mine else theirs[name]
    return joined


def _names(models: Sequence) -> list[str]:
    return [name for model in models for name in model.strategies()]


def _only(models: Sequence, away: set[int], keep: bool = True) -> list:
    return [m for m in models if (id(m) in away) == keep]


def _clock(model: object) -> int | None:
    engine = getattr(model, "engine", None)
    return None if engine is None else int(engine.clock)


def _one_engine_each(models: Sequence) -> None:
    engines = [id(m.engine) for m in models if getattr(m, "engine", None) is not None]
    if len(set(engines)) < len(engines):
        raise RuntimeError("one engine is wrapped by two models; it would learn twice")


def weight(model: object) -> float:
    """A rough cost per event, to balance the two halves (only the wall time depends on
    it), in seconds per 1,000 events, from the ``model_seconds`` of full MovieLens
    replays on the machine of 2026-12-04 (an engine's cost grows with the users'
    histories, so a short replay underweights it). An engine learns (2.14) and scores
    each strategy (0.15: the full-catalogue products of ``cluster`` and ``rerank``;
    570 s with four, 466 s with one); a served model alone builds lists after every event
    (2.63) or every micro-batch (0.78); an engine that is scored and serves
    (:class:`~streamrec.evaluation.served.ScoredAndServed`) adds its lists (0.6: 640 s).
    The baselines from a 15,000-rating replay with every model timed on its own, and
    item-kNN from the full replay (80-91 s): River's BiasedMF costs 0.1 plus 0.005 per
    factor; ISGD and RAISGD score the catalogue and step once per negative; item-kNN's
    variants share one similarity table. Ranking a strategy's scores costs about 0.02
    (popularity's seven strategies: 33 s)."""
    inner = getattr(model, "model", model)  # Renamed
    ranking = RANKING * (len(model.strategies()) if hasattr(model, "strategies") else 1)
    if getattr(inner, "engine", None) is not None:
        scored = hasattr(inner, "names")  # an EngineModel: learns and scores
        cost = 2.14 + 0.15 * len(inner.names) if scored else 0.0
        if hasattr(inner, "serve"):
            batched = getattr(inner, "batch_reviews", None) is not None
            cost += 0.78 if batched else 0.6 if scored else 2.63
        return ranking + cost
    n_factors = getattr(inner, "n_factors", None)
    if n_factors is not None:
        return ranking + 0.1 + 0.005 * n_factors
    factors = getattr(inner, "factors", None)
    if factors is not None:
        return ranking + 0.04 + 0.0006 * factors + 0.02 * int(getattr(inner, "negatives", 0))
    variants = getattr(inner, "variants", None)
    if variants is not None:
        return ranking + 0.35 + 0.012 * len(variants)
    return ranking + 0.02


def _balanced(models: Sequence, anchored: set[int], extra: float = 0.0) -> set[int]:
    """Ids of the models for the second process: the heaviest first, each to the lighter
    side (anchored models stay here, with ``extra``: what else this process scores)."""
    load = [extra + sum(weight(m) for m in models if id(m) in anchored), 0.0]
    away: set[int] = set()
    free = sorted((m for m in models if id(m) not in anchored), key=weight, reverse=True)
    for model in free:
        side = 0 if load[0] <= load[1] else 1
        load[side] += weight(model)
        if side == 1:
            away.add(id(model))
    return away
