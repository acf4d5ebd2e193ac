import numpy as np

from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.streaming_mf import ISGDModel, RAISGDModel


def interaction(user: str, item: str, n: int) -> Interaction:
    return Interaction(user, item, float(n), None, "", f"k{n}")


def test_isgd_step_follows_the_published_update() -> None:
    model = ISGDModel(factors=3, learning_rate=0.1, regularisation=0.05, seed=3)
    model.observe(interaction("u", "a", 0), None)
    p0, q0 = model.users["u"].copy(), model.q[0].copy()
    model.observe(interaction("u", "a", 1), None)
    err = 1.0 - p0 @ q0
    assert np.allclose(model.users["u"], p0 + 0.1 * (err * q0 - 0.05 * p0))
    assert np.allclose(model.q[0], q0 + 0.1 * (err * p0 - 0.05 * q0))


def test_isgd_learns_what_a_user_repeats_and_scores_unknown_users_with_zeros() -> None:
    model = ISGDModel(factors=8, learning_rate=0.1, seed=0)
    for n in range(60):
        model.observe(interaction("u", "a" if n % 2 else "b", n), None)
    model.observe(interaction("v", "c", 99), None)
    scores = model.scores_for("u")
    assert scores[0] > 0.5 and scores[1] > 0.5  # a and b move towards 1
    assert scores[2] < min(scores[0], scores[1])
    assert not model.scores_for("stranger").any()


def test_raisgd_pushes_the_least_recently_seen_items_down_and_requeues_them() -> None:
    plain = ISGDModel(factors=8, learning_rate=0.1, seed=0)
    aware = RAISGDModel(factors=8, learning_rate=0.1, negatives=1, seed=0)
    stream = [interaction("v", "old", 0)] + [interaction("u", "new", n) for n in range(1, 40)]
    for event in stream:
        plain.observe(event, None)
        aware.observe(event, None)
    assert list(aware.queue) == [0, 1]  # 'old' requeued, then 'new' seen last
    assert aware.scores_for("u")[0] < plain.scores_for("u")[0]  # "old" pushed away from u
    assert aware.name == "raisgd-f8-eta0.1-lambda0.01-l1"


def test_raisgd_never_takes_the_users_own_items_as_negatives() -> None:
    model = RAISGDModel(factors=4, negatives=2, seed=0)
    for n, item in enumerate(["a", "b", "c"]):
        model.observe(interaction("u", item, n), None)
    before = model.q[:3].copy()
    model.observe(interaction("u", "a", 3), None)  # a, b, c are all u's: no negative step
    assert np.allclose(model.q[1:3], before[1:3])
