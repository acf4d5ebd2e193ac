"""Redis adapter: writes what the engine produced under the keys of :mod:`redis_schema`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from streamrec.engine import BatchOutput
from streamrec.redis_schema import Assignment, RecList, RedisKeys
from streamrec.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def connect(settings: Settings, **overrides: object) -> redis.Redis:
    options = {"socket_timeout": 10, "socket_connect_timeout": 5,
               **settings.redis_client_options(), **overrides}
    return redis.Redis.from_url(settings.redis_url, **options)  # type: ignore[arg-type]


def with_retry(
    action: Callable[[], T],
    what: str,
    should_stop: Callable[[], bool] = lambda: False,
    first_delay: float = 0.1,
    max_delay: float = 5.0,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run ``action`` until it succeeds, backing off exponentially on Redis errors."""
    delay = first_delay
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as error:
            if should_stop():
                raise
            log.warning("redis unavailable, retrying", extra={"what": what, "error": str(error),
                                                              "delay_s": delay})
            if on_retry is not None:
                on_retry()
            time.sleep(delay)
            delay = min(max_delay, delay * 2)


class RecsStore:
    """Atomic, pipelined writes of rec lists, assignments and checkpoints."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, ttl_s: int = 0) -> None:
        self.client = client
        self.keys = keys
        self.ttl = ttl_s or None

    def write(self, out: BatchOutput, model_summary: dict | None = None) -> int:
        """Write a batch's lists in one MULTI/EXEC; return how many keys were set."""
        pipe = self.client.pipeline(transaction=True)
        for user_id, recs in out.user_recs.items():
            pipe.set(self.keys.user_recs(user_id), recs.model_dump_json(), ex=self.ttl)
        for cluster_id, recs in out.cluster_recs.items():
            pipe.set(self.keys.cluster_recs(cluster_id), recs.model_dump_json(), ex=self.ttl)
        for user_id, assignment in out.assignments.items():
            pipe.set(self.keys.user_cluster(user_id), assignment.model_dump_json(), ex=self.ttl)
        if out.trending is not None:
            pipe.set(self.keys.trending(), out.trending.model_dump_json(), ex=self.ttl)
        for cluster_id in out.retired_clusters:
            pipe.delete(self.keys.cluster_recs(cluster_id))
        if out.clusters is not None:
            pipe.set(self.keys.clusters(),
                     json.dumps([c.model_dump() for c in out.clusters]))
        if model_summary is not None:
            pipe.set(self.keys.model(), json.dumps(model_summary))
        written = len(pipe)
        if written:
            pipe.execute()
        return written

    def save_checkpoint(self, group: str, blob: bytes) -> None:
        self.client.set(self.keys.checkpoint(group), blob)

    def load_checkpoint(self, group: str) -> bytes | None:
        value = self.client.get(self.keys.checkpoint(group))
        return None if value is None else bytes(value)  # type: ignore[arg-type]

    def user_recs(self, user_id: str) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.user_recs(user_id)))

    def cluster_recs(self, cluster_id: int) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.cluster_recs(cluster_id)))

    def trending(self) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.trending()))

    def assignment(self, user_id: str) -> Assignment | None:
        return _parse(Assignment, self.client.get(self.keys.user_cluster(user_id)))

    def delete_user(self, user_id: str) -> int:
        return int(self.client.delete(self.keys.user_recs(user_id),  # type: ignore[arg-type]
                                      self.keys.user_cluster(user_id)))


def _parse(model: type[T], raw: object) -> T | None:
    if raw is None:
        return None
    return model.model_validate_json(raw)  # type: ignore[attr-defined]
