"""The replay harness: each model fed once, tuned baselines, intervals, reproducible."""

import copy
import json

import numpy as np
import pytest

from streamrec.evaluation.baselines import PopularityModel
from streamrec.evaluation.payload import metrics_payload
from streamrec.evaluation.replay import EXTRAS_LABEL, EngineModel, replay
from streamrec.evaluation.report import write_report
from streamrec.evaluation.run import SERVED_PRODUCTION, run_evaluation
from streamrec.evaluation.served import ServedModel
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream
from tests.streamrec.evaluation.test_tuning import SMALL


def evaluate_synthetic(n: int, resamples: int, workers: int = 1):  # type: ignore[no-untyped-def]
    """The whole evaluation (tuning on the small grids, then the chosen models) of a
    synthetic stream of ``n`` interactions."""
    interactions, vectors = synthetic_stream(n)
    return run_evaluation(
        "synthetic",
        interactions,
        vectors,
        16,
        SMALL,
        batch_refit=100,
        progress=False,
        resamples=resamples,
        command="streamrec replay ...",
        workers=workers,
    )


@pytest.fixture(scope="module")
def evaluation():
    return evaluate_synthetic(300, 200)


def test_every_engine_sees_each_event_once(evaluation) -> None:
    assert evaluation.result.delivered == 2 * 300  # a click and a review per interaction
    assert evaluation.clocks == {
        name: 600
        for name in ("streamrec-user", "batch-user", "streamrec-served", SERVED_PRODUCTION)
    }
    for name in ("streamrec-cluster", "streamrec-rerank", "streamrec-trending"):
        assert name in evaluation.result.ranks  # scored from streamrec-user's engine


def test_streamrec_trending_equals_the_trending_baseline_at_half_its_event_half_life(
    evaluation,
) -> None:
    # H = 1000 events = 500 interactions (a click and a review each, no ratings)
    ranks = evaluation.result.ranks
    assert EngineConfig().trending_half_life == 1000
    assert ranks["streamrec-trending"] == ranks["trending-500"]
    assert ranks["streamrec-trending"] != ranks["trending-250"]


def test_an_engine_wrapped_twice_fails_the_replay() -> None:
    interactions, vectors = synthetic_stream(40)
    engine = Engine(16, EngineConfig(n_clusters=3))
    shared = [EngineModel(engine, ["user"]), EngineModel(engine, ["trending"])]
    with pytest.raises(RuntimeError, match="two models"):
        replay(interactions, vectors, shared)
    alone = Engine(16, EngineConfig(n_clusters=3))
    replay(interactions, vectors, [EngineModel(alone, ["user", "trending"]), PopularityModel()])
    assert alone.clock == sum(len(i.events()) for i in interactions)


def test_production_serving_lags_by_a_micro_batch_and_feeds_the_engine_once() -> None:
    interactions, vectors = synthetic_stream(120)
    config = EngineConfig(n_clusters=3)
    per_event = ServedModel(Engine(16, config))
    batched = ServedModel(Engine(16, config), "b", batch_reviews=16, partitions=4)
    result = replay(interactions, vectors, [], [per_event, batched])
    assert batched.engine.clock == per_event.engine.clock == 240
    assert result.ranks["b"] != result.ranks["streamrec-served"]  # lists lag a batch
    fresh = ServedModel(Engine(16, config), "c", batch_reviews=16, partitions=4)
    for interaction, vector in zip(interactions[:10], vectors[:10], strict=True):
        fresh.observe(interaction, vector)
    assert fresh.engine.clock == 0 and not fresh.user_recs  # under one batch: nothing yet
    fresh.flush()
    assert fresh.engine.clock == 20 and fresh.user_recs


def test_baselines_are_the_tuned_choices_under_their_family_names(evaluation) -> None:
    evaluation_part = evaluation.result.summary("evaluation")
    for family in (
        "item-knn",
        "biasedmf-negatives",
        "isgd",
        "raisgd",
        "sasrec-periodic",
        "sasrec-incremental",
    ):
        assert family in evaluation_part
        assert f"streamrec_vs_{family.replace('-', '_')}_ndcg" in evaluation_ratios(evaluation)
    chosen = evaluation.chosen
    assert chosen["trending"] in evaluation_part
    assert chosen["isgd"] in evaluation.tuning.scores["isgd"]


