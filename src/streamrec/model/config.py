"""The engine's parameters, read from the settings of the same (or a mapped) name.

>>> from streamrec.core.settings import Settings
>>> EngineConfig.from_settings(Settings(_env_file=None, n_clusters=7)).n_clusters
7
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from streamrec.clustering.factory import ClustererConfig

if TYPE_CHECKING:
    from streamrec.core.settings import Settings


@dataclass
class EngineConfig:
    n_clusters: int = 20
    cluster_half_life: float = 2000.0
    cluster_min_weight: float = 0.5
    profile_half_life: float = 5.0
    item_half_life: float = 50.0
    trending_half_life: float = 1000.0
    engagement_half_life: float = 5000.0
    cluster_refresh_events: int = 200
    cluster_move_threshold: float = 0.995
    recs_length: int = 50
    recent_items: int = 200
    user_history: int = 1000  # distinct items kept per user (bounded memory)
    diversity: float = 0.0
    ranker_learning_rate: float = 0.05
    ranker_negatives: int = 10
    candidates: int = 1000  # C: rows the learned ranker scores per user list
    ann_exact_below: int = 5000  # exact nearest-item scan up to this many items, HNSW above
    ann_query_threads: int = 2  # threads for a batch's HNSW queries (answers do not change)
    neighbours_per_item: int = 1024  # M: co-occurrence / transition neighbours kept per item
    seed: int = 0
    popularity_debias: float = 0.0  # served `user` lists: score - this x log(1 + popularity)
    explain_top: int = 3  # contributions kept per item of a `user` list (0: none)
    cluster_groups: int = 4
    group_min_cluster_users: int = 3
    clustering: ClustererConfig = field(default_factory=ClustererConfig)

    def clusterer_config(self) -> ClustererConfig:
        """The clusterer's parameters, with k, half-life, minimum weight and seed from here."""
        return replace(
            self.clustering,
            n_clusters=self.n_clusters,
            cluster_half_life_events=self.cluster_half_life,
            cluster_min_weight=self.cluster_min_weight,
            seed=self.seed,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        """Fields take the setting of the same name, or of the name in ``_SETTING_NAMES``;
        fields without a setting keep their default."""
        values = {}
        for name in (f.name for f in fields(cls)):
            setting = _SETTING_NAMES.get(name, name)
            if setting in type(settings).model_fields:
                values[name] = getattr(settings, setting)
        values["clustering"] = ClustererConfig.from_settings(settings)
        return cls(**values)


_SETTING_NAMES = {  # EngineConfig field -> Settings field, where the names differ
    "cluster_half_life": "cluster_half_life_events",
    "profile_half_life": "profile_half_life_reviews",
    "trending_half_life": "trending_half_life_events",
    "engagement_half_life": "engagement_half_life_events",
}
