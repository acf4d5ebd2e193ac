"""A/B statistics per arm: CTR and NDCG@10 per impression, 95% intervals, two-sided tests.

The unit is the impression (one served list). Its outcomes are ``clicked``
(0/1: some click answered it) and ``ndcg`` (NDCG@10 of the first answering
click, 0 when none). With thousands of impressions per arm the normal
approximation holds: Wilson intervals for CTR, mean +- 1.96 standard errors
for NDCG@10, a pooled two-proportion z-test for CTR and Welch's z-test for
NDCG@10, each between an arm and the experiment's first arm (the control).

Stopping rule (fixed horizon): choose the impressions per arm in advance
(``min_impressions``), and call a difference only once every arm has them and
p < alpha / 2 for CTR or NDCG@10 (Bonferroni over the two metrics). Looking
earlier and stopping at the first small p inflates false positives. Until then
the verdict is ``running``.

>>> a, b = ArmTotals(impressions=2000, clicked=300), ArmTotals(impressions=2000, clicked=200)
>>> round(two_proportion_p(a, b), 6) < 0.001
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

Z95 = 1.959963984540054


@dataclass
class ArmTotals:
    """Sufficient statistics of one arm."""

    impressions: int = 0
    clicked: int = 0
    ndcg_sum: float = 0.0
    ndcg_sq: float = 0.0

    @property
    def ctr(self) -> float:
        return self.clicked / self.impressions if self.impressions else 0.0

    @property
    def ndcg(self) -> float:
        return self.ndcg_sum / self.impressions if self.impressions else 0.0

    def ndcg_var(self) -> float:
        """Sample variance of the per-impression NDCG@10."""
        n = self.impressions
        if n < 2:
            return 0.0
        return max(0.0, (self.ndcg_sq - n * self.ndcg**2) / (n - 1))


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sensible at 0 and 1, unlike Wald)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(arm: ArmTotals, z: float = Z95) -> tuple[float, float]:
    if arm.impressions == 0:
        return (0.0, 0.0)
    half = z * math.sqrt(arm.ndcg_var() / arm.impressions)
    return (arm.ndcg - half, arm.ndcg + half)


def _two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_p(a: ArmTotals, b: ArmTotals) -> float:
    """Two-sided p of the pooled z-test of equal CTRs."""
    if a.impressions == 0 or b.impressions == 0:
        return 1.0
    pooled = (a.clicked + b.clicked) / (a.impressions + b.impressions)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.impressions + 1 / b.impressions))
    return 1.0 if se == 0 else _two_sided((a.ctr - b.ctr) / se)


def welch_p(a: ArmTotals, b: ArmTotals) -> float:
    """Two-sided p of Welch's z-test of equal mean NDCG@10."""
    if a.impressions < 2 or b.impressions < 2:
        return 1.0
    se = math.sqrt(a.ndcg_var() / a.impressions + b.ndcg_var() / b.impressions)
    return 1.0 if se == 0 else _two_sided((a.ndcg - b.ndcg) / se)


def arm_report(arm: ArmTotals) -> dict:
    return {
        **asdict(arm),
        "ctr": arm.ctr,
        "ctr_ci": list(wilson(arm.clicked, arm.impressions)),
        "ndcg@10": arm.ndcg,
        "ndcg@10_ci": list(mean_interval(arm)),
    }


def experiment_report(
    arms: dict[str, ArmTotals], alpha: float = 0.05, min_impressions: int = 1000
) -> dict:
    """Every arm with intervals, and each arm against the first (control): p-values and verdict."""
    names = list(arms)
    report: dict = {"arms": {n: arm_report(a) for n, a in arms.items()}, "comparisons": []}
    if len(names) < 2:
        return report
    control = arms[names[0]]
    ready = all(a.impressions >= min_impressions for a in arms.values())
    for name in names[1:]:
        arm = arms[name]
        p_ctr, p_ndcg = two_proportion_p(control, arm), welch_p(control, arm)
        significant = ready and min(p_ctr, p_ndcg) < alpha / 2  # Bonferroni: 2 metrics
        report["comparisons"].append(
            {
                "control": names[0],
                "arm": name,
                "ctr_diff": arm.ctr - control.ctr,
                "ndcg@10_diff": arm.ndcg - control.ndcg,
                "p_ctr": p_ctr,
                "p_ndcg@10": p_ndcg,
                "significant": significant,
                "verdict": "running" if not ready else _verdict(significant, arm, control),
            }
        )
    return report


def _verdict(significant: bool, arm: ArmTotals, control: ArmTotals) -> str:
    if not significant:
        return "no difference"
    better = (arm.ndcg, arm.ctr) > (control.ndcg, control.ctr)
    return "arm better" if better else "control better"
