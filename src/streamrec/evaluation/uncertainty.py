"""How sure a replay's figures are: bootstrap over users, paired tests.

Interactions of one user are not independent, so resampling draws whole
users with replacement (a cluster bootstrap). One resample weights each
user by how often it was drawn; a strategy's mean metric is then
``sum_u w_u S_u / sum_u w_u n_u`` with ``S_u`` the user's metric total and
``n_u`` their scored interactions. Ratios and differences between two
strategies use the same resamples (paired), as both are scored on the same
interactions.

>>> users = ["a", "a", "b", "c"]
>>> ours, theirs = np.array([1.0, 0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0])
>>> sample = UserSample.of(users, {"ours": ours, "theirs": theirs})
>>> sample.n_users
3
>>> low, high = sample.mean_ci("ours", resamples=200, seed=0)
>>> 0.0 <= low <= 0.75 <= high <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class UserSample:
    """Per-user totals of one metric for several strategies, ready to resample."""

    users: list[str]
    counts: np.ndarray  # scored interactions per user
    totals: dict[str, np.ndarray]  # strategy -> metric total per user
    # the same (resamples, seed) draws the same users: drawn once, shared by every interval
    _drawn: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, users: Sequence[str], values: Mapping[str, np.ndarray]) -> UserSample:
        """Group per-interaction metric ``values`` (aligned with ``users``) by user."""
        ids, inverse = np.unique(np.asarray(users, dtype=object).astype(str), return_inverse=True)
        counts = np.bincount(inverse, minlength=len(ids)).astype(np.float64)
        totals = {
            name: np.bincount(inverse, weights=np.asarray(v, dtype=np.float64), minlength=len(ids))
            for name, v in values.items()
        }
        return cls(ids.tolist(), counts, totals)

    @property
    def n_users(self) -> int:
        return len(self.users)

    def weights(self, resamples: int, seed: int) -> np.ndarray:
        """How often each user is drawn in each resample (resamples x users)."""
        drawn = self._drawn.get((resamples, seed))
        if drawn is None:
            rng = np.random.default_rng(seed)
            n = self.n_users
            drawn = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
            self._drawn[(resamples, seed)] = drawn
        return drawn

    def mean(self, name: str) -> float:
        return float(self.totals[name].sum() / self.counts.sum())

    def mean_ci(
        self, name: str, resamples: int = 1000, seed: int = 0, level: float = 0.95
    ) -> tuple[float, float]:
        """Percentile bootstrap interval of the strategy's mean metric."""
        w = self.weights(resamples, seed)
        return _percentiles((w @ self.totals[name]) / (w @ self.counts), level)

    def ratio_ci(
        self, ours: str, theirs: str, resamples: int = 1000, seed: int = 0, level: float = 0.95
    ) -> tuple[float, float]:
        """Percentile bootstrap interval of mean(ours) / mean(theirs), paired."""
        w = self.weights(resamples, seed)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = (w @ self.totals[ours]) / (w @ self.totals[theirs])
        return _percentiles(ratios[np.isfinite(ratios)], level)

    def paired_test(
        self, ours: str, theirs: str, resamples: int = 1000, seed: int = 0
    ) -> dict[str, float]:
        """Paired bootstrap (two-sided) and Wilcoxon signed-rank test over users of the
        difference mean(ours) - mean(theirs)."""
        from scipy.stats import wilcoxon

        w = self.weights(resamples, seed)
        diff_totals = self.totals[ours] - self.totals[theirs]
        diffs = (w @ diff_totals) / (w @ self.counts)
        at_most_zero = int(np.sum(diffs <= 0))
        at_least_zero = int(np.sum(diffs >= 0))
        bootstrap_p = min(1.0, 2 * (min(at_most_zero, at_least_zero) + 1) / (resamples + 1))
        per_user = diff_totals / self.counts
        nonzero = per_user[per_user != 0]
        wilcoxon_p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 10 else 1.0
        return {
            "mean_difference": float(diff_totals.sum() / self.counts.sum()),
            "paired_bootstrap_p": bootstrap_p,
            "wilcoxon_p": wilcoxon_p,
            "users": float(self.n_users),
            "users_differing": float(len(nonzero)),
        }


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    if len(values) == 0:
        return (float("nan"), float("nan"))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
