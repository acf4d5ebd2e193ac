"""Backfill replay: the real pipeline and the in-process mode give the same metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streamrec.app.replay_pipeline import PipelineServer, replay_pipeline
from streamrec.core.settings import DEFAULT_MODEL, Settings
from streamrec.core.text import clean_text
from streamrec.embedding.cache import CachedEmbedder
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.evaluation.replay import replay
from streamrec.evaluation.result import SERVED
from streamrec.evaluation.served import ServedModel
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.conftest import AMAZON, replace

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def amazon_slice(settings: Settings, cache: Path) -> tuple[Settings, list, CachedEmbedder, list]:
    """Settings, the first 300 Amazon interactions, an embedder that only reads ``cache``,
    and the interactions' vectors."""
    settings = replace(settings, embed_cache=cache, n_clusters=4)
    interactions = amazon_interactions(AMAZON, limit=300)
    embedder = CachedEmbedder(lambda: pytest.fail("all texts are cached"), DEFAULT_MODEL, cache)
    vectors = list(embedder.encode([clean_text(i.text) for i in interactions]))
    return settings, interactions, embedder, vectors


def test_pipeline_and_in_process_replays_agree(settings, amazon_cache) -> None:
    settings, interactions, embedder, vectors = amazon_slice(settings, amazon_cache)

    in_process = replay(
        interactions,
        vectors,
        [],
        ServedModel(Engine(embedder.dim, EngineConfig.from_settings(settings))),
    )
    pipeline = replay_pipeline(settings, interactions, embedder=embedder)

    assert pipeline.index == in_process.index and len(pipeline.index) > 30
    assert pipeline.ranks[SERVED] == in_process.ranks[SERVED]
    assert pipeline.summary("all") == in_process.summary("all")
    assert any(rank <= 50 for rank in pipeline.ranks[SERVED])  # it serves real lists


def test_batched_pipeline_over_four_partitions_serves_what_the_simulation_serves(
    settings, amazon_cache
) -> None:
    """Production conditions (micro-batches over 4 partitions) through Kafka and Redis."""
    settings, interactions, embedder, vectors = amazon_slice(settings, amazon_cache)
    config = EngineConfig.from_settings(replace(settings, batch_size=16))
    simulated = replay(
        interactions,
        vectors,
        [],
        [
            ServedModel(Engine(embedder.dim, config)),
            ServedModel(Engine(embedder.dim, config), "batched", batch_reviews=16, partitions=4),
        ],
    )
    pipeline = replay_pipeline(
        settings, interactions, embedder=embedder, batch_reviews=16, partitions=4
    )

    assert pipeline.index == simulated.index
    assert pipeline.ranks[SERVED] == simulated.ranks["batched"]
    assert simulated.ranks["batched"] != simulated.ranks[SERVED]  # batching is visible


class PausingProducer:
    """Pauses once every third batch, half-way through it, after flushing what it sent:
    records of one batch land more than ``batch_wait_ms`` apart, as on a loaded broker."""

    def __init__(self, producer: KafkaProducer, batch_events: int) -> None:
        self.producer, self.batch_events, self.sent = producer, batch_events, 0
        self.pauses = 0

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        if self.sent % (3 * self.batch_events) == self.batch_events // 2:
            self.producer.flush()
            time.sleep(1.5)  # > the replay worker's batch_wait_ms (1 s)
            self.pauses += 1
        return self.producer.send(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)


def test_a_batch_whose_records_land_slowly_is_still_applied_whole(settings, amazon_cache) -> None:
    """Each batch is one transaction: the worker does not cut it short while it lands
    (without the transaction it did, and served other lists than the simulation)."""
    settings, interactions, embedder, vectors = amazon_slice(settings, amazon_cache)
    config = EngineConfig.from_settings(replace(settings, batch_size=16))
    batched = ServedModel(Engine(embedder.dim, config), "batched", batch_reviews=16, partitions=4)
    simulated = replay(interactions, vectors, [], batched)

    server = PipelineServer(settings, embedder, batch_reviews=16, partitions=4)
    slow = PausingProducer(server.batch_producer, batch_events=32)
    server.batch_producer = slow
    try:
        pipeline = replay(interactions, [None] * len(interactions), [], server)
    finally:
        server.close()

    assert slow.pauses >= 5
    assert pipeline.ranks[SERVED] == simulated.ranks["batched"]


def test_replay_command_from_a_topic_since_a_time_writes_the_report(
    settings, amazon_cache, tmp_path
) -> None:
    import json

    from typer.testing import CliRunner

    from streamrec.cli import app
    from streamrec.evaluation.datasets import interactions_to_events
    from streamrec.kafka.history import read_history
    from tests.conftest import settings_env
    from tests.integration.helpers import produce

    settings = replace(settings, embed_cache=amazon_cache)
    interactions = amazon_interactions(AMAZON, limit=400)
    produce(settings, interactions_to_events(interactions))
    since = interactions[100].ts
    later = read_history(
        settings, [settings.topic_reviews, settings.topic_clicks], from_time_ms=int(since * 1000)
    )
    expected = sum(2 for i in interactions if i.ts >= since)
    assert len(later) == expected  # offsets_for_times found the first event of that day

    out = tmp_path / "report"
    import datetime as dt

    iso = dt.datetime.fromtimestamp(since, tz=dt.UTC).isoformat()
    result = CliRunner().invoke(
        app,
        ["replay", "--data", "topic", "--from-time", iso, "--out", str(out)],
        env=settings_env(settings),
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scored_events"]["all"] > 50
    for name in (
        "streamrec-user",
        "streamrec-served",
        "batch-user",
        "item-knn",
        "random",
        "biasedmf-negatives",
        "popularity",
    ):
        assert set(metrics["evaluation"][name]) >= {"hr@10", "ndcg@10", "map@10", "mrr", "coverage"}
    assert "| streamrec-user |" in (out / "report.md").read_text()
    for picture in ("rolling_ndcg.png", "cluster_sizes.png"):
        assert (out / picture).stat().st_size > 5_000


def test_the_reported_command_rewrites_metrics_json_byte_for_byte(amazon_cache, tmp_path) -> None:
    """The report's "Reproduce with" line, run as printed on a prefix, gives the same file
    (one process, then the default two: splitting the models changes no byte)."""
    import json
    import shlex

    from typer.testing import CliRunner

    from streamrec.cli import app

    env = {"STREAMREC_EMBED_CACHE": str(amazon_cache), "HF_HUB_OFFLINE": "1"}
    first = tmp_path / "first"
    args = [
        "replay",
        "--data",
        "amazon",
        "--path",
        str(AMAZON),
        "--limit",
        "250",
        "--learning-rates",
        "0.05,0.2",
        "--bootstrap",
        "300",
        "--workers",  # the printed command runs on two processes (the default)
        "1",
        "--out",
        str(first),
    ]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    command = json.loads((first / "metrics.json").read_text())["command"]
    assert f"Reproduce with `{command}`" in (first / "report.md").read_text()
    assert "--learning-rates 0.05,0.2" in command and "--bootstrap 300" in command

    second = tmp_path / "second"
    printed = shlex.split(command.replace("DIR", str(second)))
    assert printed[:2] == ["streamrec", "replay"]
    result = CliRunner().invoke(app, printed[1:], env=env)
    assert result.exit_code == 0, result.output
    assert (second / "metrics.json").read_bytes() == (first / "metrics.json").read_bytes()
