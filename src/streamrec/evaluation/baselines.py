"""Baselines for backfill evaluation, each learning online from the same replayed stream.

Every model observes interactions one by one (``observe``) and scores every
item seen so far for a user (``strategies()``: name -> scoring function). Item
rows follow the order in which items first appeared, shared with
:class:`streamrec.evaluation.replay.Catalog`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.core.decay import DecayedCounts, decay
from streamrec.evaluation.datasets import Interaction

ScoreFn = Callable[[str], np.ndarray]


class ItemIndex:
    """Item id -> row in first-appearance order (every model keeps the same one)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.ids: list[str] = []  # row -> item id

    def row(self, item_id: str) -> int:
        row = self.rows.setdefault(item_id, len(self.rows))
        if row == len(self.ids):
            self.ids.append(item_id)
        return row

    def __len__(self) -> int:
        return len(self.rows)


class RandomModel:
    def __init__(self, seed: int = 0) -> None:
        self.items = ItemIndex()
        self.rng = np.random.default_rng(seed)

    def strategies(self) -> dict[str, ScoreFn]:
        return {"random": lambda user: self.rng.random(len(self.items))}

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self.items.row(interaction.item_id)


class PopularityModel:
    """All-time popularity and trending (decayed popularity) at several half-lives."""

    def __init__(self, half_lives: tuple[float, ...] = (250, 500, 1000, 2000, 4000)) -> None:
        self.items = ItemIndex()
        self.counts = np.zeros(1024)
        self.trending = {h: DecayedCounts(h, capacity=1024) for h in half_lives}
        self.clock = 0

    def strategies(self) -> dict[str, ScoreFn]:
        out: dict[str, ScoreFn] = {"popularity": lambda user: self.counts[: len(self.items)]}
        for half_life, counts in self.trending.items():
            out[f"trending-{int(half_life)}"] = lambda user, c=counts: c.values(self.clock)[
                : len(self.items)
            ]
        return out

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        row = self.items.row(interaction.item_id)
        self.clock += 1
        if row >= len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(len(self.counts))])
        self.counts[row] += 1
        for counts in self.trending.values():
            counts.ensure(row + 1)
            counts.add_one(row, 1.0, self.clock)


@dataclass(frozen=True)
class KNNVariant:
    """How item-kNN turns co-occurrence counts into scores.

    sim(i, j) = C[i, j] / (n_i^alpha n_j^(1 - alpha) + shrinkage) for a candidate
    ``i`` and one of the user's items ``j`` (alpha 0.5 without shrinkage is
    cosine); ``recency`` halves the weight of a user's item every that many
    newer interactions of the user (0: all equal).
    """

    alpha: float = 0.5
    shrinkage: float = 0.0
    recency: float = 0.0

    @property
    def name(self) -> str:
        return f"item-knn-a{self.alpha:g}-s{self.shrinkage:g}-r{self.recency:g}"


class ItemKNNModel:
    """Item-item co-occurrence over the users' last ``window`` items, scored by one or
    more :class:`KNNVariant` from the same counts (a tuning grid costs one model)."""

    def __init__(
        self,
        variants: Sequence[KNNVariant] = (KNNVariant(),),
        capacity: int = 1024,
        window: int = 50,
    ) -> None:
        self.items = ItemIndex()
        self.co = np.zeros((capacity, capacity), dtype=np.float32)
        self.n = np.zeros(capacity)
        self.history: dict[str, list[int]] = defaultdict(list)
        self.variants = list(variants)
        self.window = window  # the user's last items that count, as in StreamRec's ranker
        self._events = 0  # observed events: cached similarities are valid until the next
        self._cache_key: tuple[str, int] | None = None
        self._cache: dict = {}

    def _grow(self, size: int) -> None:
        if size <= len(self.n):
            return
        capacity = len(self.n) * 2
        co = np.zeros((capacity, capacity), dtype=np.float32)
        co[: len(self.n), : len(self.n)] = self.co
        self.co = co
        self.n = np.concatenate([self.n, np.zeros(capacity - len(self.n))])

    def scores_for(self, user_id: str, variant: KNNVariant = KNNVariant()) -> np.ndarray:
        size = len(self.items)
        history = self.history.get(user_id, [])[-self.window :]
        if not history:
            return np.zeros(size)
        weights = np.ones(len(history))
        if variant.recency > 0:
            weights = decay(len(history) - 1 - np.arange(len(history)), variant.recency)
        return weights @ self._similarities(user_id, history, size, variant)

    def _similarities(
        self, user_id: str, history: list[int], size: int, variant: KNNVariant
    ) -> np.ndarray:
        """sim(i, j) for the user's items j (rows) and every item i, cached until the next
        event: a tuning grid's variants share the gathered counts, each alpha its norm and
        each (alpha, shrinkage) its matrix (the same operations, so the same bits)."""
        key = (user_id, self._events)
        if self._cache_key != key:
            self._cache_key, self._cache = key, {}
            rows = np.array(history)
            self._cache["block"] = self.co[rows, :size]
            self._cache["counts"] = np.maximum(self.n[:size], 1.0)
            self._cache["rows"] = rows
        cache = self._cache
        norm_key, sim_key = ("norm", variant.alpha), ("sim", variant.alpha, variant.shrinkage)
        if sim_key not in cache:
            if norm_key not in cache:
                counts, rows = cache["counts"], cache["rows"]
                cache[norm_key] = (counts[None, :] ** variant.alpha) * (
                    counts[rows][:, None] ** (1 - variant.alpha)
                )
            cache[sim_key] = cache["block"] / (cache[norm_key] + variant.shrinkage)
        return cache[sim_key]

    def strategies(self) -> dict[str, ScoreFn]:
        return {v.name: (lambda user, v=v: self.scores_for(user, v)) for v in self.variants}

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self._events += 1
        row = self.items.row(interaction.item_id)
        self._grow(row + 1)
        history = self.history[interaction.user_id]
        if row in history:
            return
        if history:
            others = np.array(history[-self.window :])
            self.co[row, others] += 1
            self.co[others, row] += 1
        self.n[row] += 1
        history.append(row)


