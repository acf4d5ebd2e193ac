"""Redis adapter: lists, assignments, checkpoints and erasures under the keys of
:mod:`streamrec.serving.schema` (the only schema it depends on)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import WatchError

from streamrec.core.settings import Settings
from streamrec.serving.schema import Assignment, Publication, RecList, RedisKeys

log = logging.getLogger(__name__)
T = TypeVar("T")


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
Command = tuple[str, str, tuple, dict]  # (method, key, more args, keyword args)
UserChanges = tuple[dict[str, bytes], list[str]]  # (changed user -> profile, erased users)
FieldChanges = tuple[dict[str, bytes], list[str]]  # (hash fields to set, fields to delete)
HSET_CHUNK = 1000  # fields per HSET: no one huge command when a whole model is written


def connect(settings: Settings, **overrides: object) -> redis.Redis:
    options = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        **settings.redis_client_options(),
        **overrides,
    }
    return client_from_url(settings.redis_url, settings.redis_cluster, **options)


def client_from_url(url: str, cluster: bool = False, **options: object) -> redis.Redis:
    """redis-py's cluster client when ``cluster`` or the scheme is ``redis+cluster://``
    (it finds every master from the one node named), else the plain client."""
    for scheme in CLUSTER_SCHEMES:
        if url.startswith(scheme):
            url, cluster = url.replace("+cluster", "", 1), True
    if not cluster:
        return redis.Redis.from_url(url, **options)  # type: ignore[arg-type]
    options.pop("db", None)
    url = url.split("/", 3)[:3]  # a cluster has database 0 only: drop any "/n"
    return RedisCluster.from_url("/".join(url), **options)  # type: ignore[return-value]


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


def execute_atomic(client: redis.Redis, commands: list[Command]) -> None:
    """Run ``commands`` in one MULTI/EXEC on a single Redis; on a cluster in one
    MULTI/EXEC per hash slot (keys that must change together share a hash tag)."""
    groups: dict[int, list[Command]] = {}
    for command in commands:
        slot = key_slot(command[1].encode()) if is_cluster(client) else 0
        groups.setdefault(slot, []).append(command)
    for group in groups.values():
        pipe = client.pipeline(transaction=True)
        for method, key, args, kwargs in group:
            getattr(pipe, method)(key, *args, **kwargs)
        pipe.execute()


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


# the checkpoint lease, each in one step: taken when free or already the holder's (a
# retried write), dropped only by its holder (one that expired and was taken again stays)
_TAKE_LEASE = """
local holder = redis.call('get', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_DROP_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


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
        keys, ttl = self.keys, {"ex": self.ttl}
        sets = [
            *((keys.user_recs(u), r.model_dump_json()) for u, r in out.user_recs.items()),
            *((keys.cluster_recs(c), r.model_dump_json()) for c, r in out.cluster_recs.items()),
            *((keys.group_recs(g), r.model_dump_json()) for g, r in out.group_recs.items()),
            # beside the user's list: one EXEC (one hash slot on a cluster)
            *((keys.user_recent(u), json.dumps(items)) for u, items in out.recent_items.items()),
            *((keys.user_cluster(u), a.model_dump_json()) for u, a in out.assignments.items()),
        ]
        if out.trending is not None:
            sets.append((keys.trending(), out.trending.model_dump_json()))
        commands: list[Command] = [("set", key, (value,), ttl) for key, value in sets]
        commands += [("delete", keys.cluster_recs(c), (), {}) for c in out.retired_clusters]
        commands += [("delete", keys.group_recs(g), (), {}) for g in out.retired_groups]
        if out.clusters is not None:
            summaries = json.dumps([c.model_dump() for c in out.clusters])
            commands.append(("set", keys.clusters(), (summaries,), {}))
        if model_summary is not None:
            commands.append(("set", keys.model(), (json.dumps(model_summary),), {}))
        if commands:
            execute_atomic(self.client, commands)
        return len(commands)

    # -- checkpoints (the commit order is in :mod:`streamrec.checkpointing`) ------------

    def load_checkpoint(self, group: str) -> bytes | None:
        """The shared model of a worker group in the former one-value layout."""
        return _bytes(self.client.get(self.keys.checkpoint(group)))

    def load_shared_fields(self, group: str) -> dict[str, bytes]:
        """The fields of a worker group's shared model (HSCAN: no one huge reply)."""
        return _fields(self.client.hscan_iter(self.keys.shared_checkpoint(group), count=1000))

    def load_partition_checkpoint(self, group: str, partition: int) -> bytes | None:
        """Offsets and dedup window of one partition number."""
        return _bytes(self.client.get(self.keys.partition_checkpoint(group, partition)))

    def load_partition_users(self, group: str, partition: int) -> dict[str, bytes]:
        """The checkpointed profiles of one partition's users, by user id (HSCAN: no one
        huge reply)."""
        key = self.keys.partition_users(group, partition)
        return _fields(self.client.hscan_iter(key, count=1000))

    def take_lease(self, group: str, holder: str, seconds: float) -> bool:
        """Take the group's checkpoint lease for ``seconds`` unless another holds it."""
        key, ms = self.keys.merge_lease(group), max(1, int(seconds * 1000))
        return bool(self.client.eval(_TAKE_LEASE, 1, key, holder, ms))

    def drop_lease(self, group: str, holder: str) -> None:
        """Give the lease back if ``holder`` still has it (not one taken after it expired)."""
        self.client.eval(_DROP_LEASE, 1, self.keys.merge_lease(group), holder)

    def write_checkpoint(
        self,
        group: str,
        build: Callable[[SharedReader], FieldChanges],
        partitions: dict[int, bytes],
        users: dict[int, UserChanges] | None = None,
    ) -> FieldChanges:
        """Change the fields of the group's shared model as ``build`` says (it reads
        what is stored through a :class:`SharedReader`), write the partitions'
        checkpoints and their changed users (set the changed, delete the erased) in
        one MULTI/EXEC, and return the shared model's changes.

        The shared hash (and the former one-value key) is WATCHed: when another
        worker writes it in between, ``build`` runs again on the new value
        (compare and set). A shared model of the former layout goes in the same
        transaction: ``build`` has taken it over into the hash.
        """
        key, legacy = self.keys.shared_checkpoint(group), self.keys.checkpoint(group)
        while True:
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key, legacy)
                    fields, deleted = build(SharedReader(pipe, key, legacy))
                    taken_over = bool(pipe.exists(legacy))
                    pipe.multi()
                    if deleted:
                        pipe.hdel(key, *deleted)
                    names = list(fields)
                    for start in range(0, len(names), HSET_CHUNK):
                        chunk = {k: fields[k] for k in names[start : start + HSET_CHUNK]}
                        pipe.hset(key, mapping=chunk)  # type: ignore[arg-type]
                    if taken_over:
                        pipe.delete(legacy)
                    for number, value in partitions.items():
                        pipe.set(self.keys.partition_checkpoint(group, number), value)
                    for number, (changed, erased) in (users or {}).items():
                        users_key = self.keys.partition_users(group, number)
                        if erased:  # before the set: a user erased, then back, stays
                            pipe.hdel(users_key, *erased)
                        if changed:
                            pipe.hset(users_key, mapping=changed)  # type: ignore[arg-type]
                    pipe.execute()
                    return fields, deleted
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


