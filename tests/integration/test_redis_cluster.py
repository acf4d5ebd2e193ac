"""StreamRec on a real 3-master Redis Cluster: worker, sidecar, client, pipeline replay
and ``delete-user`` run unchanged when ``STREAMREC_REDIS_URL`` is ``redis+cluster://``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from typer.testing import CliRunner

from devtools.redis_cluster import RedisCluster
from streamrec.app.replay_pipeline import replay_pipeline
from streamrec.app.sidecar import MetricsSidecar
from streamrec.app.worker import EmbedWorker
from streamrec.cli import app
from streamrec.cli.views import all_users, load_group_state
from streamrec.core.events import ClickEvent, ImpressionEvent
from streamrec.core.settings import Settings
from streamrec.core.text import clean_text
from streamrec.evaluation.datasets import amazon_interactions, interactions_to_events
from streamrec.evaluation.replay import replay
from streamrec.evaluation.result import SERVED
from streamrec.evaluation.served import ServedModel
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.conftest import AMAZON, replace
from tests.doubles import HashingEmbedder
from tests.integration.helpers import produce, run_worker
from tests.integration.test_incremental_shared_model import feed, worker
from tests.states import assert_same_state

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def on_cluster(settings: Settings, redis_cluster: RedisCluster) -> Settings:
    return replace(settings, redis_url=redis_cluster.url, embed_cache=None)


def keys_per_node(cluster: RedisCluster, prefix: str) -> list[int]:
    return [
        sum(1 for _ in redis.Redis(port=port).scan_iter(f"{prefix}:*")) for port in cluster.ports
    ]


def test_worker_sidecar_client_and_delete_user_on_a_cluster(on_cluster, redis_cluster) -> None:  # type: ignore[no-untyped-def]
    events = interactions_to_events(amazon_interactions(AMAZON, limit=120))
    produce(on_cluster, events)
    run_worker(EmbedWorker(on_cluster, embedder=HashingEmbedder(64)))
    assert sum(1 for n in keys_per_node(redis_cluster, on_cluster.redis_prefix) if n) >= 2

    client = RecsClient.from_settings(on_cluster)
    victim = Counter(e.user_id for e in events).most_common(1)[0][0]
    answer = client.recommend(victim, k=5)
    assert answer.level == "user" and len(answer.item_ids()) == 5
    loaded = load_group_state(on_cluster)  # the checkpoints written by WATCH + MULTI/EXEC
    assert loaded is not None and victim in set(all_users(loaded[1])["ids"])

    shown = answer.item_ids()
    produce_feedback(on_cluster, victim, shown)
    MetricsSidecar(on_cluster, window=10).run(until_caught_up=True)
    metrics = connect(on_cluster).hgetall(RedisKeys(on_cluster.redis_prefix).metrics("user"))
    assert float(metrics[b"ctr:total"]) == 1.0

    result = CliRunner().invoke(app, ["delete-user", victim], env=on_cluster.to_env())
    assert result.exit_code == 0, result.output
    assert client.recommend(victim, k=5).level != "user"
    restarted = EmbedWorker(on_cluster, embedder=HashingEmbedder(64))
    run_worker(restarted)  # restores from the cluster, then applies the erasure
    assert not restarted.engine.knows_user(victim)
    loaded = load_group_state(on_cluster)
    assert loaded is not None and victim not in set(all_users(loaded[1])["ids"])


def produce_feedback(settings: Settings, user: str, items: list[str]) -> None:
    from streamrec.kafka.clients import make_producer

    impression = ImpressionEvent(
        impression_id="imp-c", user_id=user, items=items, strategy="user", ts=2e9
    )
    click = ClickEvent(event_id="click-c", user_id=user, item_id=items[0], ts=2e9 + 1)
    producer = make_producer(settings)
    producer.send(settings.topic_impressions, key=user.encode(), value=impression.to_json())
    producer.send(settings.topic_clicks, key=user.encode(), value=click.to_json())
    producer.flush()
    producer.close()


def test_pipeline_replay_on_a_cluster_serves_what_the_simulation_serves(on_cluster) -> None:  # type: ignore[no-untyped-def]
    interactions = amazon_interactions(AMAZON, limit=150)
    embedder = HashingEmbedder(64)
    vectors = list(embedder.encode([clean_text(i.text) for i in interactions]))
    engine = Engine(embedder.dim, EngineConfig.from_settings(on_cluster))
    in_process = replay(interactions, vectors, [], ServedModel(engine))
    pipeline = replay_pipeline(on_cluster, interactions, embedder=embedder)
    assert pipeline.index == in_process.index and len(pipeline.index) > 10
    assert pipeline.ranks[SERVED] == in_process.ranks[SERVED]


def test_two_workers_merge_their_shared_models_in_one_slot_of_the_cluster(on_cluster) -> None:  # type: ignore[no-untyped-def]
    store = RecsStore(connect(on_cluster), RedisKeys(on_cluster.redis_prefix))
    first, second = worker(store), worker(store)
    feed(first.engine, 2, seed=0, start=0)
    first.write()
    feed(second.engine, 2, seed=1, start=1000)
    second.write()  # WATCH, HGETALL and the MULTI/EXEC of the merge, on the group's slot
    assert second.merges == 1
    assert_same_state(worker(store).engine.shared_state(), second.engine.shared_state())
