"""Offsets: what a group committed, where partitions end, committing and catching up."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from streamrec.checkpointing.codec import partition_key
from streamrec.core.settings import Settings
from streamrec.kafka.clients import admin
from streamrec.kafka.topics import partitions_of

log = logging.getLogger(__name__)

# how long a between-polls question (where does a partition end?) may wait for the
# broker: an outage answers "not known", and the poll loop stays responsive to SIGTERM
PROBE_TIMEOUT_MS = 2000


def committed_offsets(settings: Settings, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets, as the broker has them."""
    client = admin(settings)
    try:
        offsets = client.list_group_offsets(group).get(group, {})
    finally:
        client.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(**settings.kafka_client_options())
    try:
        return dict(consumer.end_offsets(partitions_of(consumer, topics)))
    finally:
        consumer.close()


def commit_offsets(consumer: KafkaConsumer, offsets: Mapping[str, int]) -> None:
    """Commit the ``topic:partition`` offsets of the partitions assigned now.

    A failed commit is logged, not raised: the caller's checkpoint holds the
    same offsets and wins on restart.
    """
    assigned = consumer.assignment()
    commits = {}
    for key, offset in offsets.items():
        topic, _, partition = key.rpartition(":")
        tp = TopicPartition(topic, int(partition))
        if tp in assigned:
            commits[tp] = OffsetAndMetadata(offset, "", -1)
    if not commits:
        return
    try:
        consumer.commit(commits)
    except (CommitFailedError, KafkaError) as error:
        log.warning("offset commit failed", extra={"error": str(error)})


def caught_up(
    consumer: KafkaConsumer, offsets: Mapping[str, int], count_fetched: bool = False
) -> bool:
    """Whether every assigned partition is processed to its current end.

    ``offsets`` are the processed ``topic:partition`` offsets; with
    ``count_fetched`` a partition also counts as done once the consumer's
    position reached its end (records skipped without an offset update).
    """
    assigned = consumer.assignment()
    if not assigned:
        return False
    # a broker away, or a partition without a leader (kafka-python then leaves
    # its key out of the answer), means "not known to be done"
    try:
        ends = consumer.end_offsets(list(assigned), timeout_ms=PROBE_TIMEOUT_MS)
        return all(
            offsets.get(partition_key(tp.topic, tp.partition), 0) >= ends[tp]
            or (count_fetched and consumer.position(tp, timeout_ms=PROBE_TIMEOUT_MS) >= ends[tp])
            for tp in assigned
        )
    except (KafkaError, KeyError):
        return False
