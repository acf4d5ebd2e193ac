"""Checkpoint pacing: the wait after a write stretches with the write, within bounds."""

from __future__ import annotations

import pytest

from streamrec.app.worker.pacing import CheckpointPacing
from streamrec.core.settings import Settings


@pytest.mark.parametrize("write_s", [0.0, 0.01, 0.4, 2.0, 5.9, 6.1, 100.0])
def test_the_wait_is_the_write_over_the_share_within_the_interval_and_the_cap(
    write_s: float,
) -> None:
    pacing = CheckpointPacing(interval_s=5.0, max_share=0.1, max_interval_s=60.0)
    wait = pacing.wrote(write_s)
    assert wait == pacing.wait_s
    assert 5.0 <= wait <= 60.0
    assert wait == pytest.approx(min(max(5.0, write_s / 0.1), 60.0))
    if 5.0 < wait < 60.0:  # stretched: checkpoints take exactly the share of the time
        assert write_s / wait == pytest.approx(0.1)


def test_the_stretch_follows_the_writes_moving_average() -> None:
    pacing = CheckpointPacing(interval_s=5.0, max_share=0.1, max_interval_s=60.0)
    assert pacing.wrote(3.0) == pytest.approx(30.0)  # the first write alone
    assert pacing.wrote(1.0) == pytest.approx(20.0)  # a fast one halves the way down
    assert pacing.wrote(1.0) == pytest.approx(15.0)
    for _ in range(20):  # fast writes bring the interval back
        pacing.wrote(0.02)
    assert pacing.wait_s == 5.0


@pytest.mark.parametrize(("interval", "share"), [(5.0, 0.0), (0.0, 0.1), (0.0, 0.0)])
def test_no_share_or_every_batch_keeps_the_configured_interval(
    interval: float, share: float
) -> None:
    pacing = CheckpointPacing(interval_s=interval, max_share=share)
    assert pacing.wrote(30.0) == interval
    assert pacing.wait_s == interval


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_s": 5.0, "max_share": 1.0},
        {"interval_s": 5.0, "max_share": -0.1},
        {"interval_s": -1.0},
        {"interval_s": 5.0, "max_interval_s": 0.0},
    ],
)
def test_bad_bounds_are_a_clear_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CheckpointPacing(**kwargs)


def test_settings_default_to_a_tenth_of_the_time_and_a_minute_at_most() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.checkpoint_max_share, settings.checkpoint_max_interval_s) == (0.1, 60.0)
    with pytest.raises(ValueError):
        Settings(_env_file=None, checkpoint_max_share=1.0)  # type: ignore[call-arg]
