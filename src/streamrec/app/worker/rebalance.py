"""Partitions in and out: load their users and offsets, or checkpoint and let them go.

Range assignment keeps partition n of every input topic on one worker, so a
partition number carries its users' profiles and dedup entries with it.
"""

from __future__ import annotations

import logging

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from streamrec.app.worker.commit import Checkpointer
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.codec import partition_key
from streamrec.core.ordering import EventTimeMerger
from streamrec.model.engine import Engine
from streamrec.model.refresh import ListShare
from streamrec.serving.store import with_retry

log = logging.getLogger(__name__)


class RebalanceListener(ConsumerRebalanceListener):
    """kafka-python calls it on its IO thread when the group's assignment changes."""

    def __init__(
        self, checkpoints: Checkpointer, engine: Engine, progress: Progress, merger: EventTimeMerger
    ) -> None:
        self.checkpoints = checkpoints
        self.engine = engine
        self.progress = progress
        self.merger = merger
        self.consumer: KafkaConsumer | None = None  # set while the worker runs
        # the input topics' partitions (0: not known), read by the worker before it polls:
        # a callback runs on kafka-python's IO thread, which must not fetch metadata
        self.partitions = 0

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self.consumer is not None
        self.progress.generation += 1
        for number in sorted({tp.partition for tp in assigned} - self.progress.owned):
            self.checkpoints.load_partition(number)
            self.progress.owned.add(number)
        self.checkpoints.claim_id_range()
        self._share_lists()
        for tp in assigned:
            offset = self.progress.offsets.get(partition_key(tp.topic, tp.partition))
            if offset is not None:
                self.consumer.seek(tp, offset)
        self.progress.commit_owed = True  # the group may be behind the checkpoint's offsets
        log.info(
            "partitions assigned",
            extra={"partitions": str(sorted(assigned)), "list_partitions": self.partitions},
        )

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # the listener runs on kafka-python's IO thread, which must not block on the
        # broker: write the checkpoint only; its offsets win over the group's commit
        self.merger.drop(revoked)
        self.progress.generation += 1  # a batch read before this is not processed
        if self.progress.dirty:
            with_retry(self.checkpoints.write, "save checkpoint")
            self.progress.dirty = False
        for number in sorted({tp.partition for tp in revoked} & self.progress.owned):
            self.engine.drop_partition(number)
            self.progress.forget_partition(number)
        self._share_lists()
        log.info("partitions revoked", extra={"partitions": str(sorted(revoked))})

    def _share_lists(self) -> None:
        """Build only the shared lists of the partitions owned (``refresh.ListShare``): a
        group writes each cluster, group and trending list once, not once per worker."""
        self.engine.list_share = ListShare.of(self.progress.owned, self.partitions)
