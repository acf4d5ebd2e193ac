import pytest

from streamrec.app.ab_tracking import ArmScores
from streamrec.core.events import ClickEvent, ImpressionEvent


def impression(n: int, arm: str | None, items=("a", "b", "c")) -> ImpressionEvent:
    return ImpressionEvent(
        impression_id=f"i{n}",
        user_id="u",
        items=list(items),
        strategy="user",
        ts=n,
        experiment="e" if arm else None,
        arm=arm,
    )


def click(item: str) -> ClickEvent:
    return ClickEvent(event_id=f"c-{item}", user_id="u", item_id=item, ts=9)


def test_each_impression_counts_once_and_only_its_first_click() -> None:
    scores = ArmScores()
    first, plain = impression(1, "b"), impression(2, None)
    for event in (first, first, plain, impression(3, "a")):
        scores.observe_impression(event)
    scores.observe_click(first, click("b"))  # rank 2
    scores.observe_click(first, click("a"))  # a second click on the same list
    scores.observe_click(plain, click("a"))  # outside any experiment
    arms = scores.totals["e"]
    assert (arms["b"].impressions, arms["b"].clicked, arms["a"].impressions) == (1, 1, 1)
    assert arms["b"].ndcg_sum == pytest.approx(1 / 1.5849625, rel=1e-6)  # 1/log2(3)
    served = scores.totals["strategies"]["user"]  # every impression counts for its strategy
    assert (served.impressions, served.clicked) == (3, 2)


def test_state_round_trip_and_control_first() -> None:
    scores = ArmScores()
    for n, arm in enumerate(["treat", "control", "treat"]):
        scores.observe_impression(impression(n, arm))
    restored = ArmScores()
    restored.load(scores.state())
    assert restored.totals == scores.totals and restored.open == scores.open
    report = restored.report(0.05, 1, {"e": ["control", "treat"]})
    assert list(report["e"]["arms"]) == ["control", "treat"]
    assert report["e"]["comparisons"][0]["control"] == "control"
