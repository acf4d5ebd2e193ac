"""Hierarchical interest groups: an agglomerative tree over the live clusters.

The leaves are the clusters' unit centroids, each weighing its decayed
cluster weight, and the tree merges bottom up by Ward's criterion with those
weights (scipy's ``linkage`` has no weights, so the Lance-Williams update is
done here). The result is a scipy linkage matrix, so scipy can cut it
(``fcluster``) and draw it (``dendrogram``). Cutting it into ``n_groups``
parent groups names each group by its smallest cluster id, so a group keeps
its id while its members stay.

>>> tree = Hierarchy.build(np.array([7, 3, 9]), np.array([[1.0, 0], [0.99, 0.14], [0, 1]]),
...                        np.array([5.0, 1.0, 2.0]), n_groups=2)
>>> tree.groups
{7: 3, 3: 3, 9: 9}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import fcluster

MIN_WEIGHT = 1e-3  # a cluster that has lost all its weight still has a place in the tree


def weighted_ward(centroids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A scipy linkage matrix of Ward's agglomeration with leaf weights ``weights``.

    The height of a merge is ``sqrt(2 * increase of the weighted sum of squares)``,
    as scipy's ``ward`` reports it for unit weights.
    """
    n = len(centroids)
    if n < 2:
        return np.zeros((0, 4))
    w = np.maximum(np.asarray(weights, dtype=np.float64), MIN_WEIGHT)
    x = np.asarray(centroids, dtype=np.float64)
    squared = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
    dist = 2.0 * (w[:, None] * w[None, :]) / (w[:, None] + w[None, :]) * squared
    size = np.concatenate([w, np.zeros(n - 1)])
    leaves = np.concatenate([np.ones(n), np.zeros(n - 1)])
    full = np.full((2 * n - 1, 2 * n - 1), np.inf)
    full[:n, :n] = dist
    np.fill_diagonal(full, np.inf)
    active = list(range(n))
    z = np.zeros((n - 1, 4))
    for step in range(n - 1):
        sub = full[np.ix_(active, active)]
        a, b = np.unravel_index(int(np.argmin(sub)), sub.shape)
        i, j = sorted((active[a], active[b]))
        new = n + step
        others = [k for k in active if k not in (i, j)]
        wi, wj, wk = size[i], size[j], size[others]
        # Lance-Williams for Ward with weighted sizes
        full[new, others] = full[others, new] = (
            (wi + wk) * full[i, others] + (wj + wk) * full[j, others] - wk * full[i, j]
        ) / (wi + wj + wk)
        z[step] = (i, j, np.sqrt(max(full[i, j], 0.0)), leaves[i] + leaves[j])
        size[new], leaves[new] = wi + wj, leaves[i] + leaves[j]
        active = [*others, new]
    return z


@dataclass
class Hierarchy:
    """The tree over the clusters with ids ``ids`` and their parent groups."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    linkage: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    groups: dict[int, int] = field(default_factory=dict)  # cluster id -> group id

    @classmethod
    def build(
        cls, ids: np.ndarray, centroids: np.ndarray, weights: np.ndarray, n_groups: int
    ) -> Hierarchy:
        ids = np.asarray(ids, dtype=np.int64)
        linkage = weighted_ward(centroids, weights)
        return cls(ids, np.asarray(weights, dtype=np.float64), linkage, cut(ids, linkage, n_groups))

    def members(self, group_id: int) -> list[int]:
        return [c for c, g in self.groups.items() if g == group_id]

    def group_ids(self) -> list[int]:
        return sorted(set(self.groups.values()))

    def same_clusters(self, ids: np.ndarray) -> bool:
        return set(np.asarray(ids).tolist()) == set(self.ids.tolist())

    def state(self) -> dict:
        return {"ids": self.ids, "weights": self.weights, "linkage": self.linkage}

    @classmethod
    def from_state(cls, state: dict, n_groups: int) -> Hierarchy:
        """The tree of a checkpoint, cut into ``n_groups`` again."""
        ids = np.asarray(state["ids"], dtype=np.int64)
        linkage = np.asarray(state["linkage"], dtype=np.float64).reshape(-1, 4)
        weights = np.asarray(state["weights"], dtype=np.float64)
        return cls(ids, weights, linkage, cut(ids, linkage, n_groups))


def cut(ids: np.ndarray, linkage: np.ndarray, n_groups: int) -> dict[int, int]:
    """Cluster id -> group id (the group's smallest cluster id) for at most ``n_groups``."""
    if len(ids) < 2:
        return {int(c): int(c) for c in ids}
    labels = fcluster(linkage, t=max(1, n_groups), criterion="maxclust")
    first = {int(lab): int(ids[labels == lab].min()) for lab in np.unique(labels)}
    return {int(c): first[int(lab)] for c, lab in zip(ids, labels, strict=True)}


def render(tree: Hierarchy, labels: dict[int, list[str]] | None = None) -> list[str]:
    """The tree as indented text lines, groups first, each leaf with its labels."""
    labels = labels or {}
    n = len(tree.ids)
    if n == 0:
        return []
    lines: list[str] = []

    def leaf(index: int) -> str:
        cid = int(tree.ids[index])
        words = ", ".join(labels.get(cid, [])[:4])
        return f"cluster {cid} (weight {tree.weights[index]:.1f}) {words}".rstrip()

    def walk(node: int, depth: int) -> None:
        pad = "  " * depth
        if node < n:
            lines.append(f"{pad}- {leaf(node)}")
            return
        left, right, height, count = tree.linkage[node - n]
        lines.append(f"{pad}+ {int(count)} clusters, height {height:.3f}")
        walk(int(left), depth + 1)
        walk(int(right), depth + 1)

    for group in tree.group_ids():
        members = tree.members(group)
        lines.append(f"group {group}: clusters {', '.join(map(str, sorted(members)))}")
    walk(2 * n - 2 if n > 1 else 0, 0)
    return lines
