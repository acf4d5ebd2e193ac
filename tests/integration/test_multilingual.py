"""The worker with STREAMREC_EMBED_BACKEND=use-multilingual on real Kafka and Redis: Chinese
reviews join the clusters of English reviews on their topic, with Chinese labels."""

from __future__ import annotations

import json

import pytest

from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ReviewEvent
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect
from tests.conftest import replace
from tests.integration.helpers import produce, run_worker
from tests.multilingual_reviews import MICS_EN, MICS_ZH, STRINGS_EN, STRINGS_ZH

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_chinese_reviews_join_the_english_clusters_of_their_topic(settings) -> None:  # type: ignore[no-untyped-def]
    settings = replace(
        settings,
        embed_backend="use-multilingual",
        n_clusters=2,
        batch_size=8,  # the English reviews form the first batch, the Chinese the second
        cluster_refresh_events=1,
        seed=3,
    )
    texts = [
        *[("strings-en", t) for t in STRINGS_EN],
        *[("mics-en", t) for t in MICS_EN],
        *[("strings-zh", t) for t in STRINGS_ZH],
        *[("mics-zh", t) for t in MICS_ZH],
    ]
    events = [
        ReviewEvent(
            event_id=f"e{n}",
            user_id=f"{topic}-{n}",
            item_id=f"{topic.split('-')[0]}-{n % 2}",
            text=text,
            ts=1_600_000_000 + n,
        )
        for n, (topic, text) in enumerate(texts)
    ]
    produce(settings, events)
    worker = EmbedWorker(settings)
    assert worker.embedder.dim == 512
    run_worker(worker)

    client = RecsClient(connect(settings), settings.redis_prefix)
    clusters = {
        e.user_id: client.assignment(e.user_id).cluster_id  # type: ignore[union-attr]
        for e in events
    }
    by_topic = {
        topic: {c for user, c in clusters.items() if user.startswith(topic)}
        for topic in ("strings-en", "mics-en", "strings-zh", "mics-zh")
    }
    assert all(len(ids) == 1 for ids in by_topic.values()), by_topic
    assert by_topic["strings-zh"] == by_topic["strings-en"] != by_topic["mics-en"]
    assert by_topic["mics-zh"] == by_topic["mics-en"]
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).clusters())
    labels = {c["cluster_id"]: c["labels"] for c in json.loads(raw)}
    strings_labels = labels[next(iter(by_topic["strings-en"]))]
    assert any("\u4e00" <= ch <= "\u9fff" for label in strings_labels for ch in label)
