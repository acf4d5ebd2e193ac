"""The effects a worker group leaves in Redis, and their comparison: a run with faults
must leave what an uninterrupted run leaves (the kill -9 test and its benchmark-scale
twin, ``benchmarks/kill9_scale.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from streamrec.cli.views import all_users, load_group_state
from streamrec.core.settings import Settings
from streamrec.serving.schema import RecList, RedisKeys
from streamrec.serving.store import connect


def spawn_worker(settings: Settings, log_path: Path, *options: str) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "streamrec.cli", "worker", *(options or ["--until-caught-up"])],
        env={**os.environ, **settings.to_env()},
        stdout=log,
        stderr=log,
    )


def progress(settings: Settings) -> int:
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).model())
    return 0 if raw is None else int(json.loads(raw)["events"])


def final_state(settings: Settings) -> tuple[dict, dict, dict, dict[str, RecList]]:
    client = connect(settings)
    keys = RedisKeys(settings.redis_prefix)
    loaded = load_group_state(settings)
    assert loaded is not None
    shared, parts = loaded
    offsets = {k: v for p in parts for k, v in p.offsets.items()}
    users = all_users(parts)
    by_user = {u: n for n, u in enumerate(users["ids"])}
    head, _, tail = keys.user_recs("\0").partition("\0")  # the user id sits in a hash tag
    recs = {
        k.decode()[len(head) : -len(tail)]: RecList.model_validate_json(client.get(k))
        for k in client.scan_iter(f"{head}*{tail}")
    }
    assert recs, "no user lists found to compare"
    return shared, offsets, {"users": users, "row": by_user}, recs


def assert_same_effects(expected: tuple, actual: tuple) -> None:
    (ref_state, ref_offsets, ref_users, ref_recs) = expected
    (got_state, got_offsets, got_users, got_recs) = actual
    assert got_offsets == ref_offsets
    assert got_state["clock"] == ref_state["clock"]  # no event applied twice or lost
    np.testing.assert_array_equal(got_state["clusterer"]["ids"], ref_state["clusterer"]["ids"])
    assert got_state["clusterer"]["next_id"] == ref_state["clusterer"]["next_id"]
    np.testing.assert_array_equal(
        got_users["users"]["cluster"][[got_users["row"][u] for u in ref_users["users"]["ids"]]],
        ref_users["users"]["cluster"],
    )
    assert got_users["row"].keys() == ref_users["row"].keys()
    order = [got_users["row"][u] for u in ref_users["users"]["ids"]]
    np.testing.assert_allclose(
        np.asarray(got_users["users"]["sums"])[order], ref_users["users"]["sums"], atol=1e-5
    )
    np.testing.assert_array_equal(
        np.asarray(got_users["users"]["counts"])[order], ref_users["users"]["counts"]
    )
    np.testing.assert_allclose(
        got_state["clusterer"]["centers"], ref_state["clusterer"]["centers"], atol=1e-5
    )
    np.testing.assert_allclose(got_state["items"]["popularity"], ref_state["items"]["popularity"])
    assert got_recs.keys() == ref_recs.keys()
    for user, recs in ref_recs.items():
        assert got_recs[user].item_ids() == recs.item_ids(), user
        np.testing.assert_allclose(
            [i.score for i in got_recs[user].items], [i.score for i in recs.items], atol=1e-4
        )
