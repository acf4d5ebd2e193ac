"""Backfill replay: the real pipeline and the in-process mode give the same metrics."""

from __future__ import annotations

import pytest

from streamrec.datasets import amazon_interactions
from streamrec.embedding import CachedEmbedder
from streamrec.engine import Engine, EngineConfig
from streamrec.replay import SERVED, ServedModel, replay, replay_pipeline
from streamrec.settings import DEFAULT_MODEL
from streamrec.text import clean_text
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
