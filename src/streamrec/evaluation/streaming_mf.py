"""Incremental matrix factorisation for positive-only feedback: ISGD and RAISGD.

The two standard streaming recommenders of the prequential literature, both
evaluated there with the same serve-then-observe protocol as StreamRec:

- **ISGD** (Vinagre, Jorge, Gama 2014, "Fast incremental matrix factorization
  for recommendation with positive-only feedback"): for each observed pair
  ``(u, i)`` the target is 1, ``err = 1 - p_u . q_i``,
  ``p_u += eta (err q_i - lambda p_u)``, ``q_i += eta (err p_u - lambda q_i)``
  (both from the values before the step); new vectors are drawn from
  N(0, 0.1). Items are ranked by ``p_u . q_i``.
- **RAISGD** (Vinagre, Jorge, Gama 2015, "Collaborative filtering with
  recency-based negative feedback"): a queue holds the items in the order they
  were last seen. Before each positive update the ``l`` least recently seen
  items (other than the user's own) are taken from the head of the queue,
  each gets one update with target 0, which pushes the user's vector (and the
  stale item's) away, and goes to the back of the queue.

A user met for the first time is scored with zeros (every item tied), as the
model has no vector for them before their first observed interaction. A step
size too large for the data makes the vectors diverge; such a configuration
then scores non-finite values, which rank last, so tuning never picks it.

>>> from streamrec.evaluation.datasets import Interaction
>>> model = ISGDModel(factors=4, learning_rate=0.1, seed=1)
>>> for n, item in enumerate(["a", "b", "a", "b"]):
...     model.observe(Interaction("u", item, n, None, "", str(n)), None)
>>> scores = model.scores_for("u")
>>> scores.shape, bool(scores[0] > 0.0)
((2,), True)
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import numpy as np

from streamrec.evaluation.baselines import ItemIndex, ScoreFn
from streamrec.evaluation.datasets import Interaction


class ISGDModel:
    """Incremental SGD matrix factorisation on positive-only feedback."""

    family = "isgd"

    def __init__(
        self,
        factors: int = 10,
        learning_rate: float = 0.05,
        regularisation: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.factors = factors
        self.eta = learning_rate
        self.lam = regularisation
        self.rng = np.random.default_rng(seed)
        self.items = ItemIndex()
        self.q = np.zeros((1024, factors))
        self.users: dict[str, np.ndarray] = {}
        self.seen: dict[str, set[int]] = defaultdict(set)

    @property
    def name(self) -> str:
        return f"{self.family}-f{self.factors}-eta{self.eta:g}-lambda{self.lam:g}"

    def _new_vector(self) -> np.ndarray:
        return self.rng.normal(0.0, 0.1, self.factors)

    def _item_row(self, item_id: str) -> int:
        known = len(self.items)
        row = self.items.row(item_id)
        if row >= len(self.q):
            self.q = np.vstack([self.q, np.zeros_like(self.q)])
        if row == known:  # first time: a fresh vector
            self.q[row] = self._new_vector()
        return row

    def _user(self, user_id: str) -> np.ndarray:
        vector = self.users.get(user_id)
        if vector is None:
            vector = self.users[user_id] = self._new_vector()
        return vector

    def _step(self, p: np.ndarray, row: int, target: float) -> None:
        """One SGD step towards ``target`` for ``p`` (in place) and item ``row``."""
        q = self.q[row]  # a view: both updates below read it before it moves
        with np.errstate(over="ignore", invalid="ignore"):  # diverging: see the docstring
            err = target - float(p @ q)
            step = self.eta * (err * p - self.lam * q)
            p += self.eta * (err * q - self.lam * p)
            q += step

    def scores_for(self, user_id: str) -> np.ndarray:
        size = len(self.items)
        p = self.users.get(user_id)
        if p is None:
            return np.zeros(size)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.q[:size] @ p

    def strategies(self) -> dict[str, ScoreFn]:
        return {self.name: self.scores_for}

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        user = interaction.user_id
        p = self._user(user)
        row = self._item_row(interaction.item_id)
        self._before_positive(user, p, row)
        self._step(p, row, 1.0)
        self.seen[user].add(row)

    def _before_positive(self, user: str, p: np.ndarray, row: int) -> None:
        """Hook for the recency-aware variant."""


class RAISGDModel(ISGDModel):
    """ISGD with recency-based negative feedback from the least recently seen items."""

    family = "raisgd"

    def __init__(
        self,
        factors: int = 10,
        learning_rate: float = 0.05,
        regularisation: float = 0.01,
        negatives: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__(factors, learning_rate, regularisation, seed)
        self.negatives = negatives
        self.queue: OrderedDict[int, None] = OrderedDict()  # head: least recently seen

    @property
    def name(self) -> str:
        return super().name + f"-l{self.negatives}"

    def _before_positive(self, user: str, p: np.ndarray, row: int) -> None:
        own = self.seen[user]
        taken: list[int] = []
        for candidate in self.queue:
            if len(taken) == self.negatives:
                break
            if candidate != row and candidate not in own:
                taken.append(candidate)
        for stale in taken:
            self._step(p, stale, 0.0)
            self.queue.move_to_end(stale)
        self.queue.pop(row, None)
        self.queue[row] = None
