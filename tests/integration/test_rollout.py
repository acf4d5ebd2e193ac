"""A rollout on real Kafka and Redis: a new worker group replays the topics into a
fresh prefix, then readers switch at once, while a reader thread hammers the lists."""

from __future__ import annotations

import threading
import time

import pytest

from streamrec.app.api.context import ApiContext
from streamrec.app.api.recs import walk_chain
from streamrec.app.rollout import RolloutError, rollout, version_settings
from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.serving.active import read_active
from streamrec.serving.client import RecsClient
from streamrec.serving.schema import RecList, RedisKeys
from streamrec.serving.store import connect
from tests.doubles import HashingEmbedder
from tests.integration.helpers import produce

pytestmark = pytest.mark.integration

WORDS = ["guitar strings", "vocal microphone", "drum sticks", "pedal board", "piano keys"]


def events() -> list[ReviewEvent | ClickEvent]:
    """160 interactions (320 events) of 20 users on 25 items."""
    out: list[ReviewEvent | ClickEvent] = []
    for n in range(160):
        user, item = f"u{n % 20}", f"i{(n * 7) % 25}"
        text = f"{WORDS[n % 5]} review {n % 3}"
        out.append(ClickEvent(event_id=f"c{n}", user_id=user, item_id=item, ts=float(n)))
        out.append(
            ReviewEvent(event_id=f"r{n}", user_id=user, item_id=item, text=text, ts=float(n))
        )
    return out


def stored_list(settings, prefix: str, user: str) -> RecList:  # type: ignore[no-untyped-def]
    raw = connect(settings).get(RedisKeys(prefix).user_recs(user))
    assert raw is not None, f"{prefix} has no list for {user}"
    return RecList.model_validate_json(raw)


class Reader(threading.Thread):
    """Asks for every user's list in a loop and records each answer."""

    def __init__(self, client: RecsClient, users: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.users = client, users
        self.answers: list[tuple[str, str, list[str], float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for user in self.users:
                answer = self.client.recommend(user, k=10)
                produced = answer.recs.produced_at if answer.recs else -1.0
                self.answers.append((user, answer.level, answer.item_ids(), produced))


def test_rollout_switches_readers_at_once_and_never_serves_a_mix(settings) -> None:  # type: ignore[no-untyped-def]
    produce(settings, events())
    EmbedWorker(settings, embedder=HashingEmbedder(64)).run(until_caught_up=True)
    users = [f"u{n}" for n in range(20)]
    reader = Reader(RecsClient(connect(settings), settings.redis_prefix), users)
    started = time.time()
    reader.start()
    result = rollout(settings, "hashing-32", "v2", embedder=HashingEmbedder(32))
    switched = time.time()
    time.sleep(0.3)  # answers after the switch
    reader.done.set()
    reader.join(10)

    new_prefix = f"{settings.redis_prefix}-v2"
    assert result.active.prefix == new_prefix and result.previous is None
    assert result.events == 320
    assert read_active(connect(settings), settings.redis_prefix) == result.active
    old = {u: stored_list(settings, settings.redis_prefix, u) for u in users}
    new = {u: stored_list(settings, new_prefix, u) for u in users}
    assert any(old[u].item_ids() != new[u].item_ids() for u in users)  # two versions differ
    assert all(new[u].produced_at > started > old[u].produced_at for u in users)

    seen_new = False
    for user, level, items, produced in reader.answers:
        assert level == "user", f"{user} got {level}: a list went missing"
        is_new = produced > started
        assert not (seen_new and not is_new), "an old-version list after the switch"
        seen_new |= is_new
        # the whole answer is one version's final list, never a mix
        assert items == (new if is_new else old)[user].item_ids()[:10]
        if produced < started:
            assert produced == old[user].produced_at
    olds = sum(p < started for _, _, _, p in reader.answers)
    assert len(reader.answers) > 100 and seen_new and olds > 0  # both versions were read
    assert not any(p < started for _, _, _, p in reader.answers[-len(users) :])
    assert switched > max(new[u].produced_at for u in users)

    # the HTTP API's chain resolves the same pointer
    ctx = ApiContext.from_settings(settings)
    try:
        level, recs, _, _ = walk_chain(ctx, "u3", ("user", "cluster", "trending"))
        assert level == "user" and recs is not None
        assert recs["produced_at"] == new["u3"].produced_at
        serving = ctx.serving()  # seen items from the new group's checkpoint
        assert serving.group == result.active.group and serving.get().seen["u3"]
    finally:
        ctx.close()

    with pytest.raises(RolloutError, match="already serves"):
        rollout(settings, "hashing-32", "v2", embedder=HashingEmbedder(32))


def test_rollout_refuses_a_used_prefix_and_a_bad_version(settings) -> None:  # type: ignore[no-untyped-def]
    connect(settings).set(RedisKeys(f"{settings.redis_prefix}-v9").model(), "{}")
    with pytest.raises(RolloutError, match="not empty"):
        rollout(settings, "hashing-32", "v9", embedder=HashingEmbedder(32))
    with pytest.raises(RolloutError, match="cannot load model"):
        rollout(settings, "/no/such/model-folder", "v8")
    assert read_active(connect(settings), settings.redis_prefix) is None
    with pytest.raises(RolloutError, match="letters, digits"):
        version_settings(settings, "m", "bad version!")
