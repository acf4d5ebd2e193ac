"""What the worker has processed and owns, shared by its pieces."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka.consumer.fetcher import ConsumerRecord

from streamrec.checkpointing.codec import partition_key, partition_of
from streamrec.checkpointing.dedup import DedupWindow


@dataclass
class Progress:
    """Offsets, owned partitions and the dedup window; ``dirty`` once a batch or an
    erasure changed something the next checkpoint must hold. While not dirty the
    offsets are those of the last checkpoint."""

    dedup: DedupWindow
    offsets: dict[str, int] = field(default_factory=dict)  # next offset per "topic:partition"
    owned: set[int] = field(default_factory=set)  # partition numbers whose users live here
    dirty: bool = False
    erased: bool = False  # a batch erased users: checkpoint now, not on schedule
    # the Kafka group's offsets may lag the checkpoint: a revocation writes the checkpoint
    # without committing, and a partition taken over arrives at its checkpoint's offsets
    commit_owed: bool = False
    generation: int = 0  # bumped by every rebalance: batches read before it are stale

    def advance(self, records: Iterable[ConsumerRecord]) -> None:
        """The records' effects are in Redis: their offsets may be checkpointed."""
        for record in records:
            key = partition_key(record.topic, record.partition)
            self.offsets[key] = max(self.offsets.get(key, 0), record.offset + 1)

    def offsets_of(self, number: int) -> dict[str, int]:
        """The offsets of one partition number (across the input topics)."""
        return {k: v for k, v in self.offsets.items() if partition_of(k) == number}

    def forget_partition(self, number: int) -> None:
        self.offsets = {k: v for k, v in self.offsets.items() if partition_of(k) != number}
        self.dedup.drop_partition(number)
        self.owned.discard(number)
