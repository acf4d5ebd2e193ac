"""The personal ranker: many signals, blended by weights learned online from what users pick.

:class:`OnlineRanker` scores every item as a linear function of the
:mod:`streamrec.model.features` of a user. Its weights learn online with a
pairwise (BPR) logistic loss: each time a user engages with an item for the
first time, that item should outscore a few sampled items the user did not
pick. The step happens before the engagement updates any statistic, so the
ranker only ever learns from what it could have served.
"""

from __future__ import annotations

import numpy as np

from streamrec.model.features import FEATURES


class OnlineRanker:
    """Linear scores over :data:`FEATURES`, weights learned online with a BPR loss."""

    def __init__(
        self, learning_rate: float = 0.05, negatives: int = 10, l2: float = 1e-4, seed: int = 0
    ) -> None:
        self.learning_rate = learning_rate
        self.negatives = negatives
        self.l2 = l2
        self.weights = np.zeros(len(FEATURES))
        self.steps = 0
        self._rng = np.random.default_rng(seed)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.weights

    def learn(self, matrix: np.ndarray, target: int, exclude: np.ndarray) -> None:
        """One pairwise step: ``target`` should outscore sampled items outside ``exclude``."""
        size = matrix.shape[0]
        if size < 2:
            return
        allowed = np.ones(size, dtype=bool)
        allowed[exclude[exclude < size]] = False
        allowed[target] = False
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0:
            return
        picked = self._rng.choice(candidates, min(self.negatives, candidates.size), replace=False)
        diff = matrix[target][None, :] - matrix[picked]
        pull = 1.0 / (1.0 + np.exp(np.clip(diff @ self.weights, -30, 30)))
        gradient = (pull[:, None] * diff).mean(axis=0) - self.l2 * self.weights
        self.weights += self.learning_rate * gradient
        self.steps += 1

    def state(self) -> dict:
        return {
            "weights": self.weights.copy(),
            "steps": self.steps,
            "rng": self._rng.bit_generator.state,
        }

    def load(self, state: dict) -> None:
        self.weights = np.asarray(state["weights"], dtype=np.float64).copy()
        self.steps = int(state["steps"])
        self._rng.bit_generator.state = state["rng"]

    @staticmethod
    def merge(base: dict, mine: dict, theirs: dict) -> dict:
        """Weight changes add up (``theirs + mine - base``); steps and the sampler's state
        stay this worker's."""
        return {
            "weights": np.asarray(theirs["weights"])
            + np.asarray(mine["weights"])
            - np.asarray(base["weights"]),
            "steps": mine["steps"],
            "rng": mine["rng"],
        }
