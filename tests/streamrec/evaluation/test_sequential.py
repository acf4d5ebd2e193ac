"""SASRec baselines on tiny data: they learn an order, retrain on time, grow, repeat exactly."""

import numpy as np
import pytest
import torch

from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.sasrec_net import START, windows
from streamrec.evaluation.sequential import UNKNOWN, SASRecIncremental, SASRecPeriodic

SMALL = {"dim": 16, "max_len": 8}


def interaction(user: str, item: str, n: int) -> Interaction:
    return Interaction(user, item, float(n), None, "", f"k{n}")


def walks(users: int, length: int = 6) -> list[Interaction]:
    """Every user walks the items in the same order: i0, i1, ... (users interleaved)."""
    return [
        interaction(f"u{u}", f"i{step}", step * users + u)
        for step in range(length)
        for u in range(users)
    ]


def test_windows_cover_the_history_with_the_start_token_first() -> None:
    assert windows([0, 1], 8) == [[START, 2, 3]]
    long = windows(list(range(10)), 4)
    assert long[0] == [7, 8, 9, 10, 11] and long[-1][0] == START
    assert sum(len(w) - 1 for w in long) == 10  # every item is a target once


def test_periodic_learns_the_next_item_of_a_shared_order() -> None:
    stream = walks(users=24)
    model = SASRecPeriodic(retrain_every=len(stream), epochs=60, learning_rate=5e-3, **SMALL)
    for event in stream[: len(stream) - 1]:
        model.observe(event, None)
    assert (model.scores_for("u0") == UNKNOWN).all()  # no retrain yet: nothing known
    model.observe(stream[-1], None)  # the retrain
    for prefix in range(1, 5):
        newcomer = f"new{prefix}"
        model.history[newcomer] = list(range(prefix))  # items i0 .. i(prefix-1)
        scores = model.scores_for(newcomer)
        assert int(np.argmax(scores)) == prefix  # the next item of the walk
    assert int(np.argmax(model.scores_for("stranger"))) == 0  # no history: where walks start


def test_periodic_scores_items_first_seen_after_its_retrain_last() -> None:
    model = SASRecPeriodic(retrain_every=6, epochs=2, **SMALL)
    for event in walks(users=2, length=3):
        model.observe(event, None)
    model.observe(interaction("u0", "late", 99), None)
    scores = model.scores_for("u0")
    assert len(scores) == 4 and scores[3] == UNKNOWN and (scores[:3] > UNKNOWN).all()


def test_incremental_updates_each_micro_batch_and_grows_its_item_table() -> None:
    model = SASRecIncremental(batch=4, steps=2, learning_rate=1e-2, capacity=2, **SMALL)
    stream = walks(users=4, length=5)  # 5 items > capacity 2
    before = model.scores_for("u0")
    for event in stream:
        model.observe(event, None)
    assert len(before) == 0 and model.known == 5 and model.net.capacity >= 5
    adam = model.optimiser.state[model.net.items.weight]
    assert adam["exp_avg"].shape == model.net.items.weight.shape
    scores = model.scores_for("fresh")
    assert scores.shape == (5,) and np.isfinite(scores).all()
    assert int(np.argmax(scores)) == 0  # a user with no history: where walks start


def test_same_seed_same_scores_whatever_else_draws_from_torch() -> None:
    def run() -> np.ndarray:
        model = SASRecIncremental(batch=3, steps=2, seed=7, **SMALL)
        periodic = SASRecPeriodic(retrain_every=5, epochs=3, seed=7, **SMALL)
        for event in walks(users=3, length=4):
            torch.rand(5)  # someone else's draw in between
            model.observe(event, None)
            periodic.observe(event, None)
        return np.concatenate([model.scores_for("u1"), periodic.scores_for("u1")])

    first, second = run(), run()
    assert first.tobytes() == second.tobytes()
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize(
    "make",
    [
        lambda: SASRecPeriodic(retrain_every=0),
        lambda: SASRecPeriodic(epochs=-1),
        lambda: SASRecIncremental(batch=0),
        lambda: SASRecIncremental(learning_rate=0.0),
        lambda: SASRecIncremental(max_len=1),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(make) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()
