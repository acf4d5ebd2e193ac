"""What the engine checkpoints: the shared model (all workers) and users per partition.

The shared state holds clusters, items, labels, signals, the ranker and the
clock, never a user profile; profiles travel per Kafka partition, with their
histories as item ids so they survive a renumbering of items.
"""

from __future__ import annotations

import numpy as np

from streamrec.clustering import Clusterer
from streamrec.clustering.hierarchy import Hierarchy
from streamrec.clustering.labels import ClusterLabeler
from streamrec.model.candidates import CandidateGenerator
from streamrec.model.config import EngineConfig
from streamrec.model.drift import DriftMonitor
from streamrec.model.items import ItemStats
from streamrec.model.profiles import UserProfiles
from streamrec.model.ranker import OnlineRanker
from streamrec.model.signals import ItemSignals


class EngineState:
    """Checkpointing for :class:`streamrec.model.engine.Engine` (mixed into it)."""

    dim: int
    config: EngineConfig
    clock: int
    as_of: float
    clusterer: Clusterer
    hierarchy: Hierarchy
    id_ranges: dict[int, int]
    profiles: UserProfiles
    items: ItemStats
    labeler: ClusterLabeler
    drift: DriftMonitor
    signals: ItemSignals
    ranker: OnlineRanker
    _last_refresh: int
    _refreshed_centroids: dict[int, np.ndarray]
    _item_matrix: np.ndarray | None
    candidates: CandidateGenerator

    def shared_state(self, per_item: bool = True, copy: bool = True) -> dict:
        """What all workers share: clusters, items, labels, clock (no user profiles).

        Without ``per_item``, items and signals come without their per-item
        arrays (``global_state()``; :meth:`dirty_items` and :meth:`dirty_neighbours`
        say which rows changed). Without ``copy`` the items' vector sums (items x dim)
        are a view: for a reader done before the engine learns again (a merge).
        """
        items = self.items.state(copy) if per_item else self.items.global_state()
        signals = self.signals.state() if per_item else self.signals.global_state()
        return {
            "dim": self.dim,
            "clock": self.clock,
            "as_of": self.as_of,
            "last_refresh": self._last_refresh,
            "refreshed_ids": np.array(list(self._refreshed_centroids), dtype=np.int64),
            "refreshed_centroids": np.array(
                list(self._refreshed_centroids.values()), dtype=np.float32
            ).reshape(-1, self.dim),
            "clusterer": self.clusterer.state(),
            "hierarchy": self.hierarchy.state(),
            "id_ranges": {str(k): v for k, v in self.id_ranges.items()},
            "labeler": self.labeler.state(),
            "drift": self.drift.state(),
            "items": items,
            "signals": signals,
            "ranker": self.ranker.state(),
        }

    def load_shared(self, state: dict, keep_index: bool = False) -> None:
        """Adopt a shared state, keeping the users' histories pointing at the right items.

        With ``keep_index`` (a merge) a built nearest-item index stays and follows the
        new layout (:meth:`~streamrec.model.item_index.ItemIndex.follow`)."""
        if int(state["dim"]) != self.dim:
            raise ValueError(f"checkpoint has dimension {state['dim']}, model has {self.dim}")
        old_items = list(self.items.ids)
        self.clock = int(state["clock"])
        self.as_of = float(state["as_of"])
        self._last_refresh = int(state["last_refresh"])
        self.clusterer.load(state["clusterer"])
        empty = Hierarchy().state()
        self.hierarchy = Hierarchy.from_state(
            state.get("hierarchy", empty), self.config.cluster_groups
        )
        self.id_ranges = {int(k): int(v) for k, v in state.get("id_ranges", {}).items()}
        self.labeler.load(state["labeler"])
        self.drift.load(state["drift"])
        renewed = self.items.load(state["items"])
        self.signals.load(state["signals"])
        self.ranker.load(state["ranker"])
        if old_items and old_items != list(self.items.ids)[: len(old_items)]:
            mapping = np.array(
                [self.items.row(i) if i is not None else 0 for i in old_items], dtype=np.int32
            )
            self.profiles.remap_items(mapping)
        self._item_matrix = None
        keep_index = keep_index and self.candidates.index.built
        self.candidates.reset(keep_index)  # else rebuilt from the loaded vectors
        if keep_index:
            self.candidates.index.follow(self.items, old_items, renewed)
        self._refreshed_centroids = dict(
            zip(
                np.asarray(state["refreshed_ids"]).tolist(),
                np.asarray(state["refreshed_centroids"]),
                strict=True,
            )
        )

    def dirty_items(self) -> set[int]:
        """Item rows whose statistics or signal values changed since
        :meth:`mark_items_clean`."""
        return self.items.dirty | self.signals.dirty

    def dirty_neighbours(self) -> set[int]:
        """Item rows whose co-occurrence or transition row changed since
        :meth:`mark_items_clean` (an engagement changes those of the user's history)."""
        return set(self.signals.dirty_neighbours)

    def mark_items_clean(self) -> None:
        """The item rows are checkpointed as they are now."""
        self.items.dirty.clear()
        self.signals.dirty.clear()
        self.signals.dirty_neighbours.clear()

    def export_users(self, partition: int | None = None) -> dict:
        """Profiles (of one partition, or all) with histories as item ids."""
        rows = None if partition is None else self.profiles.rows_of_partition(partition)
        return self.profiles.export(rows, self.items.ids)

    def absorb_users(self, state: dict) -> None:
        self.profiles.absorb(state, self.items.row)

    def drop_partition(self, partition: int) -> int:
        """Forget the users of a partition this worker no longer owns."""
        rows = self.profiles.rows_of_partition(partition)
        for row in rows.tolist():
            self.profiles.dirty.discard(self.profiles.ids[row])  # type: ignore[arg-type]
            self.profiles.remove(self.profiles.ids[row])  # type: ignore[arg-type]
        self.mark_clean({partition})
        return len(rows)

    def changed_users(self, partition: int) -> tuple[dict, list[str]]:
        """The partition's users changed since :meth:`mark_clean` (exported) and erased."""
        p = self.profiles
        rows = [p.index[k] for k in p.dirty if k in p.index]
        rows = [r for r in rows if int(p.partition[r]) == partition]
        erased = sorted(u for u, n in p.erased.items() if n == partition)
        return p.export(np.array(sorted(rows), dtype=np.int64), self.items.ids), erased

    def mark_clean(self, partitions: set[int]) -> None:
        """The changes of ``partitions`` are checkpointed."""
        p = self.profiles
        p.dirty = {
            k for k in p.dirty if k in p.index and int(p.partition[p.index[k]]) not in partitions
        }
        p.erased = {u: n for u, n in p.erased.items() if n not in partitions}

    def state(self) -> dict:
        return {"shared": self.shared_state(), "profiles": self.export_users()}

    def load(self, state: dict) -> None:
        self.profiles = UserProfiles(
            self.dim, self.config.profile_half_life, max_seen=self.config.user_history
        )
        self.load_shared(state["shared"])
        self.absorb_users(state["profiles"])

    def forget_user(self, user_id: str) -> bool:
        """Remove a user's profile, assignment, history and representative reviews.

        Their past engagement stays folded into anonymous item and cluster
        counts (no user id), which forget it with their half-lives.
        """
        self.labeler.forget_user(user_id)
        row = self.profiles.index.get(user_id)
        if row is not None:  # its checkpointed profile goes at the next checkpoint
            self.profiles.erased[user_id] = int(self.profiles.partition[row])
            self.profiles.dirty.discard(user_id)
        return self.profiles.remove(user_id)
