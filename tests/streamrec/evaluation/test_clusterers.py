"""The clusterer comparison: every engine fed once in micro-batches, figures that add up."""

import numpy as np
import pytest

from streamrec.clustering.factory import ClustererConfig
from streamrec.evaluation.clusterers import balance, compare_clusterers, markdown
from streamrec.evaluation.datasets import Interaction
from streamrec.model.config import EngineConfig

TOPICS = ["bright guitar strings", "warm tube amp tone", "vocal condenser microphone"]


def synthetic(n: int = 240, dim: int = 16) -> tuple[list[Interaction], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    centres = np.eye(dim)[:3]
    interactions, vectors = [], []
    for step in range(n):
        topic = step % 3
        vector = centres[topic] + rng.normal(0, 0.05, dim)
        vectors.append(vector / np.linalg.norm(vector))
        interactions.append(
            Interaction(
                user_id=f"u{step % 30}",
                item_id=f"{topic}-{rng.integers(6)}",
                ts=float(step),
                rating=5.0,
                text=TOPICS[topic],
                key=f"k{step}",
            )
        )
    return interactions, vectors


def test_each_clusterer_is_replayed_and_reported(tmp_path) -> None:
    interactions, vectors = synthetic()
    kinds = {
        "fixed": EngineConfig(n_clusters=3),
        "density": EngineConfig(clustering=ClustererConfig(clusterer="dbstream")),
    }
    payload = compare_clusterers(
        interactions, vectors, 16, kinds, batch_reviews=16, resamples=50, plots=tmp_path
    )
    assert payload["interactions"] == 240 and payload["scored"] > 0
    for name, figures in payload["clusterers"].items():
        assert figures["clusters_final"] >= 1, name
        assert sum(figures["lifecycle"].values()) >= 1, name  # at least the births
        for strategy in ("user", "cluster"):
            low, high = figures[strategy]["ndcg@10_ci"]
            assert 0 <= low <= figures[strategy]["ndcg@10"] <= high <= 1, (name, strategy)
    fixed = payload["clusterers"]["fixed"]
    assert fixed["clusters_final"] == 3
    groups = fixed["groups"]  # cut from the final tree: every cluster in one group
    assert sorted(c for g in groups for c in g["clusters"]) == [0, 1, 2]
    assert sum(g["users"] for g in groups) == 30
    assert (tmp_path / "groups-fixed.png").stat().st_size > 1000
    words = {w for row in payload["clusterers"]["fixed"]["labels"]["largest"] for w in row["words"]}
    assert {"strings", "amp", "microphone"} <= words
    report = markdown(payload, "synthetic", "python benchmarks/clusterers.py")
    assert "| `fixed` | 3 / " in report and "## `density`: largest clusters" in report


def test_balance_of_even_and_lopsided_sizes() -> None:
    even, lopsided = balance([10, 10, 10, 10]), balance([37, 1, 1, 1])
    assert even["entropy"] == pytest.approx(1.0) and even["gini"] == pytest.approx(0.0)
    assert lopsided["largest_share"] == pytest.approx(37 / 40)
    assert lopsided["entropy"] < 0.5 and lopsided["gini"] > 0.6
    assert balance([]) == {"entropy": 0.0, "gini": 0.0, "largest_share": 0.0}
