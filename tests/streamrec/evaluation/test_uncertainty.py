import numpy as np

from streamrec.evaluation.uncertainty import UserSample


def sample(better_by: float, users: int = 200, per_user: int = 5, seed: int = 0) -> UserSample:
    rng = np.random.default_rng(seed)
    ids = [f"u{n}" for n in range(users) for _ in range(per_user)]
    base = rng.random(users * per_user) < 0.3
    other = rng.random(users * per_user) < 0.3 + better_by
    return UserSample.of(ids, {"a": other.astype(float), "b": base.astype(float)})


def test_groups_interactions_by_user() -> None:
    s = UserSample.of(["x", "y", "x"], {"m": np.array([1.0, 0.0, 0.5])})
    assert s.users == ["x", "y"]
    assert s.counts.tolist() == [2.0, 1.0]
    assert s.totals["m"].tolist() == [1.5, 0.0]
    assert s.mean("m") == 0.5


def test_interval_holds_the_mean_and_narrows_with_more_users() -> None:
    small, large = sample(0.0, users=50), sample(0.0, users=800)
    lo_s, hi_s = small.mean_ci("b", 1000)
    lo_l, hi_l = large.mean_ci("b", 1000)
    assert lo_s < small.mean("b") < hi_s and lo_l < large.mean("b") < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 2


def test_paired_tests_find_a_real_difference_and_not_an_aa_split() -> None:
    real = sample(0.15).paired_test("a", "b", 1000)
    assert real["paired_bootstrap_p"] < 0.01 and real["wilcoxon_p"] < 0.01
    same = UserSample.of(
        [f"u{n}" for n in range(200)],
        {"a": np.random.default_rng(1).random(200), "b": np.random.default_rng(2).random(200)},
    )
    aa = same.paired_test("a", "b", 1000)
    assert aa["paired_bootstrap_p"] > 0.05 and aa["wilcoxon_p"] > 0.05


def test_ratio_interval_is_paired_and_holds_the_ratio() -> None:
    s = sample(0.15)
    lo, hi = s.ratio_ci("a", "b", 1000)
    assert 1.0 < lo < s.mean("a") / s.mean("b") < hi
    assert s.ratio_ci("a", "a", 200) == (1.0, 1.0)  # paired: identical strategies, no spread
