"""The personal ranker: many signals, blended by weights learned online from what users pick.

:class:`OnlineRanker` scores every item as a linear function of the
:mod:`streamrec.model.features` of a user. Its weights learn online with a
pairwise (BPR) logistic loss: each time a user engages with an item for the
first time, that item should outscore a few sampled items the user did not
pick. The step happens before the engagement updates any statistic, so the
ranker only ever learns from what it could have served.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streamrec.model.features import FEATURES

EXACT_DRAW = 20_000  # catalogues up to this size draw negatives over an explicit list


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
        # rankers that take every step of this one on the same features (a learning-rate
        # sweep on one engine: their samplers, seeded alike, would draw the same rows)
        self.followers: list[OnlineRanker] = []

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.weights

    def learn(self, matrix: np.ndarray, target: int, exclude: np.ndarray) -> None:
        """One pairwise step: ``target`` should outscore sampled items outside ``exclude``."""
        self.learn_rows(lambda rows: matrix[rows], matrix.shape[0], target, exclude)

    def learn_rows(
        self,
        featurise: Callable[[np.ndarray], np.ndarray],
        size: int,
        target: int,
        exclude: np.ndarray,
    ) -> None:
        """The same step, featurising only the target and its sampled negatives
        (``featurise(rows)`` -> features of those rows), so it costs O(negatives)."""
        if size < 2:
            return
        picked = self.sample(size, target, exclude)
        if picked.size == 0:
            return
        block = featurise(np.concatenate([[target], picked]))
        for ranker in (self, *self.followers):
            ranker.learn_block(block)

    def learn_block(self, block: np.ndarray) -> None:
        """One pairwise step on the features of the target (first row) and its negatives."""
        diff = block[0][None, :] - block[1:]
        pull = 1.0 / (1.0 + np.exp(np.clip(diff @ self.weights, -30, 30)))
        gradient = (pull[:, None] * diff).mean(axis=0) - self.l2 * self.weights
        self.weights += self.learning_rate * gradient
        self.steps += 1

    def sample(self, size: int, target: int, exclude: np.ndarray) -> np.ndarray:
        """Up to ``negatives`` distinct rows of ``range(size)`` outside ``exclude`` and
        ``target``: above ``EXACT_DRAW`` rows rejection sampling (O(negatives)), below it
        the same draw as before two-stage serving (small catalogues learn as they did)."""
        rows = np.asarray(exclude)
        banned = set(rows[rows < size].tolist())  # Python ints, built at C speed
        banned.add(int(target))
        free = size - len(banned)
        want = min(self.negatives, free)
        if want <= 0:
            return np.zeros(0, dtype=np.int64)
        if size <= EXACT_DRAW or free < 4 * want:  # the draw of full scoring, O(size)
            free_rows = np.ones(size, dtype=bool)  # setdiff1d(arange(size), banned), no sort
            free_rows[np.fromiter(banned, dtype=np.int64)] = False
            allowed = np.flatnonzero(free_rows)
            return self._rng.choice(allowed, want, replace=False)
        picked: list[int] = []
        while len(picked) < want:
            for row in self._rng.integers(0, size, 2 * want).tolist():
                if row not in banned:
                    banned.add(row)
                    picked.append(row)
                    if len(picked) == want:
                        break
        return np.array(picked, dtype=np.int64)

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
