"""Stable cluster ids for clusterers that name their clusters anew at every refit.

:class:`StableIds` matches each new set of unit centres to the previous one by
cosine similarity: a centre close enough to an old one keeps its id, a second
centre matching the same old one is a split, an old centre nobody matches
merged into its nearest new centre or died, and a centre matching nothing is
born. Used by River's DBSTREAM and the batch k-means reference.

>>> ids = StableIds(match_similarity=0.8)
>>> first, _ = ids.update(np.eye(2), step=1)
>>> second, events = ids.update(np.eye(2)[::-1], step=2)  # same centres, other order
>>> first.tolist(), second.tolist(), [e.kind for e in events]
([0, 1], [1, 0], [])
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering.base import LifecycleEvent


class StableIds:
    """Gives anonymous centres ids that persist from one reclustering to the next."""

    def __init__(self, match_similarity: float = 0.8) -> None:
        self.match_similarity = match_similarity
        self.ids = np.zeros(0, dtype=np.int64)
        self.centroids = np.zeros((0, 0))
        self.next_id = 0

    def update(self, centroids: np.ndarray, step: int) -> tuple[np.ndarray, list[LifecycleEvent]]:
        """Ids for the rows of ``centroids`` (unit vectors) and the events since last time."""
        events: list[LifecycleEvent] = []
        new_ids = np.full(len(centroids), -1, dtype=np.int64)
        if len(self.ids) and len(centroids):
            similarity = centroids @ self.centroids.T  # new x old
            best_old = np.argmax(similarity, axis=1)
            close = similarity[np.arange(len(centroids)), best_old] >= self.match_similarity
            for old in np.unique(best_old[close]).tolist():
                matches = np.flatnonzero(close & (best_old == old))
                keeper = int(matches[np.argmax(similarity[matches, old])])
                new_ids[keeper] = self.ids[old]
                for j in matches.tolist():
                    if j != keeper:
                        new_ids[j] = self._new_id()
                        events.append(
                            LifecycleEvent(
                                "split", int(new_ids[j]), step, (int(self.ids[old]),), "reclustered"
                            )
                        )
            gone = np.flatnonzero(~np.isin(self.ids, new_ids))
            nearest_new = np.argmax(similarity, axis=0)
            for old in gone.tolist():
                j = int(nearest_new[old])
                if similarity[j, old] >= self.match_similarity and new_ids[j] >= 0:
                    events.append(
                        LifecycleEvent(
                            "merged", int(self.ids[old]), step, (int(new_ids[j]),), "reclustered"
                        )
                    )
                else:
                    events.append(
                        LifecycleEvent("died", int(self.ids[old]), step, reason="no longer dense")
                    )
        elif len(self.ids):
            events += [LifecycleEvent("died", int(i), step, reason="no clusters") for i in self.ids]
        for j in np.flatnonzero(new_ids < 0):
            new_ids[j] = self._new_id()
            events.append(LifecycleEvent("born", int(new_ids[j]), step, reason="new dense region"))
        self.ids, self.centroids = new_ids, centroids.copy()
        return new_ids, events

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def state(self) -> dict:
        return {"ids": self.ids, "centroids": self.centroids, "next_id": self.next_id}

    def load(self, state: dict) -> None:
        self.ids = np.asarray(state["ids"], dtype=np.int64)
        self.centroids = np.asarray(state["centroids"], dtype=np.float64)
        self.next_id = int(state["next_id"])
