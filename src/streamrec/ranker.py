"""The personal ranker: many signals, blended by weights learned online from what users pick.

:class:`ItemSignals` keeps, on a clock of user-item engagements, what the
evaluation showed to predict the next pick on review data: popularity over
several horizons, how recently and how long ago an item was first seen,
item-item co-occurrence (items engaged with by the same users) and
transitions (the item a user picked right after another).

:class:`OnlineRanker` scores every item as a linear function of those signals,
of the user's text (cosine of item vectors to the user's profile and to their
last review) and of their cluster's engagement. Its weights learn online with
a pairwise (BPR) logistic loss: each time a user engages with an item for the
first time, that item should outscore a few sampled items the user did not
pick. The step happens before the engagement updates any statistic, so the
ranker only ever learns from what it could have served.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from streamrec.decay import DecayedCounts
from streamrec.strategies import unit_max

if TYPE_CHECKING:
    from streamrec.engine import Engine

TREND_HALF_LIVES = (100.0, 300.0, 1000.0, 3000.0)  # in engagements
HISTORY = 50  # co-occurrence looks at a user's last 50 items (bounded work per event)
FEATURES = (
    "trend100", "trend300", "trend1000", "trend3000", "popularity",
    "knn", "knn_recent", "transition", "content", "content_last",
    "fresh100", "fresh1000", "new1000", "knn_log", "transition_log", "cluster",
)


class SparseRows:
    """Rows of a sparse item x item matrix that grow one cell at a time.

    Reads turn a row into numpy arrays once and keep them until the row changes,
    so the rows of a user's history are summed without walking dictionaries.
    """

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, float]] = defaultdict(dict)
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, row: int, col: int, value: float = 1.0) -> None:
        cells = self.rows[row]
        cells[col] = cells.get(col, 0.0) + value
        self._arrays.pop(row, None)

    def arrays(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        found = self._arrays.get(row)
        if found is None:
            cells = self.rows.get(row, {})
            found = (np.fromiter(cells.keys(), dtype=np.int64, count=len(cells)),
                     np.fromiter(cells.values(), dtype=np.float64, count=len(cells)))
            self._arrays[row] = found
        return found

    def weighted_sum(self, rows: list[int], weights: np.ndarray, size: int) -> np.ndarray:
        """sum_k weights[k] * row(rows[k]) as a dense vector of ``size``."""
        parts = [self.arrays(r) for r in rows]
        if not parts:
            return np.zeros(size)
        cols = np.concatenate([c for c, _ in parts])
        vals = np.concatenate([v * w for (_, v), w in zip(parts, weights.tolist(),
                                                          strict=True)])
        keep = cols < size
        return np.bincount(cols[keep], weights=vals[keep], minlength=size)[:size]

    def state(self) -> dict[str, np.ndarray]:
        cells = [(i, j, v) for i, row in self.rows.items() for j, v in row.items()]
        array = np.array(cells, dtype=np.float64).reshape(-1, 3)
        return {"rows": array[:, 0].astype(np.int64), "cols": array[:, 1].astype(np.int64),
                "values": array[:, 2]}

    @classmethod
    def from_state(cls, data: dict) -> SparseRows:
        table = cls()
        for i, j, v in zip(np.asarray(data["rows"]).tolist(), np.asarray(data["cols"]).tolist(),
                           np.asarray(data["values"]).tolist(), strict=True):
            table.rows[i][j] = v
        return table


class ItemSignals:
    """Engagement statistics per item, updated on each first user-item engagement."""

    def __init__(self) -> None:
        self.clock = 0
        self.count = np.zeros(1024)
        self.trends = [DecayedCounts(h, capacity=1024) for h in TREND_HALF_LIVES]
        self.first_seen = np.full(1024, -1.0)
        self.last_seen = np.zeros(1024)
        self.co = SparseRows()
        self.transitions = SparseRows()

    def _ensure(self, size: int) -> None:
        if size <= len(self.count):
            return
        grow = max(size, 2 * len(self.count)) - len(self.count)
        self.count = np.concatenate([self.count, np.zeros(grow)])
        self.first_seen = np.concatenate([self.first_seen, np.full(grow, -1.0)])
        self.last_seen = np.concatenate([self.last_seen, np.zeros(grow)])
        for trend in self.trends:
            trend.ensure(len(self.count))

    def observe(self, item: int, history: np.ndarray) -> None:
        """A first engagement of a user with ``item``; ``history``: the user's earlier items."""
        self.clock += 1
        self._ensure(item + 1)
        self.count[item] += 1
        for trend in self.trends:
            trend.add(np.array([item]), np.array([1.0]), self.clock)
        if self.first_seen[item] < 0:
            self.first_seen[item] = self.clock
        self.last_seen[item] = self.clock
        for other in history[-HISTORY:].tolist():
            self.co.add(item, other)
            self.co.add(other, item)
        if len(history):
            self.transitions.add(int(history[-1]), item)

    def state(self) -> dict:
        return {"clock": self.clock, "count": self.count.copy(),
                "trends": [t.state() for t in self.trends],
                "first_seen": self.first_seen.copy(), "last_seen": self.last_seen.copy(),
                "co": self.co.state(), "transitions": self.transitions.state()}

    def load(self, state: dict) -> None:
        self.clock = int(state["clock"])
        self.count = np.asarray(state["count"], dtype=np.float64).copy()
        self.trends = [DecayedCounts.from_state(t) for t in state["trends"]]
        self.first_seen = np.asarray(state["first_seen"], dtype=np.float64).copy()
        self.last_seen = np.asarray(state["last_seen"], dtype=np.float64).copy()
        self.co = SparseRows.from_state(state["co"])
        self.transitions = SparseRows.from_state(state["transitions"])
        self._ensure(len(self.count))