class SharedReader:
    """A group's shared model as stored, read under WATCH (the pipeline's immediate mode)."""

    def __init__(self, pipe: redis.client.Pipeline, key: str, legacy: str) -> None:
        self.pipe, self.key, self.legacy_key = pipe, key, legacy

    def field(self, name: str) -> bytes | None:
        return _bytes(self.pipe.hget(self.key, name))

    def fields(self) -> dict[str, bytes]:
        """Every field (HGETALL: this is the rare path where another worker wrote)."""
        return _fields(self.pipe.hgetall(self.key).items())  # type: ignore[union-attr]

    def fields_named(
        self, names: list[str], unchanged: tuple[str, bytes] | None = None
    ) -> list[bytes | None]:
        """The values of ``names`` (HMGET; None: absent). With ``unchanged`` (a field and
        the value read before), they are read with it: when it changed, another worker
        wrote in between and reads before and after would mix two versions, so
        :class:`WatchError` (the build runs again, as after a failed EXEC)."""
        anchor = [] if unchanged is None else [unchanged[0]]
        if not names and not anchor:
            return []
        values = [_bytes(v) for v in self.pipe.hmget(self.key, anchor + names)]  # type: ignore[union-attr]
        if unchanged is not None and values.pop(0) != unchanged[1]:
            raise WatchError(f"{self.key} changed while it was read")
        return values

    def legacy(self) -> bytes | None:
        """The shared model of the former one-value layout, if still there."""
        return _bytes(self.pipe.get(self.legacy_key))


def _fields(pairs: object) -> dict[str, bytes]:
    return {k.decode(): bytes(v) for k, v in pairs}  # type: ignore[attr-defined]


def _parse(model: type[T], raw: object) -> T | None:
    if raw is None:
        return None
    return model.model_validate_json(raw)  # type: ignore[attr-defined]


def _bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[arg-type]
