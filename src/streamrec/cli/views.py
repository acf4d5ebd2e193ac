"""Read cluster summaries and the worker checkpoint back from Redis for people to look at."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamrec.checkpointing.codec import PartitionCheckpoint, with_users
from streamrec.checkpointing.shared_fields import read_shared
from streamrec.clustering.hierarchy import Hierarchy, render
from streamrec.core.settings import Settings
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.evaluation.plots import cluster_map, dendrogram
from streamrec.serving.schema import ClusterSummary, RedisKeys
from streamrec.serving.store import connect


def load_summaries(settings: Settings) -> list[ClusterSummary]:
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).clusters())
    return [] if raw is None else [ClusterSummary(**c) for c in json.loads(raw)]  # type: ignore[arg-type]


def review_texts(path: Path, event_ids: list[str]) -> dict[str, str]:
    """Texts of Amazon reviews by event id (``amz:{line}:review``)."""
    wanted = set(event_ids)
    return {
        f"{i.key}:review": i.text for i in amazon_interactions(path) if f"{i.key}:review" in wanted
    }


def load_group_state(settings: Settings) -> tuple[dict, list[PartitionCheckpoint]] | None:
    """The worker group's shared model and every partition checkpoint, from Redis."""
    client = connect(settings)
    keys = RedisKeys(settings.redis_prefix)
    group = settings.worker_group
    shared = read_shared(
        dict(client.hscan_iter(keys.shared_checkpoint(group), count=1000)),  # no huge reply
        client.get(keys.checkpoint(group)),  # type: ignore[arg-type]
    )
    if shared is None:
        return None
    pattern = keys.partition_checkpoint(group, 0)[:-1] + "*"
    parts = []
    for key in sorted(client.scan_iter(pattern)):
        number = int(key.rpartition(b":p")[2])  # type: ignore[union-attr]
        part = PartitionCheckpoint.from_bytes(client.get(key))  # type: ignore[arg-type]
        users = client.hgetall(keys.partition_users(group, number))
        parts.append(with_users(part, users))  # type: ignore[arg-type]
    return shared, parts


def all_users(parts: list[PartitionCheckpoint]) -> dict:
    """The users of every partition checkpoint in one export."""
    keys = (
        "sums",
        "counts",
        "last_ts",
        "cluster",
        "cluster2",
        "sim",
        "partition",
        "last",
        "seen_lengths",
    )
    users = [p.users for p in parts if p.users["ids"]]
    if not users:
        return {"ids": [], "sums": np.zeros((0, 0)), "cluster": np.zeros(0, dtype=np.int64)}
    merged = {k: np.concatenate([np.asarray(u[k]) for u in users]) for k in keys}
    merged["ids"] = [i for u in users for i in u["ids"]]
    merged["seen_items"] = [i for u in users for i in u["seen_items"]]
    return merged


def plot_map(settings: Settings, path: Path) -> Path:
    """Draw user vectors of the worker group's last checkpoint, coloured by cluster."""
    loaded = load_group_state(settings)
    if loaded is None:
        raise SystemExit("no worker checkpoint in Redis to draw from")
    profiles = all_users(loaded[1])
    sums = np.asarray(profiles["sums"], dtype=np.float64)
    alive = np.linalg.norm(sums, axis=1) > 0
    vectors = sums[alive] / np.linalg.norm(sums[alive], axis=1, keepdims=True)
    clusters = np.asarray(profiles["cluster"])[alive]
    ids = np.unique(clusters[clusters >= 0])
    centroids = np.vstack([vectors[clusters == c].mean(axis=0) for c in ids])
    labels = {s.cluster_id: s.labels for s in load_summaries(settings)}
    return cluster_map(vectors, clusters, centroids, ids, labels, path)


def load_tree(settings: Settings) -> Hierarchy:
    """The worker group's tree of parent groups, from its last checkpoint."""
    loaded = load_group_state(settings)
    if loaded is None or "hierarchy" not in loaded[0]:
        raise SystemExit("no worker checkpoint with a group tree in Redis")
    return Hierarchy.from_state(loaded[0]["hierarchy"], settings.cluster_groups)


def tree_lines(settings: Settings, summaries: list[ClusterSummary]) -> list[str]:
    labels = {s.cluster_id: s.labels for s in summaries}
    return render(load_tree(settings), labels) or ["no clusters in the checkpoint yet"]


def plot_tree(settings: Settings, summaries: list[ClusterSummary], path: Path) -> Path:
    """Draw the tree as a dendrogram, each leaf labelled with its cluster's top words."""
    tree = load_tree(settings)
    if len(tree.ids) < 2:
        raise SystemExit("a dendrogram needs at least two clusters")
    labels = {s.cluster_id: s.labels for s in summaries}
    names = [f"{c}: {', '.join(labels.get(int(c), [])[:3])}" for c in tree.ids.tolist()]
    return dendrogram(tree.linkage, names, path)
