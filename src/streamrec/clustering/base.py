"""The clusterer interface every StreamRec clusterer implements.

A clusterer learns from mini-batches of unit vectors and names its clusters
with stable integer ids: an id means the same group over time. Whenever a
group is born, split, merged or dies, the clusterer queues a
:class:`LifecycleEvent` that the worker publishes on the ``cluster-events``
topic.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from streamrec.core.arrays import unit_rows

LifecycleKind = Literal["born", "split", "merged", "died"]


@dataclass(frozen=True)
class LifecycleEvent:
    """A change in the set of clusters.

    ``related`` names the other ids involved: the parent of a split child, the
    cluster a merged one was absorbed into, the ids a reseeded cluster replaced.
    """

    kind: LifecycleKind
    cluster_id: int
    step: int
    related: tuple[int, ...] = ()
    reason: str = ""
    weight: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()


@dataclass
class Snapshot:
    """What a clusterer serves right now: ids, unit centroids and decayed weights."""

    ids: np.ndarray
    centroids: np.ndarray
    weights: np.ndarray
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, 0), np.float32), np.zeros(0))

    def state(self) -> dict:
        """Ids, centroids and weights for a checkpoint (``extra`` is not kept)."""
        return {"ids": self.ids, "centroids": self.centroids, "weights": self.weights}

    @classmethod
    def from_state(cls, state: dict) -> Snapshot:
        return cls(
            np.asarray(state["ids"], dtype=np.int64),
            np.asarray(state["centroids"], dtype=np.float32),
            np.asarray(state["weights"], dtype=np.float64),
        )


class Clusterer(ABC):
    """Small interface: learn from a batch, predict the nearest two, report changes."""

    name: str = "clusterer"
    dtype: type = np.float32  # what the points are converted to before learning

    def __init__(self) -> None:
        self._events: list[LifecycleEvent] = []

    def learn(self, points: np.ndarray, t: float | None = None) -> np.ndarray:
        """Update from a batch of unit rows; return the cluster id given to each row.

        ``t`` is the event time of the batch, used by time-based forgetting. An
        empty batch (or anything that is not a 2-D array of rows) changes nothing.
        """
        points = np.asarray(points, dtype=self.dtype)
        if points.ndim != 2 or len(points) == 0:
            return np.zeros(0, dtype=np.int64)
        return self._learn(points, t)

    @abstractmethod
    def _learn(self, points: np.ndarray, t: float | None) -> np.ndarray:
        """:meth:`learn` on a non-empty 2-D batch of ``dtype``."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The current clusters."""

    @abstractmethod
    def state(self) -> dict:
        """Everything needed to continue exactly where this clusterer stopped."""

    @abstractmethod
    def load(self, state: dict) -> None:
        """Restore a state written by :meth:`state`."""

    @staticmethod
    def merge(base: dict, mine: dict, theirs: dict) -> dict:
        """Fold two workers' copies of a state (see :mod:`streamrec.checkpointing.sync`).

        Clusterers whose state does not add up keep this worker's copy (the
        last writer wins); OnlineKMeans merges its sufficient statistics.
        """
        return mine

    def predict_top2(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids and cosine similarities of the two nearest clusters (-1 / 0 when missing)."""
        return top2(self.snapshot(), points)

    def predict(self, points: np.ndarray) -> np.ndarray:
        return self.predict_top2(points)[0][:, 0]

    def pop_events(self) -> list[LifecycleEvent]:
        """Lifecycle events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def _emit(self, event: LifecycleEvent) -> None:
        self._events.append(event)


def top2(snapshot: Snapshot, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest two clusters of each row by cosine similarity."""
    n = points.shape[0]
    ids = np.full((n, 2), -1, dtype=np.int64)
    sims = np.zeros((n, 2), dtype=np.float32)
    if n == 0 or len(snapshot) == 0:
        return ids, sims
    scores = points @ snapshot.centroids.T
    if len(snapshot) == 1:
        ids[:, 0] = snapshot.ids[0]
        sims[:, 0] = scores[:, 0]
        return ids, sims
    if n == 1:  # one user per review: the same picks without 2-d index arrays
        row = scores[0]
        pair = np.argpartition(-row, 1)[:2]
        pair = pair[np.argsort(-row[pair], kind="stable")]
        ids[0] = snapshot.ids[pair]
        sims[0] = row[pair]
        return ids, sims
    best2 = np.argpartition(-scores, 1, axis=1)[:, :2]
    best2_scores = np.take_along_axis(scores, best2, axis=1)
    order = np.argsort(-best2_scores, axis=1, kind="stable")
    best2 = np.take_along_axis(best2, order, axis=1)
    ids[:] = snapshot.ids[best2]
    sims[:] = np.take_along_axis(scores, best2, axis=1)
    return ids, sims


def normalise(matrix: np.ndarray) -> np.ndarray:
    return unit_rows(matrix)
