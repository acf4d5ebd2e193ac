"""The clusterer comes from the settings, with its parameters."""

import pytest
from pydantic import ValidationError

from streamrec.clustering.factory import KINDS, ClustererConfig, make_clusterer
from streamrec.clustering.online_kmeans import OnlineKMeans
from streamrec.clustering.river_clusterers import RiverDBSTREAM, RiverKMeans
from streamrec.core.settings import Settings
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("kmeans", OnlineKMeans),
        ("kmeans-dynamic", OnlineKMeans),
        ("dbstream", RiverDBSTREAM),
        ("river-kmeans", RiverKMeans),
    ],
)
def test_every_kind_builds_its_clusterer_in_the_engine(kind: str, cls: type) -> None:
    engine = Engine(8, EngineConfig.from_settings(settings(clusterer=kind)))
    assert type(engine.clusterer) is cls
    assert set(KINDS) == {"kmeans", "kmeans-dynamic", "dbstream", "river-kmeans"}


def test_parameters_reach_the_clusterer() -> None:
    config = EngineConfig.from_settings(
        settings(
            clusterer="kmeans-dynamic",
            n_clusters=3,
            cluster_k_min=2,
            cluster_k_max=9,
            cluster_split_spread=0.3,
            cluster_merge_similarity=0.8,
            cluster_half_life_events=77.0,
            seed=5,
        )
    )
    model = Engine(8, config).clusterer
    assert isinstance(model, OnlineKMeans) and model.dynamic
    assert (model.k, model.k_min, model.k_max, model.half_life) == (3, 2, 9, 77.0)
    assert (model.split_spread, model.merge_similarity, model.seed) == (0.3, 0.8, 5)
    fixed = Engine(8, EngineConfig.from_settings(settings(clusterer="kmeans"))).clusterer
    assert isinstance(fixed, OnlineKMeans) and not fixed.dynamic

    density = make_clusterer(
        ClustererConfig.from_settings(
            settings(
                clusterer="dbstream",
                dbstream_clustering_threshold=0.5,
                cluster_match_similarity=0.9,
                dbstream_recluster_every=8,
            )
        )
    )
    assert isinstance(density, RiverDBSTREAM)
    assert density.model.clustering_threshold == 0.5
    assert (density.tracker.match_similarity, density.recluster_every) == (0.9, 8)
    river = make_clusterer(
        ClustererConfig.from_settings(settings(clusterer="river-kmeans", river_kmeans_sigma=0.2))
    )
    assert isinstance(river, RiverKMeans) and river.sigma == 0.2


def test_bad_choices_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="clusterer"):
        settings(clusterer="dbscan")
    with pytest.raises(ValidationError, match="cluster_k_min"):
        settings(cluster_k_min=10, cluster_k_max=4)
    with pytest.raises(ValueError, match="choose one of"):
        make_clusterer(ClustererConfig(clusterer="dbscan"))
    with pytest.raises(ValueError, match="recluster_every"):
        RiverDBSTREAM(recluster_every=0)


def test_dbstream_hands_out_ids_from_the_range_it_is_given() -> None:
    import numpy as np

    model = RiverDBSTREAM(clustering_threshold=0.3)
    model.next_id = 20_000
    model.learn(np.eye(3))
    assert model.snapshot().ids.min() >= 20_000
    assert model.next_id == 20_000 + len(model.snapshot())
