"""The read client for downstream services: always a list, and which level answered.

Fallback chain: the user's own list, else the list of the user's cluster,
else the list of the cluster's parent group, else global trending, each
without the user's recent items (written by the worker beside the user's list).
Each step is one Redis ``GET`` of a value that is replaced atomically (the group
step reads the cluster summaries first), so a reader never sees a half-written
list. The prefix is resolved once per answer from the active-model pointer
(:mod:`streamrec.serving.active`), so every read of one answer comes from one
model version, even while ``streamrec rollout`` switches versions.

    >>> client = RecsClient.from_url("redis://127.0.0.1:16379/0")  # doctest: +SKIP
    >>> answer = client.recommend("A2IBPI20UZIR0U", k=10)            # doctest: +SKIP
    >>> answer.level, answer.item_ids()[:3]                          # doctest: +SKIP
    ('user', ['B000068NW5', 'B0002GLDQM', 'B003VWJ2K8'])
"""

from __future__ import annotations

import json

import redis

from streamrec.core.settings import Settings
from streamrec.serving.active import serving_keys
from streamrec.serving.fallback import Answer, fallback
from streamrec.serving.schema import Assignment, RecList, RedisKeys
from streamrec.serving.store import client_from_url


class RecsClient:
    def __init__(self, client: redis.Redis, prefix: str = "streamrec") -> None:
        self.redis = client
        self.prefix = prefix
        self.keys = RedisKeys(prefix)  # the root: where the active-model pointer lives

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "streamrec", cluster: bool = False, **options: object
    ) -> RecsClient:
        """A ``redis+cluster://`` URL (or ``cluster=True``) reads from a Redis Cluster."""
        return cls(client_from_url(url, cluster, **options), prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> RecsClient:
        return cls.from_url(
            settings.redis_url,
            settings.redis_prefix,
            settings.redis_cluster,
            **settings.redis_client_options(),
        )

    def _get(self, key: str) -> RecList | None:
        return _rec_list(self.redis.get(key))  # type: ignore[arg-type]

    def serving_keys(self) -> RedisKeys:
        """The keys of the model version that serves now."""
        return serving_keys(self.redis, self.prefix)

    def assignment(self, user_id: str) -> Assignment | None:
        return _assignment(self.redis.get(self.serving_keys().user_cluster(user_id)))  # type: ignore[arg-type]

    def recommend(self, user_id: str, k: int | None = None) -> Answer:
        """The best list available for ``user_id``: user, cluster, group, then trending,
        never with an item among the user's recent ones."""
        keys = self.serving_keys()  # one version for every read of this answer
        # one round trip for the three keys every answer needs
        user_raw, assignment_raw, recent_raw = self.redis.mget(  # type: ignore[misc]
            [keys.user_recs(user_id), keys.user_cluster(user_id), keys.user_recent(user_id)]
        )
        return fallback(
            user_id,
            k,
            _rec_list(user_raw),
            _assignment(assignment_raw),
            lambda cluster_id: self._get(keys.cluster_recs(cluster_id)),
            lambda: self._get(keys.trending()),
            lambda cluster_id: self._group_list(keys, cluster_id),
            seen=self.recent_items(user_id, recent_raw),
        )

    def _group_list(self, keys: RedisKeys, cluster_id: int) -> RecList | None:
        """The list of the parent group of ``cluster_id`` (from the cluster summaries)."""
        raw = self.redis.get(keys.clusters())
        summaries = [] if raw is None else json.loads(raw)  # type: ignore[arg-type]
        group = next((s.get("group") for s in summaries if s["cluster_id"] == cluster_id), None)
        return None if group is None else self._get(keys.group_recs(group))

    def recent_items(self, user_id: str, raw: bytes | None = None) -> frozenset[str]:
        """The user's recent items (read now unless ``raw`` is given)."""
        if raw is None:
            raw = self.redis.get(self.serving_keys().user_recent(user_id))  # type: ignore[assignment]
        return frozenset(json.loads(raw)) if raw else frozenset()


def _rec_list(raw: bytes | None) -> RecList | None:
    return None if raw is None else RecList.model_validate_json(raw)


def _assignment(raw: bytes | None) -> Assignment | None:
    return None if raw is None else Assignment.model_validate_json(raw)
