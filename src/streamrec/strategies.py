"""Named recommendation strategies: each scores every item for a user or a cluster.

A strategy returns one score per item row (full ranking); :func:`top_items`
turns scores into a list, leaving out what the user already engaged with.
Strategies are plain objects with a ``name``, so evaluation can run several of
them side by side on the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from streamrec.engine import Engine


class Strategy(Protocol):
    name: str

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        """One score per item row, higher is better; ``-inf`` never served."""
        ...


def unit_max(values: np.ndarray) -> np.ndarray:
    """Scaled so the largest is 1 (all zeros when nothing is positive)."""
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


@dataclass
class Trending:
    """Decayed global popularity: the cold-start answer."""

    name: str = "trending"

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        return engine.items.trending_scores(engine.clock)


@dataclass
class Popularity:
    """All-time popularity."""

    name: str = "popularity"

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        return engine.items.popularity[: engine.items.n_items].copy()


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

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        if cluster_id is None and user_id is not None:
            cluster_id = engine.user_cluster(user_id)
        if cluster_id is None or cluster_id < 0:
            return Trending().scores(engine, user_id, None)
        counts = unit_max(engine.items.cluster_engagement(cluster_id, engine.clock))
        trend = unit_max(engine.items.trending_scores(engine.clock))
        popular = (1 - self.shrink) * counts + self.shrink * trend
        centroid = engine.centroid(cluster_id)
        content = np.zeros_like(popular) if centroid is None else engine.item_matrix() @ centroid
        return self.engagement * popular + (1 - self.engagement) * np.clip(content, 0, None)


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

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        cluster = self.cluster or ClusterPopular()
        vector = engine.profiles.vector(user_id) if user_id is not None else None
        if vector is None or not vector.any():
            return cluster.scores(engine, user_id, cluster_id)
        row = engine.profiles.index[user_id]  # type: ignore[index]
        first, second = int(engine.profiles.cluster[row]), int(engine.profiles.cluster2[row])
        sims = np.clip(engine.profiles.sim[row], 1e-3, None)
        mix = unit_max(cluster.scores(engine, None, first)) * sims[0]
        if second >= 0:
            mix = mix + unit_max(cluster.scores(engine, None, second)) * sims[1]
        mix = unit_max(mix)
        content = np.clip(engine.item_matrix() @ vector, 0, None)
        return self.content * content + (1 - self.content) * mix


@dataclass
class Learned:
    """The online-learned blend of :mod:`streamrec.ranker` (trends, co-occurrence,
    transitions, text similarity to the user's profile and last review, cluster
    engagement). Unknown users get trending."""

    name: str = "learned"

    def scores(self, engine: Engine, user_id: str | None, cluster_id: int | None) -> np.ndarray:
        from streamrec.ranker import features

        if user_id is None or user_id not in engine.profiles.index:
            return Trending().scores(engine, user_id, cluster_id)
        return engine.ranker.scores(features(engine, user_id))


def top_items(
    scores: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
    diversity: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the best ``k`` items; ``diversity`` > 0 reranks by MMR.

    Ties break toward the lower row (the item seen first), so results are
    deterministic.
    """
    scores = scores.astype(np.float64, copy=True)
    if exclude is not None and exclude.size:
        scores[exclude[exclude < scores.size]] = -np.inf
    valid = np.flatnonzero(np.isfinite(scores))
    if valid.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    pool = min(valid.size, k if diversity <= 0 else 4 * k)
    order = valid[np.lexsort((valid, -scores[valid]))][:pool]
    if diversity > 0 and vectors is not None and pool > 1:
        order = _mmr(order, scores, vectors, k, diversity)
    order = order[:k]
    return order, scores[order]


def _mmr(order: np.ndarray, scores: np.ndarray, vectors: np.ndarray, k: int,
         diversity: float) -> np.ndarray:
    """Maximal marginal relevance: trade relevance for distance to what is already chosen."""
    relevance = unit_max(scores[order] - scores[order].min() + 1e-9)
    candidate_vectors = vectors[order]
    chosen: list[int] = [0]
    redundancy = candidate_vectors @ candidate_vectors[0]
    while len(chosen) < min(k, len(order)):
        gain = (1 - diversity) * relevance - diversity * redundancy
        gain[chosen] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        redundancy = np.maximum(redundancy, candidate_vectors @ candidate_vectors[pick])
    return order[chosen]


DEFAULT_STRATEGIES: tuple[str, ...] = ("user", "cluster", "trending")


def make_strategies() -> dict[str, Strategy]:
    """``user`` (served per user) is the learned blend; ``rerank`` the plain cluster rerank."""
    cluster = ClusterPopular()
    return {
        "user": Learned(name="user"),
        "rerank": UserRerank(name="rerank", cluster=cluster),
        "cluster": cluster,
        "trending": Trending(),
        "popularity": Popularity(),
    }
