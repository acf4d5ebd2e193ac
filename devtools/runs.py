"""Settings of one run on shared servers (tests and benchmarks share one Kafka and one
Redis): its topics, consumer groups and Redis prefix carry its name alone."""

from __future__ import annotations

from streamrec.core.settings import Settings


def isolated_settings(name: str, **changes: object) -> Settings:
    """Settings whose topics start with ``{name}.``, whose consumer groups are
    ``{name}-worker`` and ``{name}-metrics`` and whose Redis keys start with ``name``;
    everything else from ``changes`` or the defaults (no env file)."""
    names = {
        "redis_prefix": name,
        "topic_reviews": f"{name}.reviews",
        "topic_clicks": f"{name}.clicks",
        "topic_impressions": f"{name}.impressions",
        "topic_dead_letter": f"{name}.dead-letter",
        "topic_cluster_events": f"{name}.cluster-events",
        "topic_deletions": f"{name}.deletions",
        "worker_group": f"{name}-worker",
        "metrics_group": f"{name}-metrics",
    }
    return Settings(_env_file=None, **{**names, **changes})  # type: ignore[call-arg]
