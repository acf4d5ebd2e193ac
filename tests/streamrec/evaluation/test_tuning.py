import dataclasses

from streamrec.evaluation.baselines import PopularityModel, RandomModel
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.replay import replay
from streamrec.evaluation.tuning import Grids, choose, tune
from tests.streamrec.evaluation.evaluation_data import synthetic_stream

SMALL = Grids(
    streamrec_learning_rates=(0.05, 0.2),
    knn_alphas=(0.5, 1.0),
    knn_recencies=(0.0,),
    biasedmf_factors=(8,),
    biasedmf_learning_rates=(0.05,),
    mf_factors=(4,),
    mf_learning_rates=(0.05, 0.2),
    mf_regularisations=(0.01,),
    raisgd_negatives=(1, 3),
    sasrec_epochs=(2,),
    sasrec_steps=(1, 2),
    sasrec_learning_rates=(1e-3,),
    sasrec_retrain_every=20,
    sasrec_batch=8,
    sequential=True,
)


def test_choose_takes_the_best_and_the_first_on_a_tie() -> None:
    summary = {"a": {"ndcg@10": 0.1}, "b": {"ndcg@10": 0.3}, "c": {"ndcg@10": 0.3}}
    assert choose(summary, ["a", "b", "c"]) == "b"
    assert choose(summary, ["missing", "a"]) == "a"


def test_tuning_reads_nothing_of_the_reported_part() -> None:
    interactions, vectors = synthetic_stream(250)
    cut = 50  # 20% of 250
    scrambled = interactions[:cut] + [
        dataclasses.replace(i, item_id="other-" + i.item_id, user_id=i.item_id)
        for i in interactions[cut:]
    ]
    first = tune(interactions, vectors, 16, grids=SMALL)
    second = tune(scrambled, vectors, 16, grids=SMALL)
    assert first.interactions == cut and first.scored > 5
    assert first.scores == second.scores and first.chosen == second.chosen
    assert set(first.chosen) == {
        "streamrec-user",
        "trending",
        "item-knn",
        "biasedmf-negatives",
        "isgd",
        "raisgd",
        "sasrec-periodic",
        "sasrec-incremental",
    }
    assert len(first.scores["raisgd"]) == 2 * 2  # every candidate was scored
    assert len(first.scores["sasrec-incremental"]) == 2
    assert first.params["sasrec-periodic"]["retrain_every"] == 20
    assert first.params["isgd"]["factors"] == 4


def test_interaction_type_is_what_tuning_slices() -> None:
    interactions, _ = synthetic_stream(10)
    assert all(isinstance(i, Interaction) for i in interactions)


def test_a_replay_without_tops_ranks_alike_and_reports_no_coverage() -> None:
    """Tuning replays without each strategy's top k: the same ranks, so the same NDCG."""
    interactions, vectors = synthetic_stream(120)
    kept, skipped = (
        replay(interactions, vectors, [PopularityModel([50.0, 500.0]), RandomModel()], tops=t)
        for t in (True, False)
    )
    assert skipped.ranks == kept.ranks and len(kept.ranks["random"]) > 50
    assert kept.tops and not skipped.tops
    summary = skipped.summary("all")
    assert summary == {
        name: {key: value for key, value in metrics.items() if key != "coverage"}
        for name, metrics in kept.summary("all").items()
    }