def features(engine: Engine, user_id: str | None) -> np.ndarray:
    """The (items x FEATURES) matrix of one user, over every item the engine knows."""
    size = engine.items.n_items
    signals = engine.signals
    signals._ensure(size)
    out = np.zeros((size, len(FEATURES)))
    for n, trend in enumerate(signals.trends):
        out[:, n] = np.log1p(trend.values(signals.clock)[:size])
    out[:, 4] = np.log1p(signals.count[:size])
    since = signals.clock - signals.last_seen[:size]
    age = np.where(signals.first_seen[:size] >= 0, signals.clock - signals.first_seen[:size],
                   1e9)
    out[:, 10] = np.exp(-since / 100.0)
    out[:, 11] = np.exp(-since / 1000.0)
    out[:, 12] = np.exp(-age / 1000.0)
    row = engine.profiles.index.get(user_id) if user_id is not None else None
    if row is None:
        return out
    history = engine.profiles.seen[row].tolist()[-HISTORY:]
    if history:
        norm = np.sqrt(np.maximum(signals.count[:size], 1.0))
        inverse = 1.0 / np.sqrt(np.maximum(signals.count[history], 1.0))
        recency = 2.0 ** (-(len(history) - 1 - np.arange(len(history))) / 2.0)
        knn = signals.co.weighted_sum(history, inverse, size) / norm
        knn_recent = signals.co.weighted_sum(history, inverse * recency, size) / norm
        transition = signals.transitions.weighted_sum(history[-1:], np.ones(1), size)
        out[:, 5] = unit_max(knn)
        out[:, 6] = unit_max(knn_recent)
        out[:, 7] = unit_max(transition)
        out[:, 13] = np.log1p(knn)
        out[:, 14] = np.log1p(transition)
    if engine.profiles.counts[row] > 0:
        items = engine.item_matrix()
        out[:, 8] = items @ engine.profiles.vectors(np.array([row]))[0]
        last = engine.profiles.last[row].astype(np.float32)
        out[:, 9] = items @ last
    cluster = int(engine.profiles.cluster[row])
    if cluster >= 0:
        out[:, 15] = unit_max(engine.items.cluster_engagement(cluster, engine.clock))
    return out


class OnlineRanker:
    """Linear scores over :data:`FEATURES`, weights learned online with a BPR loss."""

    def __init__(self, learning_rate: float = 0.05, negatives: int = 10, l2: float = 1e-4,
                 seed: int = 0) -> None:
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
        picked = self._rng.choice(candidates, min(self.negatives, candidates.size),
                                  replace=False)
        diff = matrix[target][None, :] - matrix[picked]
        pull = 1.0 / (1.0 + np.exp(np.clip(diff @ self.weights, -30, 30)))
        gradient = (pull[:, None] * diff).mean(axis=0) - self.l2 * self.weights
        self.weights += self.learning_rate * gradient
        self.steps += 1

    def state(self) -> dict:
        return {"weights": self.weights.copy(), "steps": self.steps,
                "rng": self._rng.bit_generator.state}

    def load(self, state: dict) -> None:
        self.weights = np.asarray(state["weights"], dtype=np.float64).copy()
        self.steps = int(state["steps"])
        self._rng.bit_generator.state = state["rng"]