class BiasedMFModel:
    """River's ``reco.BiasedMF``; with ``negatives`` it also learns y=0 on a sampled
    unseen item per event (trained on stars alone it only learns to predict stars)."""

    def __init__(
        self,
        negatives: bool = True,
        n_factors: int = 16,
        seed: int = 0,
        learning_rate: float = 0.05,
    ) -> None:
        from river import optim, reco

        self.n_factors, self.learning_rate = n_factors, learning_rate
        self.items = ItemIndex()
        # River keeps items in dicts; these row-ordered copies are refreshed after each
        # update of an item, so scoring is one matrix product instead of a dict walk
        self.biases = np.zeros(1024)
        self.latents = np.zeros((1024, n_factors))
        self.has_latent = np.zeros(1024, dtype=bool)
        self.negatives = negatives
        self.rng = np.random.default_rng(seed)
        self.seen: dict[str, set[int]] = defaultdict(set)
        self.model = reco.BiasedMF(
            n_factors=n_factors,
            seed=seed,
            l2_bias=0.001,
            l2_latent=0.001,
            bias_optimizer=optim.SGD(learning_rate),
            latent_optimizer=optim.SGD(learning_rate),
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
        )

    def scores_for(self, user_id: str) -> np.ndarray:
        size = len(self.items)
        scores = self.biases[:size].copy()
        if user_id in self.model.u_latents:
            known = np.flatnonzero(self.has_latent[:size])
            if len(known):
                scores[known] += self.latents[known] @ self.model.u_latents[user_id]
        return scores

    def _learn(self, user: str, row: int, y: float) -> None:
        item_id = self.items.ids[row]
        self.model.learn_one(user, item_id, y)
        if row >= len(self.biases):
            grow = len(self.biases)
            self.biases = np.concatenate([self.biases, np.zeros(grow)])
            self.latents = np.vstack([self.latents, np.zeros((grow, self.latents.shape[1]))])
            self.has_latent = np.concatenate([self.has_latent, np.zeros(grow, dtype=bool)])
        self.biases[row] = self.model.i_biases.get(item_id, 0.0)
        if item_id in self.model.i_latents:
            self.latents[row] = self.model.i_latents[item_id]
            self.has_latent[row] = True

    @property
    def name(self) -> str:
        kind = "biasedmf-negatives" if self.negatives else "biasedmf-stars"
        return f"{kind}-f{self.n_factors}-lr{self.learning_rate:g}"

    def strategies(self) -> dict[str, ScoreFn]:
        return {self.name: self.scores_for}

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        row = self.items.row(interaction.item_id)
        user = interaction.user_id
        self.seen[user].add(row)
        if self.negatives:
            self._learn(user, row, 1.0)
            if len(self.items) > len(self.seen[user]):
                while True:
                    other = int(self.rng.integers(len(self.items)))
                    if other not in self.seen[user]:
                        break
                self._learn(user, other, 0.0)
        else:
            self._learn(user, row, interaction.rating or 0.0)


class Renamed:
    """A model whose strategies are reported under other names (a tuned choice under
    its family's name)."""

    def __init__(self, model, names: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
        self.model = model
        self.names = names

    def strategies(self) -> dict[str, ScoreFn]:
        return {self.names.get(n, n): fn for n, fn in self.model.strategies().items()}

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        self.model.observe(interaction, vector)
