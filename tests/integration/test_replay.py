"""Backfill replay: the real pipeline and the in-process mode give the same metrics."""

from __future__ import annotations

import pytest

from streamrec.core.settings import DEFAULT_MODEL
from streamrec.core.text import clean_text
from streamrec.embedding.cache import CachedEmbedder
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.evaluation.replay import SERVED, ServedModel, replay, replay_pipeline
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.conftest import AMAZON, replace

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_pipeline_and_in_process_replays_agree(settings, amazon_cache) -> None:
    settings = replace(settings, embed_cache=amazon_cache, n_clusters=4)
    interactions = amazon_interactions(AMAZON, limit=300)
    embedder = CachedEmbedder(lambda: pytest.fail("all texts are cached"), DEFAULT_MODEL,
                              amazon_cache)
    vectors = list(embedder.encode([clean_text(i.text) for i in interactions]))

    in_process = replay(interactions, vectors, [],
                        ServedModel(Engine(embedder.dim, EngineConfig.from_settings(settings))))
    pipeline = replay_pipeline(settings, interactions, embedder=embedder)

    assert pipeline.index == in_process.index and len(pipeline.index) > 30
    assert pipeline.ranks[SERVED] == in_process.ranks[SERVED]
    assert pipeline.summary("all") == in_process.summary("all")
    assert any(rank <= 50 for rank in pipeline.ranks[SERVED])  # it serves real lists


def test_replay_command_from_a_topic_since_a_time_writes_the_report(settings, amazon_cache,
                                                                    tmp_path) -> None:
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
    later = read_history(settings, [settings.topic_reviews, settings.topic_clicks],
                         from_time_ms=int(since * 1000))
    expected = sum(2 for i in interactions if i.ts >= since)
    assert len(later) == expected  # offsets_for_times found the first event of that day

    out = tmp_path / "report"
    import datetime as dt

    iso = dt.datetime.fromtimestamp(since, tz=dt.UTC).isoformat()
    result = CliRunner().invoke(app, ["replay", "--data", "topic", "--from-time", iso,
                                      "--out", str(out)], env=settings_env(settings))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scored_events"]["all"] > 50
    for name in ("streamrec-user", "streamrec-served", "batch-user", "item-knn", "random",
                 "biasedmf-negatives", "popularity"):
        assert set(metrics["evaluation"][name]) >= {"hr@10", "ndcg@10", "map@10", "mrr",
                                                     "coverage"}
    assert "| streamrec-user |" in (out / "report.md").read_text()
    for picture in ("rolling_ndcg.png", "cluster_sizes.png"):
        assert (out / picture).stat().st_size > 5_000
