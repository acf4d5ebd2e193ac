"""A user list's explanations (``why``) survive the real Redis and show in ``recs --why``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streamrec.cli import app
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import RecsStore, connect
from tests.streamrec.model.test_engine import run, stream

pytestmark = pytest.mark.integration


def test_why_round_trips_through_redis_and_the_recs_command_shows_it(settings) -> None:
    engine = Engine(64, EngineConfig(n_clusters=3))
    out = run(engine, stream(12))
    keys = RedisKeys(settings.redis_prefix)
    store = RecsStore(connect(settings), keys, ttl_s=0)
    store.write(out)
    user, written = next(iter(out.user_recs.items()))
    assert all(item.why for item in written.items)

    answer = RecsClient.from_settings(settings).recommend(user, k=5)
    assert answer.level == "user"
    assert [i.why for i in answer.recs.items] == [i.why for i in written.items[:5]]  # type: ignore[union-attr]
    raw = json.loads(store.client.get(keys.user_recs(user)))
    assert raw["items"][0]["why"] == written.items[0].why and len(raw["items"][0]["why"]) == 3
    trending = json.loads(store.client.get(keys.trending()))
    assert trending["items"] and all("why" not in item for item in trending["items"])  # absent

    env = {
        "STREAMREC_REDIS_URL": settings.redis_url,
        "STREAMREC_REDIS_PREFIX": settings.redis_prefix,
    }
    shown = CliRunner().invoke(app, ["recs", user, "-k", "2", "--why"], env=env)
    assert shown.exit_code == 0, shown.output
    first = written.items[0]
    name, value = next(iter(first.why.items()))  # type: ignore[union-attr]
    assert f"{first.item_id}" in shown.output and f"why: {name} {value:+.4f}" in shown.output
    plain = CliRunner().invoke(app, ["recs", user, "-k", "2"], env=env)
    assert plain.exit_code == 0 and "why:" not in plain.output
