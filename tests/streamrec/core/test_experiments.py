from collections import Counter

import pytest
from pydantic import ValidationError

from streamrec.core.events import ImpressionEvent, parse_event
from streamrec.core.experiments import Arm, Experiment, assign_arm
from streamrec.core.settings import Settings


def two_arms(share_b: float = 1.0, name: str = "e1") -> Experiment:
    return Experiment(
        name=name,
        arms=[Arm(name="a", strategy="user"), Arm(name="b", strategy="trending", share=share_b)],
    )


def test_assignment_is_stable_and_follows_the_shares() -> None:
    exp = two_arms(share_b=3.0)
    arms = [assign_arm(exp, f"u{n}").name for n in range(8000)]
    assert arms == [assign_arm(exp, f"u{n}").name for n in range(8000)]
    assert Counter(arms)["b"] / len(arms) == pytest.approx(0.75, abs=0.02)


def test_experiments_split_users_independently() -> None:
    first, second = two_arms(name="e1"), two_arms(name="e2")
    same = sum(
        assign_arm(first, f"u{n}").name == assign_arm(second, f"u{n}").name for n in range(4000)
    )
    assert same / 4000 == pytest.approx(0.5, abs=0.04)


def test_bad_experiments_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        Experiment(name="e", arms=[Arm(name="a"), Arm(name="a")])
    with pytest.raises(ValidationError):
        Experiment(name="e", arms=[Arm(name="a")])
    with pytest.raises(ValidationError):
        Arm(name="a", share=0)
    with pytest.raises(ValidationError):
        Arm(name="a", strategy="magic")  # type: ignore[arg-type]


def test_settings_read_experiments_as_json(monkeypatch) -> None:
    monkeypatch.setenv(
        "STREAMREC_EXPERIMENTS",
        '[{"name": "e1", "arms": [{"name": "a"}, {"name": "b", "strategy": "cluster"}]}]',
    )
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.experiments[0].arms[1].strategy == "cluster"
    # what subprocesses get (to_env) reads back to the same experiments
    monkeypatch.setenv("STREAMREC_EXPERIMENTS", settings.to_env()["STREAMREC_EXPERIMENTS"])
    assert Settings(_env_file=None).experiments == settings.experiments  # type: ignore[call-arg]


def test_impressions_carry_the_arm() -> None:
    imp = ImpressionEvent(
        impression_id="i", user_id="u", items=["x"], strategy="user", ts=1, experiment="e", arm="a"
    )
    assert parse_event(imp.to_json()) == imp
    plain = ImpressionEvent(impression_id="i", user_id="u", items=["x"], strategy="user", ts=1)
    assert b"arm" not in plain.to_json()
