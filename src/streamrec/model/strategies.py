"""Named recommendation strategies: each scores every item for a user or a cluster.

A strategy returns one score per item row (full ranking);
:func:`streamrec.model.scoring.top_items` turns scores into a list, leaving out
what the user already engaged with. Strategies are plain objects with a
``name`` that read the model through :class:`streamrec.model.view.ModelView`
only, so evaluation can run several of them side by side on the same stream.

>>> class TwoItems:  # the part of a ModelView these strategies read
...     def trending_scores(self): return np.array([3.0, 1.0])
...     def user_cluster(self, user_id): return None
>>> Trending().scores(TwoItems(), None, None).tolist()
[3.0, 1.0]
>>> ClusterPopular().scores(TwoItems(), "newcomer", None).tolist()  # no cluster: trending
[3.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamrec.model.scoring import unit_max
from streamrec.model.view import ModelView


class Strategy(Protocol):
    name: str

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        """One score per item row, higher is better; ``-inf`` never served."""
        ...


@dataclass
class Trending:
    """Decayed global popularity: the cold-start answer."""

    name: str = "trending"

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        return model.trending_scores()


@dataclass
class Popularity:
    """All-time popularity."""

    name: str = "popularity"

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        return model.popularity_scores()


@dataclass
class ClusterPopular:
    """What a cluster engages with, blended with content close to its centroid.

    ``engagement`` weighs the in-cluster counts (normalised to 1) against the
    cosine of the item's text vector to the centroid; ``shrink`` pulls thin
    cluster counts toward global trending.
    """

    name: str = "cluster"
    engagement: float = 0.7
    shrink: float = 0.3

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        if cluster_id is None and user_id is not None:
            cluster_id = model.user_cluster(user_id)
        if cluster_id is None or cluster_id < 0:
            return Trending().scores(model, user_id, None)
        counts = unit_max(model.cluster_engagement(cluster_id))
        trend = unit_max(model.trending_scores())
        popular = (1 - self.shrink) * counts + self.shrink * trend
        similar = model.centroid_scores(cluster_id)
        content = np.zeros_like(popular) if similar is None else similar
        return self.engagement * popular + (1 - self.engagement) * np.clip(content, 0, None)

    def scores_at(
        self,
        model: ModelView,
        cluster_id: int,
        rows: np.ndarray,
        vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        """The same scores of a live cluster at ``rows`` only (its served list scores its
        candidates: the text similarity costs O(rows), not O(catalogue)). ``vectors``:
        the item vectors of ``rows`` when the caller has them (a group scores its
        clusters on the same rows)."""
        counts = model.unit_cluster_engagement_at(cluster_id, rows)
        trend = model.unit_trending_at(rows)
        popular = (1 - self.shrink) * counts + self.shrink * trend
        centroid = model.centroid(cluster_id)
        if centroid is None:
            return self.engagement * popular
        block = model.item_matrix()[rows] if vectors is None else vectors
        content = np.clip(block @ centroid, 0, None)
        return self.engagement * popular + (1 - self.engagement) * content


@dataclass
class UserRerank:
    """The user's clusters' candidates reranked by closeness to the user's own vector.

    Score = ``content`` * cos(user, item) + (1 - ``content``) * cluster score,
    the cluster score mixing the nearest and second-nearest cluster by their
    similarity to the user. Users without a vector get the cluster list or
    trending.
    """

    name: str = "user"
    content: float = 0.5
    cluster: ClusterPopular | None = None

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        cluster = self.cluster or ClusterPopular()
        vector = model.user_vector(user_id) if user_id is not None else None
        if vector is None or not vector.any():
            return cluster.scores(model, user_id, cluster_id)
        first, second, sims = model.user_clusters(user_id)  # type: ignore[arg-type]
        sims = np.clip(sims, 1e-3, None)
        mix = unit_max(cluster.scores(model, None, first)) * sims[0]
        if second >= 0:
            mix = mix + unit_max(cluster.scores(model, None, second)) * sims[1]
        mix = unit_max(mix)
        content = np.clip(model.item_matrix() @ vector, 0, None)
        return self.content * content + (1 - self.content) * mix


@dataclass
class Learned:
    """The online-learned blend of :mod:`streamrec.model.ranker` (trends, co-occurrence,
    transitions, text similarity to the user's profile and last review, cluster
    engagement). Unknown users get trending."""

    name: str = "learned"

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        if user_id is None or not model.knows_user(user_id):
            return Trending().scores(model, user_id, cluster_id)
        return model.learned_scores(user_id)


@dataclass
class PopularityDebiased:
    """Exposure-aware re-rank: ``base`` score minus ``strength`` x log(1 + popularity), so
    items everyone already sees give way to the long tail (0: the base unchanged)."""

    base: Strategy
    strength: float
    name: str = "user"

    def __post_init__(self) -> None:
        if not np.isfinite(self.strength) or self.strength < 0:
            raise ValueError(f"debias strength must be finite and >= 0, got {self.strength}")

    def penalty(self, model: ModelView) -> np.ndarray:
        """The (negative) term added to every item's score."""
        return -self.strength * np.log1p(np.clip(model.popularity_scores(), 0, None))

    def scores(self, model: ModelView, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        base = self.base.scores(model, user_id, cluster_id)
        return base if self.strength == 0 else base + self.penalty(model)[: base.size]


DEFAULT_STRATEGIES: tuple[str, ...] = ("user", "cluster", "trending")


def make_strategies(popularity_debias: float = 0.0) -> dict[str, Strategy]:
    """``user`` (served per user) is the learned blend, popularity-debiased when
    ``popularity_debias`` > 0; ``rerank`` the plain cluster rerank."""
    cluster = ClusterPopular()
    user: Strategy = Learned(name="user")
    if popularity_debias > 0:
        user = PopularityDebiased(user, popularity_debias)
    return {
        "user": user,
        "rerank": UserRerank(name="rerank", cluster=cluster),
        "cluster": cluster,
        "trending": Trending(),
        "popularity": Popularity(),
    }
