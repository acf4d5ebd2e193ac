"""The ``/v1`` endpoints: recommendations, clusters, similar items, events, experiments."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from kafka.errors import KafkaError
from prometheus_client import Counter

from streamrec.app.api.context import ApiContext
from streamrec.app.api.recs import recommend, walk_chain
from streamrec.core.events import ClickEvent, InvalidEvent, ReviewEvent, parse_event

MAX_EVENTS_PER_POST = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
ACCEPTED = Counter("streamrec_api_events_accepted_total", "Events accepted by POST /v1/events")
REJECTED = Counter("streamrec_api_events_rejected_total", "Requests to POST /v1/events refused")

router = APIRouter(prefix="/v1")
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
ItemId = UserId


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx


@router.get("/users/{user_id}/recs", tags=["recommendations"])
async def get_recs(
    request: Request,
    user_id: UserId,
    k: Annotated[int | None, Query(ge=1, le=1000)] = None,
    strategy: Literal["user", "cluster", "trending"] | None = None,
) -> dict:
    """The user's list through the fallback chain (user -> cluster -> trending), seen items
    left out; publishes the ``ImpressionEvent`` of what it returns (``impression_id``).
    Without ``strategy`` the first configured experiment picks the user's arm.

    Runs on the event loop, not in the thread pool: its few loopback Redis reads take
    well under a millisecond, less than the hop to a worker thread costs under load."""
    ctx = ctx_of(request)
    return recommend(ctx, user_id, k or ctx.settings.api_default_k, strategy)


@router.get("/users/{user_id}", tags=["recommendations"])
def get_user(
    request: Request, user_id: UserId, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict:
    """Why the user gets their list: the list and level (no impression is published), the
    nearest clusters with labels, the items they engaged with and items similar to them."""
    ctx = ctx_of(request)
    level, recs, items, assignment = walk_chain(ctx, user_id, ("user", "cluster", "trending"))
    snapshot = ctx.serving().get()
    summaries = {c.cluster_id: c for c in ctx.clusters()}
    cluster = summaries.get(assignment.cluster_id) if assignment else None
    reviewed = snapshot.seen.get(user_id, [])
    return {
        "user_id": user_id,
        "level": level,
        "strategy": recs.get("strategy") if recs else None,
        "as_of": recs.get("as_of") if recs else None,
        "items": items[:k],
        "assignment": assignment.model_dump() if assignment else None,
        "cluster": cluster.model_dump() if cluster else None,
        "reviewed": [
            {"item_id": item, "similar": snapshot.similar(item, 5) or []}
            for item in reviewed[-5:][::-1]
        ],
    }


@router.get("/clusters", tags=["clusters"])
def get_clusters(request: Request) -> list[dict]:
    """Every live cluster: labels, users, weight, representative items and review ids."""
    ctx = ctx_of(request)
    parents = _parents(ctx.kafka.read_lifecycle())
    return [{**c.model_dump(), "parent": parents.get(c.cluster_id)} for c in ctx.clusters()]


@router.get("/clusters/{cluster_id}", tags=["clusters"])
def get_cluster(request: Request, cluster_id: int) -> dict:
    """One cluster with its parent (the cluster it split from, if any) and its lifecycle."""
    ctx = ctx_of(request)
    found = next((c for c in ctx.clusters() if c.cluster_id == cluster_id), None)
    if found is None:
        raise HTTPException(404, f"no live cluster {cluster_id}")
    events = ctx.kafka.read_lifecycle()
    mine = [
        e for e in events if e.get("cluster_id") == cluster_id or cluster_id in e.get("related", [])
    ]
    return {**found.model_dump(), "parent": _parents(events).get(cluster_id), "lifecycle": mine}


def _parents(events: list[dict]) -> dict[int, int]:
    """Child -> the cluster it split from (the latest split that produced it)."""
    return {
        e["cluster_id"]: e["related"][0]
        for e in events
        if e.get("kind") == "split" and e.get("related")
    }


@router.get("/items/{item_id}/similar", tags=["items"])
def get_similar(
    request: Request, item_id: ItemId, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict:
    """Items whose reviews read most alike (cosine of the items' review-text vectors)."""
    similar = ctx_of(request).serving().get().similar(item_id, k)
    if similar is None:
        raise HTTPException(404, f"item {item_id} is unknown to the model")
    return {"item_id": item_id, "similar": similar}


@router.post("/events", status_code=202, tags=["events"])
async def post_events(request: Request) -> dict:
    """One review or click event, or a JSON array of up to 1000; validated by the Kafka
    schemas and acknowledged by the broker before the 202."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        REJECTED.inc()
        raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
    events = _parse_events(body)
    try:
        ctx_of(request).kafka.publish_events(events)
    except KafkaError as error:
        raise HTTPException(503, f"Kafka did not acknowledge the events: {error}") from None
    ACCEPTED.inc(len(events))
    return {"accepted": len(events), "event_ids": [e.event_id for e in events]}


def _parse_events(body: bytes) -> list[ReviewEvent | ClickEvent]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        REJECTED.inc()
        raise HTTPException(400, f"not JSON: {error}") from None
    items = data if isinstance(data, list) else [data]
    if not 1 <= len(items) <= MAX_EVENTS_PER_POST:
        REJECTED.inc()
        raise HTTPException(422, f"send 1 to {MAX_EVENTS_PER_POST} events")
    events = []
    for n, item in enumerate(items):
        try:
            event = parse_event(json.dumps(item))
        except InvalidEvent as error:
            REJECTED.inc()
            raise HTTPException(422, f"event {n}: {error.reason}") from None
        if not isinstance(event, ReviewEvent | ClickEvent):
            REJECTED.inc()
            raise HTTPException(422, f"event {n}: only review and click events are accepted")
        events.append(event)
    return events


@router.get("/experiments", tags=["experiments"])
def get_experiments(request: Request) -> dict:
    """The configured experiments and the sidecar's per-arm report (CTR, NDCG@10, 95% CIs,
    p-values, verdict)."""
    ctx = ctx_of(request)
    return {
        "configured": [e.model_dump() for e in ctx.settings.experiments],
        "alpha": ctx.settings.experiment_alpha,
        "min_impressions": ctx.settings.experiment_min_impressions,
        "report": ctx.experiments(),
    }
