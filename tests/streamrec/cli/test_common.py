"""What every command shares: settings and the process tuning they ask for."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from streamrec.cli.common import load_settings


@pytest.fixture
def thresholds() -> Iterator[None]:
    """The collector's thresholds as they were before the test."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_commands_collect_young_garbage_at_the_settings_threshold(
    thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_GC_THRESHOLD", "12345")
    assert load_settings().gc_threshold == 12_345
    assert gc.get_threshold() == (12_345, 10, 10)  # the older generations keep theirs


def test_the_default_threshold_is_the_workers(thresholds: None) -> None:
    load_settings()
    assert gc.get_threshold() == (50_000, 10, 10)


def test_threshold_zero_keeps_the_processs_own(
    thresholds: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_GC_THRESHOLD", "0")
    load_settings()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_negative_threshold_is_refused(thresholds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMREC_GC_THRESHOLD", "-1")
    with pytest.raises(ValidationError, match="gc_threshold"):
        load_settings()
    assert gc.get_threshold() == (700, 10, 10)
