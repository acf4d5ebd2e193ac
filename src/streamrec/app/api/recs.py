"""GET recs: the experiment arm, the fallback chain with seen items filtered, the impression.

Lists are read as plain JSON, not through :class:`RecList`: an item passes on every
field the worker wrote (e.g. a per-item explanation ``why``) without the API knowing
it, and decoding stays cheap on the hot path.
"""

from __future__ import annotations

import json
import time
import uuid

from streamrec.app.api.context import ApiContext
from streamrec.core.events import ImpressionEvent
from streamrec.core.experiments import assign_arm
from streamrec.serving.schema import Assignment

CHAINS = {
    "user": ("user", "cluster", "trending"),
    "cluster": ("cluster", "trending"),
    "trending": ("trending",),
}


def recommend(ctx: ApiContext, user_id: str, k: int, strategy: str | None) -> dict:
    """The answer body; publishes the impression of what it serves."""
    experiment = arm = None
    if strategy is None and ctx.settings.experiments:
        chosen = ctx.settings.experiments[0]
        picked = assign_arm(chosen, user_id)
        experiment, arm, strategy = chosen.name, picked.name, picked.strategy
    strategy = strategy or "user"
    level, recs, items, assignment = walk_chain(ctx, user_id, CHAINS[strategy])
    body: dict = {
        "user_id": user_id,
        "strategy": strategy,
        "level": level,
        "cluster_id": assignment.cluster_id if assignment else None,
        "items": items[:k],
        "as_of": recs.get("as_of") if recs else None,
        "produced_at": recs.get("produced_at") if recs else None,
        "impression_id": None,
        "experiment": experiment,
        "arm": arm,
    }
    if body["items"]:
        body["impression_id"] = f"imp-{uuid.uuid4().hex}"
        ctx.kafka.publish_impression(
            ImpressionEvent(
                impression_id=body["impression_id"],
                user_id=user_id,
                items=[i["item_id"] for i in body["items"]],
                strategy=strategy,
                ts=time.time(),
                experiment=experiment,
                arm=arm,
            )
        )
    return body


def walk_chain(
    ctx: ApiContext, user_id: str, chain: tuple[str, ...]
) -> tuple[str, dict | None, list[dict], Assignment | None]:
    """The first level of ``chain`` with items the user has not engaged with."""
    serving = ctx.serving()  # one model version for every read of this answer
    keys = serving.keys
    user_raw, assignment_raw = ctx.redis.mget([keys.user_recs(user_id), keys.user_cluster(user_id)])  # type: ignore[misc]
    assignment = _assignment(assignment_raw)
    seen = set(serving.get().seen.get(user_id, ()))
    for level in chain:
        if level == "user":
            recs = _rec_list(user_raw)
        elif level == "cluster":
            if assignment is None:
                continue
            recs = _rec_list(ctx.redis.get(keys.cluster_recs(assignment.cluster_id)))  # type: ignore[arg-type]
        else:
            recs = _rec_list(ctx.redis.get(keys.trending()))  # type: ignore[arg-type]
        items = [i for i in recs.get("items", []) if i["item_id"] not in seen] if recs else []
        if items:
            return level, recs, items, assignment
    return "none", None, [], assignment


def _rec_list(raw: bytes | None) -> dict | None:
    return None if raw is None else json.loads(raw)


def _assignment(raw: bytes | None) -> Assignment | None:
    return None if raw is None else Assignment.model_validate_json(raw)
