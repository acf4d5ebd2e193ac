"""Which clusterer the engine runs, chosen by setting (``STREAMREC_CLUSTERER``).

===================  ====================================================
``kmeans``           :class:`OnlineKMeans` with a fixed k (the default)
``kmeans-dynamic``   :class:`OnlineKMeans` that splits and merges, k in [k_min, k_max]
``dbstream``         River's density-based DBSTREAM: no preset k
``river-kmeans``     River's KMeans, one point at a time
===================  ====================================================

>>> make_clusterer(ClustererConfig(clusterer="dbstream")).name
'river-dbstream'
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

from streamrec.clustering.base import Clusterer

if TYPE_CHECKING:
    from streamrec.core.settings import Settings

ClustererKind = Literal["kmeans", "kmeans-dynamic", "dbstream", "river-kmeans"]
KINDS: tuple[str, ...] = ("kmeans", "kmeans-dynamic", "dbstream", "river-kmeans")


@dataclass(frozen=True)
class ClustererConfig:
    """The clusterer's kind and parameters; each field is the setting of the same name."""

    clusterer: str = "kmeans"
    n_clusters: int = 20
    cluster_half_life_events: float = 2000.0
    cluster_min_weight: float = 0.5
    cluster_k_min: int = 2
    cluster_k_max: int = 64
    cluster_split_spread: float = 0.45
    cluster_merge_similarity: float = 0.92
    dbstream_clustering_threshold: float = 0.8
    dbstream_fading_factor: float = 0.001
    dbstream_cleanup_interval: float = 100.0
    dbstream_intersection_factor: float = 0.3
    dbstream_minimum_weight: float = 1.0
    dbstream_recluster_every: int = 1
    cluster_match_similarity: float = 0.8
    river_kmeans_halflife: float = 0.1
    river_kmeans_sigma: float = 0.01
    seed: int = 0

    @property
    def kind(self) -> str:
        return self.clusterer

    @classmethod
    def from_settings(cls, settings: Settings) -> ClustererConfig:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def make_clusterer(config: ClustererConfig) -> Clusterer:
    """The clusterer ``config.clusterer`` names, with its parameters."""
    from streamrec.clustering.online_kmeans import OnlineKMeans
    from streamrec.clustering.river_clusterers import RiverDBSTREAM, RiverKMeans

    c = config
    if c.kind in ("kmeans", "kmeans-dynamic"):
        return OnlineKMeans(
            k=c.n_clusters,
            half_life=c.cluster_half_life_events,
            min_weight=c.cluster_min_weight,
            seed=c.seed,
            dynamic=c.kind == "kmeans-dynamic",
            k_min=c.cluster_k_min,
            k_max=c.cluster_k_max,
            split_spread=c.cluster_split_spread,
            merge_similarity=c.cluster_merge_similarity,
        )
    if c.kind == "river-kmeans":
        return RiverKMeans(
            k=c.n_clusters,
            halflife=c.river_kmeans_halflife,
            sigma=c.river_kmeans_sigma,
            seed=c.seed,
        )
    if c.kind == "dbstream":
        return RiverDBSTREAM(
            clustering_threshold=c.dbstream_clustering_threshold,
            fading_factor=c.dbstream_fading_factor,
            cleanup_interval=c.dbstream_cleanup_interval,
            intersection_factor=c.dbstream_intersection_factor,
            minimum_weight=c.dbstream_minimum_weight,
            match_similarity=c.cluster_match_similarity,
            recluster_every=c.dbstream_recluster_every,
        )
    raise ValueError(f"unknown clusterer {c.kind!r}: choose one of {', '.join(KINDS)}")
