"""Redis adapter: lists, assignments, checkpoints and erasures under the keys of
:mod:`streamrec.serving.schema` (the only schema it depends on)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.exceptions import WatchError

from streamrec.core.settings import Settings
from streamrec.serving.schema import Assignment, Publication, RecList, RedisKeys

log = logging.getLogger(__name__)
T = TypeVar("T")


def connect(settings: Settings, **overrides: object) -> redis.Redis:
    options = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        **settings.redis_client_options(),
        **overrides,
    }
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
            log.warning(
                "redis unavailable, retrying",
                extra={"what": what, "error": str(error), "delay_s": delay},
            )
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

    def write(self, out: Publication, model_summary: dict | None = None) -> int:
        """Write a batch's lists in one MULTI/EXEC; return how many keys were set.

        Every list written is stamped with the wall time of the write
        (``produced_at``).
        """
        now = time.time()
        lists = (*out.user_recs.values(), *out.cluster_recs.values(), *out.group_recs.values())
        for recs in (*lists, out.trending):
            if recs is not None:
                recs.produced_at = now
        pipe = self.client.pipeline(transaction=True)
        for user_id, recs in out.user_recs.items():
            pipe.set(self.keys.user_recs(user_id), recs.model_dump_json(), ex=self.ttl)
        for cluster_id, recs in out.cluster_recs.items():
            pipe.set(self.keys.cluster_recs(cluster_id), recs.model_dump_json(), ex=self.ttl)
        for group_id, recs in out.group_recs.items():
            pipe.set(self.keys.group_recs(group_id), recs.model_dump_json(), ex=self.ttl)
        for user_id, items in out.recent_items.items():  # beside the user's list: one EXEC
            pipe.set(self.keys.user_recent(user_id), json.dumps(items), ex=self.ttl)
        for user_id, assignment in out.assignments.items():
            pipe.set(self.keys.user_cluster(user_id), assignment.model_dump_json(), ex=self.ttl)
        if out.trending is not None:
            pipe.set(self.keys.trending(), out.trending.model_dump_json(), ex=self.ttl)
        for cluster_id in out.retired_clusters:
            pipe.delete(self.keys.cluster_recs(cluster_id))
        for group_id in out.retired_groups:
            pipe.delete(self.keys.group_recs(group_id))
        if out.clusters is not None:
            pipe.set(self.keys.clusters(), json.dumps([c.model_dump() for c in out.clusters]))
        if model_summary is not None:
            pipe.set(self.keys.model(), json.dumps(model_summary))
        written = len(pipe)
        if written:
            pipe.execute()
        return written

    # -- checkpoints (the commit order is in :mod:`streamrec.checkpointing`) ------------

    def load_checkpoint(self, group: str) -> bytes | None:
        """The shared model of a worker group."""
        return _bytes(self.client.get(self.keys.checkpoint(group)))

    def load_partition_checkpoint(self, group: str, partition: int) -> bytes | None:
        """Users, offsets and dedup window of one partition number."""
        return _bytes(self.client.get(self.keys.partition_checkpoint(group, partition)))

    def write_checkpoint(
        self, group: str, build: Callable[[bytes | None], bytes], partitions: dict[int, bytes]
    ) -> bytes:
        """Set the group's shared checkpoint to ``build(current)`` and the partitions'
        checkpoints in one MULTI/EXEC, and return what was written.

        The shared key is WATCHed: when another worker writes it in between,
        ``build`` runs again on the new value (compare and set).
        """
        key = self.keys.checkpoint(group)
        while True:
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    current = pipe.get(key)
                    blob = build(bytes(current) if current else None)  # type: ignore[arg-type]
                    pipe.multi()
                    pipe.set(key, blob)
                    for number, value in partitions.items():
                        pipe.set(self.keys.partition_checkpoint(group, number), value)
                    pipe.execute()
                    return blob
                except WatchError:
                    continue  # another worker synced in between: build again

    # -- reading and erasure ----------------------------------------------------------

    def user_recs(self, user_id: str) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.user_recs(user_id)))

    def cluster_recs(self, cluster_id: int) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.cluster_recs(cluster_id)))

    def group_recs(self, group_id: int) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.group_recs(group_id)))

    def trending(self) -> RecList | None:
        return _parse(RecList, self.client.get(self.keys.trending()))

    def assignment(self, user_id: str) -> Assignment | None:
        return _parse(Assignment, self.client.get(self.keys.user_cluster(user_id)))

    def delete_user(self, user_id: str) -> int:
        """Remove the user's list, assignment and recent items now; return how many keys went."""
        return int(
            self.client.delete(
                self.keys.user_recs(user_id),  # type: ignore[arg-type]
                self.keys.user_cluster(user_id),
                self.keys.user_recent(user_id),
            )
        )


def _parse(model: type[T], raw: object) -> T | None:
    if raw is None:
        return None
    return model.model_validate_json(raw)  # type: ignore[attr-defined]


def _bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[arg-type]
