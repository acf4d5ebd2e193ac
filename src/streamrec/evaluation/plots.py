"""Pictures: the 2-D map of user vectors by cluster, the group dendrogram, report plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project rows on their first two principal axes; returns (points, mean, axes)."""
    mean = vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(vectors - mean, full_matrices=False)
    return (vectors - mean) @ axes[:2].T, mean, axes[:2]


def cluster_map(
    user_vectors: np.ndarray,
    user_clusters: np.ndarray,
    centroids: np.ndarray,
    cluster_ids: np.ndarray,
    labels: dict[int, list[str]],
    path: Path,
    title: str = "Users by interest cluster (PCA of user vectors)",
) -> Path:
    """Scatter users coloured by cluster, with each cluster's label at its centroid."""
    plt = _pyplot()
    points, mean, axes = pca_2d(user_vectors)
    centres = (centroids - mean) @ axes.T
    fig, ax = plt.subplots(figsize=(12, 9), dpi=110)
    palette = plt.get_cmap("tab20")
    for n, cluster_id in enumerate(cluster_ids.tolist()):
        mask = user_clusters == cluster_id
        color = palette(n % 20)
        ax.scatter(points[mask, 0], points[mask, 1], s=8, alpha=0.55, color=color)
        words = ", ".join(labels.get(cluster_id, [])[:3]) or f"cluster {cluster_id}"
        ax.annotate(
            f"{cluster_id}: {words}",
            centres[n],
            fontsize=8,
            weight="bold",
            ha="center",
            color="black",
            bbox={"boxstyle": "round,pad=0.2", "fc": color, "alpha": 0.6, "lw": 0},
        )
    ax.set_title(title)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def dendrogram(linkage: np.ndarray, names: list[str], path: Path) -> Path:
    """The tree of interest groups, one labelled leaf per cluster."""
    from scipy.cluster import hierarchy

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, max(4.0, 0.3 * len(names))), dpi=110)
    hierarchy.dendrogram(linkage, labels=names, orientation="left", ax=ax)
    ax.set_title("Interest groups (weighted Ward over cluster centroids)")
    ax.set_xlabel("merge height")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
