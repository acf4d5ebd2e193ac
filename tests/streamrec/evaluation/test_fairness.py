"""Group metrics and exposure (pure), and what the replay records for them."""

from collections import Counter

import numpy as np
import pytest

from streamrec.evaluation.debias import debias_name, debias_sweep
from streamrec.evaluation.fairness import (
    activity_bucket,
    exposure,
    gini,
    group_metrics,
    group_sizes,
    long_tail,
    popularity_decile,
)
from streamrec.evaluation.metrics import metrics_from_rank
from streamrec.evaluation.replay import EngineModel, replay
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream


def test_gini_is_zero_for_equal_exposure_and_grows_with_concentration() -> None:
    assert gini(np.array([4.0, 4.0, 4.0, 4.0])) == 0.0
    assert gini(np.zeros(5)) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 8.0])) == 0.75  # (n - 1) / n: one item takes all
    assert 0 < gini(np.array([1.0, 2.0, 3.0])) < gini(np.array([0.0, 1.0, 5.0]))
    with pytest.raises(ValueError, match="exposure"):
        gini(np.array([-1.0, 2.0]))


def test_activity_buckets_and_popularity_deciles() -> None:
    assert [activity_bucket(p) for p in (0, 1, 2, 3, 9, 10, 500)] == [
        "0",
        "1-2",
        "1-2",
        "3-9",
        "3-9",
        "10+",
        "10+",
    ]
    with pytest.raises(ValueError):
        activity_bucket(-1)
    counts = np.arange(1.0, 101.0)  # 100 items, one of each count
    assert [popularity_decile(counts, v) for v in (1, 10, 11, 50, 91, 100)] == [1, 1, 2, 5, 10, 10]
    ties = np.array([1.0] * 8 + [5.0, 9.0])  # ties share their mid-rank decile
    assert popularity_decile(ties, 1.0) == 5 and popularity_decile(ties, 9.0) == 10
    with pytest.raises(ValueError):
        popularity_decile(np.array([]), 1.0)


def test_long_tail_leaves_out_the_items_taking_the_head_share() -> None:
    counts = {"a": 50, "b": 20, "c": 10, "d": 10, "e": 10}
    assert long_tail(counts, head_share=0.2) == {"b", "c", "d", "e"}
    assert long_tail(counts, head_share=0.6) == {"c", "d", "e"}
    shown = exposure([["a", "b"], ["a", "c"]], list(counts), long_tail(counts, 0.2))
    assert shown["long_tail_coverage"] == 0.5  # b and c of b, c, d, e
    assert shown["long_tail_share"] == 0.5  # two of four slots
    assert shown["exposure_gini"] == gini(np.array([2.0, 1.0, 1.0, 0.0, 0.0]))


def test_group_metrics_are_the_replay_metrics_per_group() -> None:
    ranks = [1, 3, 20, 2, 1_000_000]
    groups = ["3-9", "0", "0", "10+", "3-9"]
    out = group_metrics(ranks, groups, 10)
    assert list(out) == ["0", "3-9", "10+"]
    expect = np.mean([metrics_from_rank(r, 10)["ndcg@10"] for r in (3, 20)])
    assert out["0"]["ndcg@10"] == pytest.approx(expect, abs=1e-5)
    assert out["3-9"]["hr@10"] == 0.5 and out["10+"]["hr@10"] == 1.0
    assert group_sizes(groups, ["u", "u", "v", "w", "u"]) == {
        "0": {"events": 2, "users": 2},
        "3-9": {"events": 2, "users": 1},
        "10+": {"events": 1, "users": 1},
    }
    with pytest.raises(ValueError, match="group labels"):
        group_metrics([1, 2], ["a"], 10)


def test_replay_records_who_was_served_and_the_sweep_beside_the_strategies() -> None:
    interactions, vectors = synthetic_stream(200)
    model = EngineModel(Engine(16, EngineConfig(n_clusters=3)), ["user"])
    engine = model.engine
    result = replay(
        interactions,
        vectors,
        [model],
        cluster_of=engine.user_cluster,
        extras=debias_sweep(model.view, (0.0, 5.0)),
    )
    context, seen_users, seen_items = result.context, Counter(), Counter()
    position = {n: at for at, n in enumerate(result.index)}
    for n, interaction in enumerate(interactions):
        if n in position:
            at = position[n]
            assert context.prior[at] == seen_users[interaction.user_id]
            assert context.popularity[at] == seen_items[interaction.item_id] > 0
            assert 1 <= context.decile[at] <= 10
        seen_users[interaction.user_id] += 1
        seen_items[interaction.item_id] += 1
    assert result.item_counts == dict(seen_items)
    assert set(context.cluster) <= {-1, 0, 1, 2} and max(context.cluster) >= 0
    assert list(result.ranks) == ["streamrec-user"]  # the sweep stays out of the strategies
    assert result.extra_ranks[debias_name(0.0)] == result.ranks["streamrec-user"]
    counts = result.item_counts
    tops = {s: result.extra_tops[debias_name(s)] for s in (0, 5)}
    shown = {s: [counts[i] for top in tops[s] for i in top] for s in tops}
    assert np.mean(shown[5]) < np.mean(shown[0])  # the re-rank shows less popular items
