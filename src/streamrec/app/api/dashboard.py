"""Data behind the dashboard's views; each call also samples its time series."""

from __future__ import annotations

import itertools
import json
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from streamrec.app.api.context import ApiContext
from streamrec.app.api.history import rolling_arms

KNOWN_STRATEGIES = ("user", "cluster", "rerank", "trending", "popularity")
router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])


def _ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


@router.get("/overview")
def overview(request: Request) -> dict:
    """Events/s (from the worker group's committed offsets), lag per partition, freshness
    (seconds since the recs were last written), dead letters."""
    ctx = _ctx(request)
    lag = ctx.kafka.lag()
    processed = sum(p["committed"] for p in lag)
    trending = ctx.redis.get(ctx.serving_keys().trending())
    written = _produced_at(trending)
    current = {
        "processed": processed,
        "dead_letters": ctx.kafka.dead_letters(),
        "freshness_s": round(time.time() - written, 3) if written else None,
        "lag_total": sum(p["lag"] for p in lag),
    }
    series = ctx.sampler.sample("overview", lambda: current)
    _add_rates(series)
    return {**current, "lag": lag, "model": ctx.model_summary(), "series": series}


def _produced_at(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    return float(json.loads(raw).get("produced_at") or 0) or None


def _add_rates(series: list[dict]) -> None:
    for before, after in itertools.pairwise(series):
        dt = after["t"] - before["t"]
        after["events_per_s"] = max(0.0, (after["processed"] - before["processed"]) / dt)
    if series:
        series[0].setdefault("events_per_s", 0.0)


@router.get("/clusters")
def clusters(request: Request) -> dict:
    """The 2-D map of users, the live clusters, their sizes over time, lifecycle events."""
    ctx = _ctx(request)
    summaries = ctx.clusters()
    sizes = {str(c.cluster_id): c.users for c in summaries}
    series = ctx.sampler.sample("cluster_sizes", lambda: {"sizes": sizes})
    return {
        "clusters": [c.model_dump() for c in summaries],
        "map": ctx.serving().get().map_points,
        "sizes": series,
        "lifecycle": ctx.kafka.read_lifecycle()[-200:],
    }


@router.get("/strategies")
def strategies(
    request: Request, window_s: Annotated[float, Query(gt=0, le=86_400)] = 300.0
) -> dict:
    """Per strategy and experiment arm: CTR and NDCG@10 with 95% intervals over the last
    ``window_s`` seconds at each sample (``rolling``), the current cumulative report, and
    the sidecar's rolling metrics."""
    ctx = _ctx(request)
    report = ctx.experiments()
    served = list(report.get("strategies", {}).get("arms", {}))  # every strategy served
    metrics = ctx.strategy_metrics(sorted({*served, *KNOWN_STRATEGIES}))
    series = ctx.sampler.sample("strategies", lambda: {"experiments": report})
    return {
        "metrics": metrics,
        "experiments": report,
        "window_s": window_s,
        "rolling": rolling_arms(series, window_s),
    }
