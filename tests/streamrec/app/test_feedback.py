import pytest

from streamrec.app.feedback import ClickJoiner, RollingScores
from streamrec.core.events import ClickEvent, ImpressionEvent


def impression(
    n: int, user: str, items: list[str], ts: float, strategy: str = "user"
) -> ImpressionEvent:
    return ImpressionEvent(
        impression_id=f"imp{n}", user_id=user, items=items, strategy=strategy, ts=ts
    )


def click(n: int, user: str, item: str, ts: float, impression_id: str | None = None) -> ClickEvent:
    return ClickEvent(
        event_id=f"c{n}", user_id=user, item_id=item, ts=ts, impression_id=impression_id
    )


def test_join_by_id_else_latest_before_the_click() -> None:
    joiner = ClickJoiner()
    joiner.add(impression(1, "u", ["a"], 10))
    joiner.add(impression(2, "u", ["b"], 20))
    joiner.add(impression(3, "u", ["c"], 30))
    assert joiner.match(click(1, "u", "a", 25, "imp1")).impression_id == "imp1"
    assert joiner.match(click(2, "u", "b", 25)).impression_id == "imp2"
    assert joiner.match(click(3, "u", "b", 5)) is None
    assert joiner.match(click(4, "someone-else", "a", 40, "imp1")) is None


def test_a_click_answers_the_latest_impression_of_every_strategy() -> None:
    joiner = ClickJoiner()
    joiner.add(impression(1, "u", ["a"], 10, strategy="user"))
    joiner.add(impression(2, "u", ["b"], 11, strategy="trending"))
    joiner.add(impression(3, "u", ["c"], 12, strategy="user"))
    found = joiner.match_all(click(1, "u", "a", 20))
    assert sorted(i.impression_id for i in found) == ["imp2", "imp3"]


def test_joiner_is_bounded() -> None:
    joiner = ClickJoiner(max_impressions=2)
    for n in range(5):
        joiner.add(impression(n, f"u{n}", ["a"], n))
    assert list(joiner.by_id) == ["imp3", "imp4"]
    assert set(joiner.by_user) == {"u3", "u4"}


def test_rolling_windows_per_strategy_and_ctr() -> None:
    scores = RollingScores(window=2, period_s=100)
    first = impression(1, "u", ["a", "b", "c"], 0)
    scores.observe_impression(first)
    scores.observe_impression(impression(2, "v", ["x"], 1, strategy="trending"))
    scores.observe_click(first, click(1, "u", "a", 2))  # rank 1
    scores.observe_click(first, click(2, "u", "c", 3))  # rank 3
    scores.observe_click(first, click(3, "u", "zzz", 4))  # missed
    snap = scores.snapshot()
    assert snap["user"]["hit@10:last2"] == 0.5  # the last two clicks: rank 3 and a miss
    assert snap["user"]["mrr:last2"] == pytest.approx((1 / 3) / 2)
    assert snap["user"]["ctr:total"] == 3.0
    assert snap["trending"]["impressions:total"] == 1.0
    assert snap["trending"]["clicks:total"] == 0.0


def test_state_round_trip_keeps_the_windows() -> None:
    scores = RollingScores(window=3, period_s=100)
    shown = impression(1, "u", ["a", "b"], 0)
    scores.observe_impression(shown)
    for n, item in enumerate(["a", "b", "q", "a"]):
        scores.observe_click(shown, click(n, "u", item, n + 1))
    copy = RollingScores(window=3, period_s=100)
    copy.load(scores.state())
    assert copy.snapshot() == scores.snapshot()


def test_pending_clicks_expire_by_event_time_on_a_busy_stream() -> None:
    from streamrec.app.feedback import PendingClicks

    joiner = ClickJoiner()
    pending = PendingClicks(horizon_s=30)
    scored: list[tuple[str, str]] = []
    pending.add([click(1, "u", "a", 100), click(2, "v", "b", 100)])
    joiner.add(impression(1, "u", ["a"], 99))
    pending.match(joiner, lambda i, c: scored.append((i.impression_id, c.event_id)))
    assert scored == [("imp1", "c1")] and len(pending) == 1
    pending.advance(120)  # busy stream, 20 s of event time later: still waiting
    assert pending.expire() == 0 and len(pending) == 1
    pending.advance(131)  # 31 s behind the clock: organic
    assert pending.expire() == 1 and len(pending) == 0


def test_pending_clicks_are_bounded_and_survive_a_checkpoint() -> None:
    import json

    from streamrec.app.feedback import PendingClicks

    pending = PendingClicks(horizon_s=1e9, max_clicks=3)
    assert pending.add([click(n, "u", "a", float(n)) for n in range(5)]) == 2
    assert [c.event_id for c in pending.clicks] == ["c2", "c3", "c4"]
    restored = PendingClicks(horizon_s=1e9, max_clicks=3)
    restored.load(json.loads(json.dumps(pending.state())))
    assert [c.event_id for c in restored.clicks] == ["c2", "c3", "c4"]
    assert restored.clock == 4.0
    restored.load([click(9, "u", "a", 50.0).model_dump_json()])  # an older checkpoint's list
    assert restored.clock == 50.0 and len(restored) == 1
    with pytest.raises(ValueError, match="horizon_s"):
        PendingClicks(horizon_s=-1)


def test_the_joiner_forgets_impressions_and_users_past_its_bound() -> None:
    joiner = ClickJoiner(max_impressions=5, per_user=2)
    for n in range(100):
        joiner.add(impression(n, f"u{n % 30}", ["a"], float(n)))
    assert len(joiner.by_id) == 5
    assert sum(len(q) for s in joiner.by_user.values() for q in s.values()) <= 5
    assert len(joiner.by_user) <= 5
