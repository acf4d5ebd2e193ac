"""Metrics against a direct transcription of RecBole's formulas on random cases."""

import math
import random

import numpy as np
import pytest

from streamrec.evaluation.metrics import MetricMeans, metrics_from_rank, rank_metrics, rank_of


def reference(ranked: list[str], relevant: set[str], k: int) -> dict[str, float]:
    """RecBole metrics.py, one user, written out with plain loops."""
    rel = [1 if item in relevant else 0 for item in ranked[:k]]
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    ap = 0.0
    for i in range(len(rel)):
        if rel[i]:
            ap += sum(rel[: i + 1]) / (i + 1)
    mrr = 0.0
    for i, item in enumerate(ranked):
        if item in relevant:
            mrr = 1 / (i + 1)
            break
    return {
        f"hit@{k}": float(any(rel)),
        f"precision@{k}": sum(rel) / k,
        f"recall@{k}": sum(rel) / len(relevant),
        f"ndcg@{k}": dcg / idcg,
        f"map@{k}": ap / min(len(relevant), k),
        "mrr": mrr,
    }


@pytest.mark.parametrize("seed", range(200))
def test_matches_reference_on_random_cases(seed: int) -> None:
    rng = random.Random(seed)
    catalogue = [f"i{n}" for n in range(rng.randint(5, 60))]
    ranked = rng.sample(catalogue, rng.randint(1, len(catalogue)))
    relevant = set(rng.sample(catalogue, rng.randint(1, min(8, len(catalogue)))))
    k = rng.choice([1, 3, 5, 10, 20])
    ours, theirs = rank_metrics(ranked, relevant, k), reference(ranked, relevant, k)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


@pytest.mark.parametrize("seed", range(50))
def test_rank_shortcut_equals_list_metrics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=40)
    target = int(rng.integers(40))
    ranked = [f"i{j}" for j in np.argsort(-scores, kind="stable")]
    from_rank = metrics_from_rank(rank_of(scores, target), k=10)
    from_list = rank_metrics(ranked, {f"i{target}"}, k=10)
    for name, value in from_list.items():
        assert from_rank[name] == pytest.approx(value, abs=1e-9), name


def test_ties_count_against_the_target() -> None:
    assert rank_of(np.zeros(5), 2) == 5
    assert rank_of(np.array([1.0, 3.0, 3.0]), 2) == 2


def test_means_and_coverage() -> None:
    means = MetricMeans()
    means.add({"hit@10": 1.0}, ["a", "b"])
    means.add({"hit@10": 0.0}, ["b", "c"])
    out = means.means(catalogue=6)
    assert out["hit@10"] == 0.5 and out["coverage"] == 0.5 and out["events"] == 2
