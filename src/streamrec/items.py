"""Item state: text vectors, popularity (all-time and trending) and per-cluster engagement.

All counters forget on the engine's event clock (one tick per event), so a
half-life of 1000 means the engagement of 1000 events ago weighs half.
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import LifecycleEvent
from streamrec.decay import DecayedCounts
from streamrec.profiles import VectorTable


def engagement_weight(rating: float | None) -> float:
    """Clicks weigh 1; a review weighs more the better its rating (1 star .7, 5 stars 1.5)."""
    return 1.0 if rating is None else 0.5 + rating / 5.0


class ItemStats:
    def __init__(
        self,
        dim: int,
        vector_half_life: float = 50.0,
        trending_half_life: float = 1000.0,
        engagement_half_life: float = 5000.0,
    ) -> None:
        self.vectors = VectorTable(dim, vector_half_life)
        self.popularity = np.zeros(1024, dtype=np.float64)
        self.trending = DecayedCounts(trending_half_life, capacity=1024)
        self.engagement = DecayedCounts(engagement_half_life, capacity=1024, rows=8)
        self.cluster_rows: dict[int, int] = {}
        self.free_rows: list[int] = []

    @property
    def n_items(self) -> int:
        return self.vectors.n_rows

    @property
    def ids(self) -> list[str | None]:
        return self.vectors.ids

    def row(self, item_id: str) -> int:
        row = self.vectors.row(item_id)
        if row >= self.popularity.shape[0]:
            grown = np.zeros(self.popularity.shape[0] * 2)
            grown[: self.popularity.shape[0]] = self.popularity
            self.popularity = grown
        self.trending.ensure(row + 1)
        self.engagement.ensure(row + 1)
        return row

    def cluster_row(self, cluster_id: int) -> int:
        found = self.cluster_rows.get(cluster_id)
        if found is not None:
            return found
        row = self.free_rows.pop() if self.free_rows else len(self.cluster_rows)
        self.engagement.ensure(self.engagement.size, rows=row + 1)
        self.engagement.stored[row] = 0.0
        self.cluster_rows[cluster_id] = row
        return row

    def add_text(self, item_row: int, vector: np.ndarray) -> None:
        item_id = self.vectors.ids[item_row]
        assert item_id is not None
        self.vectors.update(item_id, vector)

    def engage(self, item_row: int, weight: float, cluster_id: int, clock: float) -> None:
        """Count one engagement of a user of ``cluster_id`` (-1: unassigned) with an item."""
        self.popularity[item_row] += weight
        self.trending.add(np.array([item_row]), np.array([weight]), clock)
        if cluster_id >= 0:
            row = self.cluster_row(cluster_id)
            self.engagement.add((np.array([row]), np.array([item_row])), np.array([weight]), clock)

    def cluster_engagement(self, cluster_id: int, clock: float) -> np.ndarray:
        row = self.cluster_rows.get(cluster_id)
        if row is None:
            return np.zeros(self.n_items)
        stored = self.engagement.stored[row, : self.n_items]
        return stored * (2.0 ** (-(clock - self.engagement.t0) / self.engagement.half_life))

    def trending_scores(self, clock: float) -> np.ndarray:
        return self.trending.values(clock)[: self.n_items]

    def apply_lifecycle(self, event: LifecycleEvent) -> None:
        """Keep engagement rows in step with the clusters they belong to."""
        if event.kind == "merged" and event.cluster_id in self.cluster_rows:
            absorbed = self.cluster_rows.pop(event.cluster_id)
            kept = self.cluster_row(event.related[0])
            self.engagement.stored[kept] += self.engagement.stored[absorbed]
            self.free_rows.append(absorbed)
        elif event.kind == "split" and event.related and event.related[0] in self.cluster_rows:
            parent = self.cluster_rows[event.related[0]]
            child = self.cluster_row(event.cluster_id)
            self.engagement.stored[child] = self.engagement.stored[parent] * 0.5
            self.engagement.stored[parent] *= 0.5
        elif event.kind == "died" and event.cluster_id in self.cluster_rows:
            self.free_rows.append(self.cluster_rows.pop(event.cluster_id))

    def state(self) -> dict:
        return {
            "vector_half_life": self.vectors.half_life,
            "vectors": self.vectors.state(),
            "popularity": self.popularity[: self.n_items].copy(),
            "trending": self.trending.state(),
            "engagement": self.engagement.state(),
            "cluster_rows": {str(k): v for k, v in self.cluster_rows.items()},
            "free_rows": list(self.free_rows),
        }

    def load(self, state: dict) -> None:
        self.vectors.load(state["vectors"])
        n = self.n_items
        self.popularity = np.zeros(max(1024, self.vectors.sums.shape[0]))
        self.popularity[:n] = state["popularity"]
        self.trending = DecayedCounts.from_state(state["trending"])
        self.engagement = DecayedCounts.from_state(state["engagement"])
        self.cluster_rows = {int(k): int(v) for k, v in state["cluster_rows"].items()}
        self.free_rows = [int(r) for r in state["free_rows"]]
