import numpy as np

from streamrec.model.scoring import top_items
from streamrec.model.strategies import make_strategies
from streamrec.model.view import ModelView


def test_excluded_rows_never_come_back_and_ties_break_by_row() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 0.5])
    rows, values = top_items(scores, 3, exclude=np.array([1]))
    assert rows.tolist() == [2, 3, 0]
    assert values.tolist() == [3.0, 2.0, 1.0]


def test_fewer_items_than_k() -> None:
    rows, _ = top_items(np.array([0.1, -np.inf]), 5)
    assert rows.tolist() == [0]


def test_mmr_trades_relevance_for_variety() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores = np.array([1.0, 0.99, 0.5])
    plain, _ = top_items(scores, 2, vectors=vectors)
    diverse, _ = top_items(scores, 2, vectors=vectors, diversity=0.6)
    assert plain.tolist() == [0, 1]
    assert diverse.tolist() == [0, 2]


class ThreeItems:
    """A ModelView without an engine: three items, one user in cluster 7."""

    def trending_scores(self) -> np.ndarray:
        return np.array([1.0, 2.0, 0.5])

    def popularity_scores(self) -> np.ndarray:
        return np.array([5.0, 1.0, 1.0])

    def cluster_engagement(self, cluster_id: int) -> np.ndarray:
        return np.array([0.0, 0.0, 4.0]) if cluster_id == 7 else np.zeros(3)

    def centroid(self, cluster_id: int) -> np.ndarray | None:
        return np.array([0.0, 1.0]) if cluster_id == 7 else None

    def centroid_scores(self, cluster_id: int) -> np.ndarray | None:
        centroid = self.centroid(cluster_id)
        return None if centroid is None else self.item_matrix() @ centroid

    def item_matrix(self) -> np.ndarray:
        return np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])

    def knows_user(self, user_id: str) -> bool:
        return user_id == "u"

    def user_vector(self, user_id: str) -> np.ndarray | None:
        return np.array([0.0, 1.0]) if user_id == "u" else None

    def user_cluster(self, user_id: str) -> int | None:
        return 7 if user_id == "u" else None

    def user_clusters(self, user_id: str) -> tuple[int, int, np.ndarray]:
        return 7, -1, np.array([0.9, 0.0], dtype=np.float32)

    def learned_scores(self, user_id: str) -> np.ndarray:
        return np.array([0.1, 0.2, 0.3])


def test_strategies_score_through_the_read_only_view_alone() -> None:
    view: ModelView = ThreeItems()
    for name, strategy in make_strategies().items():
        for user in ("u", "stranger"):
            scores = strategy.scores(view, user, None)
            assert scores.shape == (3,) and np.isfinite(scores).all(), (name, user)
    assert int(np.argmax(make_strategies()["rerank"].scores(view, "u", None))) == 2
    assert make_strategies()["user"].scores(view, "stranger", None).tolist() == [1.0, 2.0, 0.5]
