"""What the API's handlers share: settings, the Redis and Kafka clients, the snapshot."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

import redis

from streamrec.app.api.history import Sampler
from streamrec.app.api.kafka_side import KafkaSide
from streamrec.app.api.snapshot import SnapshotReader
from streamrec.core.settings import Settings
from streamrec.serving.active import read_active
from streamrec.serving.schema import ClusterSummary, RedisKeys
from streamrec.serving.store import connect


@dataclass
class ApiContext:
    settings: Settings
    redis: redis.Redis
    keys: RedisKeys
    kafka: KafkaSide
    snapshots: SnapshotReader
    sampler: Sampler = field(default_factory=Sampler)
    rolled_out: dict[str, SnapshotReader] = field(default_factory=dict)  # prefix -> reader

    @classmethod
    def from_settings(cls, settings: Settings, snapshot_max_age_s: float = 5.0) -> ApiContext:
        # short timeouts: a request fails fast rather than hanging on a dead server
        client = connect(settings, socket_timeout=2, socket_connect_timeout=2)
        keys = RedisKeys(settings.redis_prefix)
        return cls(
            settings,
            client,
            keys,
            KafkaSide(settings),
            SnapshotReader(
                client, keys, settings.worker_group, settings.topic_partitions, snapshot_max_age_s
            ),
        )

    def warm_up(self) -> None:
        """Kafka producer and checkpoint snapshot made before the first request needs them
        (GET recs runs on the event loop, which must not wait for either)."""
        self.kafka.warm_up()
        # Redis down at start-up: readiness says so; the first request retries
        with contextlib.suppress(redis.RedisError):
            self.snapshots.get()

    def close(self) -> None:
        self.kafka.close()
        self.redis.close()

    def serving(self) -> SnapshotReader:
        """Keys (``.keys``) and checkpoint snapshot of the model version that serves now,
        from one read of the active-model pointer (``keys`` is the root: the pointer, the
        sidecar's metrics and the experiments live there)."""
        active = read_active(self.redis, self.settings.redis_prefix)
        if active is None or not active.group:
            return self.snapshots
        reader = self.rolled_out.get(active.prefix)
        if reader is None:  # a version rolled out since start: its own group's checkpoint
            reader = SnapshotReader(
                self.redis,
                RedisKeys(active.prefix),
                active.group,
                self.settings.topic_partitions,
                self.snapshots.max_age_s,
            )
            self.rolled_out[active.prefix] = reader
        return reader

    def serving_keys(self) -> RedisKeys:
        return self.serving().keys

    def clusters(self) -> list[ClusterSummary]:
        raw = self.redis.get(self.serving_keys().clusters())
        return [] if raw is None else [ClusterSummary(**c) for c in json.loads(raw)]  # type: ignore[arg-type]

    def model_summary(self) -> dict:
        raw = self.redis.get(self.serving_keys().model())
        return {} if raw is None else json.loads(raw)  # type: ignore[arg-type]

    def experiments(self) -> dict:
        raw = self.redis.get(self.keys.experiments())
        return {} if raw is None else json.loads(raw)  # type: ignore[arg-type]

    def strategy_metrics(self, names: list[str]) -> dict[str, dict[str, float]]:
        """The sidecar's rolling metrics of the named strategies (read by name: a SCAN
        would walk the whole database)."""
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.metrics(name))
        out = {}
        for name, values in zip(names, pipe.execute(), strict=True):
            if values:
                out[name] = {k.decode(): float(v) for k, v in values.items()}
        return out