def test_every_model_of_the_final_replay_is_timed(evaluation) -> None:
    seconds = evaluation.model_seconds
    # one engine scores StreamRec's strategies and writes the best-case served lists
    streamrec = "streamrec-user + streamrec-cluster + streamrec-rerank + streamrec-trending"
    assert f"{streamrec} + streamrec-served" in seconds
    for name in (SERVED_PRODUCTION, "batch-user", "random", "isgd"):
        assert name in seconds
    assert EXTRAS_LABEL in seconds  # the debias sweep, scored beside
    assert all(value >= 0 for value in seconds.values())
    assert list(seconds.values()) == sorted(seconds.values(), reverse=True)
    assert seconds[f"{streamrec} + streamrec-served"] > seconds["random"]


def evaluation_ratios(evaluation) -> dict:
    return metrics_payload(evaluation)["ratios"]


def test_report_has_intervals_and_a_paired_test_and_is_byte_identical(evaluation, tmp_path) -> None:
    first = write_report(evaluation, tmp_path / "a")
    write_report(evaluation, tmp_path / "b")
    a = (tmp_path / "a" / "metrics.json").read_bytes()
    assert a == (tmp_path / "b" / "metrics.json").read_bytes()
    payload = json.loads(a)
    ours = payload["evaluation"]["streamrec-user"]["ndcg@10"]
    low, high = payload["confidence_intervals_95"]["streamrec-user"]["ndcg@10"]
    assert low <= ours <= high
    for ratio in payload["ratios"].values():
        assert ratio["ci95"][0] <= ratio["value"] <= ratio["ci95"][1]
    assert payload["paired_test"]["against"] == payload["best_tuned_baseline"]
    assert 0 < payload["paired_test"]["paired_bootstrap_p"] <= 1
    assert "replay_seconds" not in payload  # timing goes to timing.json
    assert "reported part" in payload["oracle_not_a_target"]["note"]
    assert first["command"] == "streamrec replay ..."
    report = (tmp_path / "a" / "report.md").read_text()
    assert "Reproduce with `streamrec replay ...`" in report and "95% CI" in report
    assert np.isfinite(payload["streamrec_vs_batch_ndcg"])


def test_fairness_json_breaks_every_strategy_down_and_leaves_metrics_json_alone(
    evaluation, tmp_path
) -> None:
    write_report(evaluation, tmp_path / "a")
    write_report(evaluation, tmp_path / "b")
    first = (tmp_path / "a" / "fairness.json").read_bytes()
    assert first == (tmp_path / "b" / "fairness.json").read_bytes()
    fairness = json.loads(first)
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert set(fairness["strategies"]) == set(metrics["evaluation"])
    assert not any("debias" in name for name in metrics["evaluation"])
    for name, block in fairness["strategies"].items():
        assert block["ndcg@10"] == pytest.approx(metrics["evaluation"][name]["ndcg@10"], abs=1e-5)
        assert set(block["by_activity"]) <= {"0", "1-2", "3-9", "10+"}
        assert 0 <= block["exposure_gini"] <= 1 and 0 <= block["long_tail_coverage"] <= 1
    events = sum(g["events"] for g in fairness["groups"]["popularity_decile"].values())
    assert events == metrics["scored_events"]["evaluation"]
    sweep = fairness["debias_sweep"]["strengths"]
    assert sweep["0"]["ndcg@10"] == fairness["strategies"]["streamrec-user"]["ndcg@10"]
    assert sweep["1"]["long_tail_share"] > sweep["0"]["long_tail_share"]
    low, high = sweep["1"]["ndcg@10_ci95"]
    assert low <= sweep["1"]["ndcg@10"] <= high
    assert 0 < sweep["1"]["vs_strength_0"]["paired_bootstrap_p"] <= 1
    assert "vs_strength_0" not in sweep["0"]
    report = (tmp_path / "a" / "report.md").read_text()
    assert "## Fairness and exposure" in report and "fairness_tradeoff.png" in report
    assert (tmp_path / "a" / "fairness_tradeoff.png").stat().st_size > 1000


def test_a_baseline_scoring_zero_gets_no_ratio_and_the_report_still_writes(
    evaluation, tmp_path
) -> None:
    # a periodic model before its first retrain ranks nothing: NDCG@10 is 0
    broken = copy.deepcopy(evaluation)
    ranks = broken.result.ranks["sasrec-periodic"]
    broken.result.ranks["sasrec-periodic"] = [10**6] * len(ranks)
    payload = write_report(broken, tmp_path)
    ratio = payload["ratios"]["streamrec_vs_sasrec_periodic_ndcg"]
    assert ratio["value"] is None and ratio["ci95"] is None
    assert payload["ratios"]["streamrec_vs_item_knn_ndcg"]["value"] > 0
    assert "sasrec-periodic | undefined" in (tmp_path / "report.md").read_text()
