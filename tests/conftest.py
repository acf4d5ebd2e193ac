"""Shared fixtures: real Kafka and Redis (started when needed), unique names per test.

A test that uses the servers must be marked ``integration`` and one that loads
the embedding model ``slow`` (collection fails otherwise), so ``make test-unit``
(``-m "not integration and not slow"``) starts no server and loads no model.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from devtools.infra import LocalInfra
from devtools.runs import isolated_settings
from streamrec.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
_AMAZON_FILE = "reviews_Musical_Instruments_5.json.gz"
# the shared data folder beside the checkout (as on CI), else the copy vendored for the demo
AMAZON = next(
    (
        p
        for p in (
            ROOT.parent / "shared/datasets/amazon-musical-instruments-5core" / _AMAZON_FILE,
            ROOT / "data/amazon" / _AMAZON_FILE,
        )
        if p.exists()
    ),
    ROOT / "data/amazon" / _AMAZON_FILE,
)


@pytest.fixture(scope="session")
def infra() -> Iterator[LocalInfra]:
    """Kafka and Redis on loopback: reuse running servers, else start (and later stop) them."""
    servers = LocalInfra.default()
    started = not (servers.kafka.running() and servers.redis.running())
    servers.up()
    yield servers
    _delete_topics_of(servers, _RUNS)
    if started and not os.environ.get("STREAMREC_KEEP_INFRA"):
        servers.down()


_RUNS: list[str] = []  # the run ids of this session's ``settings``: their topics go at the end


def _delete_topics_of(servers: LocalInfra, runs: list[str]) -> None:
    """Delete this session's test topics: a broker that kept every session's topics
    reached thousands of partition folders and then its open-file limit."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    prefixes = tuple(f"t-{run}." for run in runs)
    if not prefixes:
        return
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers.kafka.bootstrap)
        try:
            ours = [name for name in admin.list_topics() if name.startswith(prefixes)]
            for start in range(0, len(ours), 100):
                admin.delete_topics(ours[start : start + 100], timeout_ms=30_000)
        finally:
            admin.close()
    except KafkaError:  # a test stopped the broker: nothing to clean up there
        pass


NEEDS_MARK = {"infra": "integration", "embedder": "slow"}  # fixture -> marker it requires


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid} uses {fixture} but is not marked {marker}"
        for item in items
        for fixture, marker in NEEDS_MARK.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None
    ]
    if unmarked:
        raise pytest.UsageError("\n".join(unmarked))


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(infra: LocalInfra) -> Settings:
    """Settings pointing at the test servers with topics and a Redis prefix of this test only."""
    run = uuid.uuid4().hex[:10]
    _RUNS.append(run)
    return isolated_settings(
        f"t-{run}",
        kafka_bootstrap_servers=infra.kafka.bootstrap,
        redis_url=infra.redis.url,
        redis_prefix=f"test-{run}",
        worker_group=f"g-{run}-worker",
        metrics_group=f"g-{run}-metrics",
        topic_partitions=2,
        topic_retention_ms=-1,  # Amazon's record times are 2004-2014: keep them
        batch_size=16,
        batch_wait_ms=50,
        checkpoint_interval_s=0,
        n_clusters=4,
        cluster_refresh_events=20,
        log_json=False,
    )


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model, loaded once per test session."""
    from streamrec.embedding.torch_backend import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu")


@pytest.fixture(scope="session")
def amazon_slice():
    """The first 60 Amazon interactions in event-time order."""
    from streamrec.evaluation.datasets import amazon_interactions

    return amazon_interactions(AMAZON, limit=60)


CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"


@pytest.fixture(scope="session")
def amazon_cache(embedder) -> Path:
    """Real embeddings of the first 600 Amazon reviews, computed once (kept in .cache/)."""
    from streamrec.core.settings import DEFAULT_MODEL
    from streamrec.core.text import clean_text
    from streamrec.embedding.cache import CachedEmbedder, precompute
    from streamrec.evaluation.datasets import amazon_interactions

    path = CACHE_DIR / "test-amazon-600.npz"
    cache = CachedEmbedder(lambda: embedder, DEFAULT_MODEL, path)
    texts = [clean_text(i.text) for i in amazon_interactions(AMAZON, limit=600)]
    precompute(cache, texts, save=True)
    return path


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment of worker subprocesses: this one plus the settings."""
    return {**os.environ, **settings.to_env()}


def replace(settings: Settings, **changes: object) -> Settings:
    """A validated copy of ``settings`` with ``changes`` (model_copy skips validation)."""
    return Settings(_env_file=None, **{**settings.model_dump(), **changes})  # type: ignore[call-arg]
