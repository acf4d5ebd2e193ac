"""The HTTP API and dashboard (``streamrec serve``): FastAPI on uvicorn.

``/v1/*`` needs the header ``X-API-Key`` when ``STREAMREC_API_KEY`` is set;
health, ``/metrics``, ``/docs`` and the dashboard's static files never do (the
dashboard sends the key it is given).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from kafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from streamrec.app.api import dashboard, routes
from streamrec.app.api.context import ApiContext
from streamrec.core.settings import Settings

LATENCY = Histogram(
    "streamrec_api_request_seconds",
    "HTTP request latency by route",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)


def create_app(settings: Settings, ctx: ApiContext | None = None) -> FastAPI:
    """The app; ``ctx`` (connections) is built from ``settings`` at start-up unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = ctx is None
        app.state.ctx = ctx or ApiContext.from_settings(settings)
        threading.Thread(target=app.state.ctx.warm_up, daemon=True).start()
        yield
        if own:
            app.state.ctx.close()

    app = FastAPI(
        title="StreamRec",
        version="1",
        description="Streaming recommendations from what users write.",
        lifespan=lifespan,
    )
    if ctx is not None:
        app.state.ctx = ctx
    guard = [Depends(_api_key_check(settings))]
    app.include_router(routes.router, dependencies=guard)
    app.include_router(dashboard.router, dependencies=guard)
    _add_ops(app)
    app.add_exception_handler(KafkaError, _unavailable)
    app.add_exception_handler(RedisError, _unavailable)
    static = resources.files("streamrec.app.api") / "static"
    app.mount("/", StaticFiles(directory=str(static), html=True), name="dashboard")
    app.add_middleware(_Timing)
    return app


def _api_key_check(settings: Settings):  # type: ignore[no-untyped-def]
    expected = settings.api_key.get_secret_value().encode() if settings.api_key else None

    def check(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("x-api-key", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong X-API-Key")

    return check


def _add_ops(app: FastAPI) -> None:
    @app.get("/health/live", tags=["ops"])
    def live() -> dict:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/health/ready", tags=["ops"])
    def ready(request: Request) -> JSONResponse:
        """Kafka and Redis are reachable (503 otherwise)."""
        ctx: ApiContext = request.app.state.ctx
        checks = {"redis": _redis_ok(ctx), "kafka": ctx.kafka.reachable()}
        ok = all(checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, 200 if ok else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    """A server behind the API is down: 503 with the reason, never a 500."""
    return JSONResponse({"detail": f"{type(error).__name__}: {error}"}, 503)


def _redis_ok(ctx: ApiContext) -> bool:
    try:
        return bool(ctx.redis.ping())
    except Exception:  # any failure means not ready; the probe must answer, not crash
        return False


class _Timing:
    """Latency per route template (not per raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def record(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "static") if route is not None else "other"
            LATENCY.labels(name, str(status[0])).observe(time.perf_counter() - start)
