import numpy as np
import pytest
from scipy import stats

from streamrec.evaluation.ab import (
    ArmTotals,
    experiment_report,
    mean_interval,
    two_proportion_p,
    welch_p,
    wilson,
)


def totals(values: np.ndarray) -> ArmTotals:
    return ArmTotals(
        impressions=len(values),
        clicked=int((values > 0).sum()),
        ndcg_sum=float(values.sum()),
        ndcg_sq=float((values**2).sum()),
    )


def test_intervals_and_tests_agree_with_scipy() -> None:
    rng = np.random.default_rng(0)
    a = np.where(rng.random(3000) < 0.2, rng.random(3000), 0.0)
    b = np.where(rng.random(2500) < 0.17, rng.random(2500), 0.0)
    ta, tb = totals(a), totals(b)
    low, high = mean_interval(ta)
    assert (low + high) / 2 == pytest.approx(a.mean())
    assert high - low == pytest.approx(2 * 1.96 * stats.sem(a), rel=1e-3)
    welch = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert welch_p(ta, tb) == pytest.approx(welch, rel=0.02)
    table = [[ta.clicked, ta.impressions - ta.clicked], [tb.clicked, tb.impressions - tb.clicked]]
    chi2 = stats.chi2_contingency(table, correction=False).pvalue
    assert two_proportion_p(ta, tb) == pytest.approx(chi2, rel=1e-6)


def test_wilson_stays_inside_zero_one_and_covers() -> None:
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0
    low, high = wilson(30, 200)
    assert low < 0.15 < high
    assert wilson(0, 0) == (0.0, 1.0)


def test_report_waits_for_the_horizon_then_calls_the_better_arm() -> None:
    control = ArmTotals(impressions=5000, clicked=500, ndcg_sum=250, ndcg_sq=150)
    better = ArmTotals(impressions=5000, clicked=700, ndcg_sum=420, ndcg_sq=260)
    early = experiment_report({"a": control, "b": better}, min_impressions=10_000)
    assert early["comparisons"][0]["verdict"] == "running"
    done = experiment_report({"a": control, "b": better}, min_impressions=1000)
    comparison = done["comparisons"][0]
    assert comparison["significant"] and comparison["verdict"] == "arm better"
    assert done["arms"]["b"]["ctr"] == pytest.approx(0.14)
    same = experiment_report({"a": control, "b": control}, min_impressions=1000)
    assert same["comparisons"][0]["verdict"] == "no difference"
