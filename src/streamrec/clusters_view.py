"""Read cluster summaries and the worker checkpoint back from Redis for people to look at."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamrec.checkpoint import Checkpoint
from streamrec.datasets import amazon_interactions
from streamrec.plots import cluster_map
from streamrec.redis_schema import ClusterSummary, RedisKeys
from streamrec.settings import Settings
from streamrec.store import connect


def load_summaries(settings: Settings) -> list[ClusterSummary]:
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).clusters())
    return [] if raw is None else [ClusterSummary(**c) for c in json.loads(raw)]  # type: ignore[arg-type]


def review_texts(path: Path, event_ids: list[str]) -> dict[str, str]:
    """Texts of Amazon reviews by event id (``amz:{line}:review``)."""
    wanted = set(event_ids)
    return {f"{i.key}:review": i.text for i in amazon_interactions(path)
            if f"{i.key}:review" in wanted}


def plot_map(settings: Settings, path: Path) -> Path:
    """Draw user vectors of the worker's last checkpoint, coloured by cluster."""
    blob = connect(settings).get(RedisKeys(settings.redis_prefix).checkpoint(
        settings.worker_group))
    if blob is None:
        raise SystemExit("no worker checkpoint in Redis to draw from")
    state = Checkpoint.from_bytes(bytes(blob)).state  # type: ignore[arg-type]
    profiles = state["profiles"]
    sums = np.asarray(profiles["sums"], dtype=np.float64)
    alive = np.linalg.norm(sums, axis=1) > 0
    vectors = sums[alive] / np.linalg.norm(sums[alive], axis=1, keepdims=True)
    clusters = np.asarray(profiles["cluster"])[alive]
    ids = np.unique(clusters[clusters >= 0])
    centroids = np.vstack([vectors[clusters == c].mean(axis=0) for c in ids])
    labels = {s.cluster_id: s.labels for s in load_summaries(settings)}
    return cluster_map(vectors, clusters, centroids, ids, labels, path)
