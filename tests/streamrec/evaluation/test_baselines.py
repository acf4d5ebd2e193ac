"""Item-kNN: the variants of a tuning grid share one model's cached similarities."""

from __future__ import annotations

import itertools

import numpy as np

from streamrec.evaluation.baselines import ItemKNNModel, KNNVariant
from streamrec.evaluation.datasets import Interaction


def _stream(n: int = 400, seed: int = 0) -> list[Interaction]:
    rng = np.random.default_rng(seed)
    return [
        Interaction(
            user_id=f"u{rng.integers(12)}",
            item_id=f"i{rng.zipf(1.3) % 60}",
            ts=float(t),
            rating=4.0,
            text="",
            key=f"k{t}",
        )
        for t in range(n)
    ]


def test_each_variant_scores_as_a_model_of_its_own_bit_for_bit() -> None:
    variants = [
        KNNVariant(a, s, r) for a, s, r in itertools.product((0.5, 1.0), (0.0, 10.0), (0.0, 5.0))
    ]
    shared = ItemKNNModel(variants)
    alone = {v: ItemKNNModel([v]) for v in variants}
    for n, interaction in enumerate(_stream()):
        if n % 7 == 0:  # score between events, every variant of the shared model in turn
            user = interaction.user_id
            for variant in variants:
                expected = alone[variant].scores_for(user, variant)
                assert shared.scores_for(user, variant).tobytes() == expected.tobytes()
        for model in (shared, *alone.values()):
            model.observe(interaction, None)


def test_cached_similarities_follow_the_next_event() -> None:
    model = ItemKNNModel()
    stream = _stream(50)
    for interaction in stream[:-1]:
        model.observe(interaction, None)
    user = stream[-1].user_id
    before = model.scores_for(user).copy()
    model.observe(Interaction(user, "i-new", 1e9, 4.0, "", "late"), None)
    fresh = ItemKNNModel()
    for interaction in [*stream[:-1], Interaction(user, "i-new", 1e9, 4.0, "", "late")]:
        fresh.observe(interaction, None)
    assert model.scores_for(user).tobytes() == fresh.scores_for(user).tobytes()
    assert model.scores_for(user).tobytes() != before.tobytes()
