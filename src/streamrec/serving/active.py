"""The active model version: which Redis prefix serves lists now.

A new encoder changes the vector space, so a new model is rolled out into a
fresh prefix by a fresh worker group, and readers switch to it only when it has
caught up: one ``SET`` of the pointer key ``{prefix}:v1:active`` (see
:meth:`RedisKeys.active`). A reader resolves the pointer once per request and
reads every key of that request under the prefix it names, so an answer never
mixes two model versions. Without the pointer the configured prefix serves.
"""

from __future__ import annotations

import time

import redis
from pydantic import BaseModel, ConfigDict, Field

from streamrec.serving.schema import RedisKeys


class ActiveModel(BaseModel):
    """The pointer's value."""

    model_config = ConfigDict(extra="ignore")

    prefix: str = Field(description="the Redis prefix whose lists are served")
    version: str = Field(description="the model version's name")
    model: str = Field(default="", description="the encoder (name or path) that built them")
    group: str = Field(default="", description="the worker group that writes the prefix")
    switched_at: float = Field(default_factory=time.time, description="wall time of the switch")


def read_active(client: redis.Redis, root_prefix: str) -> ActiveModel | None:
    raw = client.get(RedisKeys(root_prefix).active())
    return None if raw is None else ActiveModel.model_validate_json(raw)  # type: ignore[arg-type]


def serving_keys(client: redis.Redis, root_prefix: str) -> RedisKeys:
    """The keys readers use now: under the active prefix, else under ``root_prefix``."""
    active = read_active(client, root_prefix)
    return RedisKeys(active.prefix if active else root_prefix)


def switch_active(client: redis.Redis, root_prefix: str, active: ActiveModel) -> ActiveModel | None:
    """Point readers at ``active.prefix`` in one atomic ``SET``; returns the previous pointer."""
    previous = client.set(RedisKeys(root_prefix).active(), active.model_dump_json(), get=True)
    return None if previous is None else ActiveModel.model_validate_json(previous)  # type: ignore[arg-type]
