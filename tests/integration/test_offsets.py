"""Where partitions end, asked on a connection of the probe's own (the worker's reader)."""

from __future__ import annotations

import pytest
from kafka import TopicPartition

from streamrec.kafka.clients import make_consumer
from streamrec.kafka.offsets import EndProbe
from streamrec.kafka.topics import ensure_topics
from tests.integration.helpers import produce_raw

pytestmark = pytest.mark.integration


def test_the_probe_answers_what_the_consumer_answers_for_new_and_known_topics(settings) -> None:
    ensure_topics(settings)
    produce_raw(settings, settings.topic_reviews, [b"a", b"b", b"c"], key=b"k")
    reviews = [TopicPartition(settings.topic_reviews, p) for p in range(2)]
    clicks = [TopicPartition(settings.topic_clicks, p) for p in range(2)]
    probe = EndProbe(settings)
    consumer = make_consumer(settings, "end-probe")
    try:
        assert probe(reviews) == consumer.end_offsets(reviews)
        assert sum(probe(reviews).values()) == 3
        # a topic it has not seen beside one it knows: kafka-python alone leaves the new
        # topic's partitions out of its answer (a KeyError)
        both = reviews + clicks
        assert probe(both) == {**consumer.end_offsets(reviews), **consumer.end_offsets(clicks)}
        produce_raw(settings, settings.topic_clicks, [b"x"], key=b"k")
        assert sum(probe(clicks).values()) == 1  # asked again: not a cached answer
    finally:
        probe.close()
        consumer.close(autocommit=False)
