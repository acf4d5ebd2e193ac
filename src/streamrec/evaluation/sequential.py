"""Sequential baselines for the replay: SASRec retrained periodically, and incrementally.

Both learn from the replayed stream like every other model (``observe``) and
score every item seen so far for a user (``strategies()``), in first-appearance
order, from the user's last ``max_len`` items (:mod:`streamrec.evaluation.sasrec_net`):

- **sasrec-periodic**, the batch twin: every ``retrain_every`` interactions a
  fresh network is trained from scratch on all history (``epochs`` passes of
  Adam). Items first seen since the last retrain are unknown to it: they score
  :data:`UNKNOWN` (last), and are left out of the input sequence.
- **sasrec-incremental**: one network, never restarted; after each micro-batch
  of ``batch`` interactions it takes ``steps`` Adam steps on the recent windows
  of the users in that micro-batch. Its item table grows as items appear.

Determinism: every model draws from its own torch random state (initialisation,
dropout, shuffling), torch runs on one thread with deterministic algorithms, so
the same stream gives the same scores byte for byte.

>>> from streamrec.evaluation.datasets import Interaction
>>> model = SASRecPeriodic(retrain_every=4, epochs=2, dim=8, max_len=5)
>>> for n, item in enumerate(["a", "b", "a", "c"]):
...     model.observe(Interaction(f"u{n % 2}", item, n, None, "", str(n)), None)
>>> model.scores_for("u0").shape
(3,)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from streamrec.evaluation.baselines import ItemIndex, ScoreFn
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.sasrec_net import SASRecNet, loss_on, user_scores, windows

UNKNOWN = -1e9  # score of an item the network has no embedding for
BATCH_WINDOWS = 128  # windows per gradient step when retraining from scratch


def _deterministic() -> None:
    """One thread and deterministic kernels: byte-identical reports run to run."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


class _SASRecBase:
    family = "sasrec"

    def __init__(
        self,
        learning_rate: float,
        dim: int = 64,
        blocks: int = 2,
        max_len: int = 50,
        dropout: float = 0.2,
        seed: int = 0,
    ) -> None:
        if learning_rate <= 0 or dim <= 0 or blocks <= 0 or max_len <= 1:
            raise ValueError("learning_rate, dim and blocks must be positive, max_len above 1")
        _deterministic()
        self.lr, self.dim, self.blocks, self.max_len, self.dropout = (
            learning_rate,
            dim,
            blocks,
            max_len,
            dropout,
        )
        self.items = ItemIndex()
        self.history: dict[str, list[int]] = defaultdict(list)
        self.net: SASRecNet | None = None
        self.known = 0  # item rows the network can score
        self.cache: dict[str, np.ndarray] = {}
        self._rng = torch.Generator().manual_seed(seed).get_state()

    @contextmanager
    def own_rng(self) -> Iterator[None]:
        """Run with this model's random state, whatever else draws from torch's."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng)
            yield
            self._rng = torch.get_rng_state()

    def _new_net(self, capacity: int) -> SASRecNet:
        return SASRecNet(capacity, self.dim, self.blocks, self.max_len, self.dropout)

    def strategies(self) -> dict[str, ScoreFn]:
        return {self.name: self.scores_for}

    @property
    def name(self) -> str:
        raise NotImplementedError

    def scores_for(self, user_id: str) -> np.ndarray:
        out = np.full(len(self.items), UNKNOWN)
        if self.net is None:
            return out
        cached = self.cache.get(user_id)
        if cached is None:
            sequence = [r for r in self.history.get(user_id, ()) if r < self.known]
            self.net.eval()
            cached = user_scores(self.net, sequence, self.known).numpy().astype(np.float64)
            self.cache[user_id] = cached
        out[: len(cached)] = cached
        return out

    def _record(self, interaction: Interaction) -> None:
        row = self.items.row(interaction.item_id)
        self.history[interaction.user_id].append(row)
        self.cache.pop(interaction.user_id, None)


class SASRecPeriodic(_SASRecBase):
    """SASRec retrained from scratch on all history every ``retrain_every`` interactions."""

    family = "sasrec-periodic"

    def __init__(
        self,
        retrain_every: int = 1000,
        epochs: int = 20,
        learning_rate: float = 1e-3,
        **net: int | float,
    ) -> None:
        if retrain_every <= 0 or epochs <= 0:
            raise ValueError("retrain_every and epochs must be positive")
        super().__init__(learning_rate, **net)  # type: ignore[arg-type]
        self.retrain_every, self.epochs = retrain_every, epochs
        self.seen = 0

    @property
    def name(self) -> str:
        return f"{self.family}-n{self.retrain_every}-e{self.epochs}-lr{self.lr:g}"

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self._record(interaction)
        self.seen += 1
        if self.seen % self.retrain_every == 0:
            self.retrain()

    def retrain(self) -> None:
        """A fresh network, trained on every user's whole history."""
        data = [w for user in self.history for w in windows(self.history[user], self.max_len)]
        known = len(self.items)
        with self.own_rng():
            net = self._new_net(known)
            optimiser = torch.optim.Adam(net.parameters(), lr=self.lr)
            net.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(data)).tolist()
                for start in range(0, len(order), BATCH_WINDOWS):
                    batch = [data[i] for i in order[start : start + BATCH_WINDOWS]]
                    optimiser.zero_grad()
                    loss_on(net, batch, known).backward()
                    optimiser.step()
        self.net, self.known = net, known
        self.cache.clear()


class SASRecIncremental(_SASRecBase):
    """SASRec updated with ``steps`` Adam steps after each micro-batch of interactions."""

    family = "sasrec-incremental"

    def __init__(
        self,
        batch: int = 64,
        steps: int = 2,
        learning_rate: float = 1e-3,
        capacity: int = 1024,
        **net: int | float,
    ) -> None:
        if batch <= 0 or steps <= 0 or capacity <= 0:
            raise ValueError("batch, steps and capacity must be positive")
        super().__init__(learning_rate, **net)  # type: ignore[arg-type]
        self.batch, self.steps = batch, steps
        self.pending: dict[str, None] = {}  # users of the micro-batch, in arrival order
        self.seen = 0
        with self.own_rng():
            self.net = self._new_net(capacity)  # grows as items appear
        self.optimiser = torch.optim.Adam(self.net.parameters(), lr=self.lr)

    @property
    def name(self) -> str:
        return f"{self.family}-b{self.batch}-s{self.steps}-lr{self.lr:g}"

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self._record(interaction)
        self.pending[interaction.user_id] = None
        self.seen += 1
        if self.seen % self.batch == 0:
            self.update()

    def update(self) -> None:
        """``steps`` gradient steps on the latest window of each user in the micro-batch."""
        assert self.net is not None
        known = len(self.items)
        with self.own_rng():
            if known > self.net.capacity:
                self._grow(max(known, 2 * self.net.capacity))
            batch = [windows(self.history[u], self.max_len)[0] for u in self.pending]
            self.net.train()
            for _ in range(self.steps):
                self.optimiser.zero_grad()
                loss_on(self.net, batch, known).backward()
                self.optimiser.step()
        self.pending.clear()
        self.known = known
        self.cache.clear()

    def _grow(self, capacity: int) -> None:
        """A bigger item table; Adam's moments for the old rows carried over."""
        assert self.net is not None
        old, new = self.net.grow(capacity)
        state = self.optimiser.state.pop(old, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                padded = torch.zeros_like(new)
                padded[: len(old)] = state[key]
                state[key] = padded
        self.optimiser.param_groups[0]["params"] = list(self.net.parameters())
        if state:
            self.optimiser.state[new] = state
