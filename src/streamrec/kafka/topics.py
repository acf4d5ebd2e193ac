"""StreamRec's topics: their names from the settings, creating and deleting them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streamrec.core.settings import Settings
from streamrec.kafka.clients import MAX_MESSAGE_BYTES, admin


@dataclass(frozen=True)
class Topics:
    reviews: str
    clicks: str
    impressions: str
    dead_letter: str
    cluster_events: str
    deletions: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            settings.topic_reviews,
            settings.topic_clicks,
            settings.topic_impressions,
            settings.topic_dead_letter,
            settings.topic_cluster_events,
            settings.topic_deletions,
        )

    def all(self) -> list[str]:
        return [
            self.reviews,
            self.clicks,
            self.impressions,
            self.dead_letter,
            self.cluster_events,
            self.deletions,
        ]

    def inputs(self) -> list[str]:
        """What the worker consumes; range assignment gives partition n of each to one worker."""
        return [self.reviews, self.clicks, self.deletions]


def ensure_topics(
    settings: Settings,
    names: Iterable[str] | None = None,
    partitions: int | None = None,
    keep_history: bool = False,
) -> None:
    """Create the topics that do not exist yet (idempotent).

    ``keep_history`` creates them without time retention: Kafka counts retention
    from the record time, which for a data set replayed as history (Amazon,
    MovieLens) is years old, so any finite retention would drop it at once.
    """
    retention = -1 if keep_history else settings.topic_retention_ms
    names = list(names or Topics.from_settings(settings).all())
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=partitions or settings.topic_partitions,
                replication_factor=1,
                topic_configs={
                    "max.message.bytes": str(MAX_MESSAGE_BYTES),
                    "retention.ms": str(retention),
                    "message.timestamp.type": "CreateTime",
                },
            )
            for name in names
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                client.create_topics(wanted)
        client.wait_for_topics(names, timeout_ms=30000)
    finally:
        client.close()


def delete_topics(settings: Settings, names: Iterable[str]) -> None:
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            client.delete_topics(doomed)
    finally:
        client.close()


def partitions_of(consumer: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    return [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(consumer.partitions_for_topic(topic) or [])
    ]


def partition_count(consumer: KafkaConsumer, topics: Iterable[str]) -> int:
    """The most partitions any of ``topics`` has (0: none exists yet). It may fetch
    metadata: call it from the consumer's own thread, never from a rebalance callback."""
    return max((len(consumer.partitions_for_topic(topic) or ()) for topic in topics), default=0)
