"""What every command shares: settings and the process tuning they ask for."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import numpy as np
import pytest
from pydantic import ValidationError
from threadpoolctl import threadpool_info, threadpool_limits

from streamrec.cli.common import load_settings


@pytest.fixture
def thresholds() -> Iterator[None]:
    """The collector's thresholds as they were before the test."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


@pytest.fixture
def blas() -> Iterator[None]:
    """Two BLAS threads and no OPENBLAS_NUM_THREADS to begin with; both as they were
    after the test."""
    variable = os.environ.pop("OPENBLAS_NUM_THREADS", None)
    before = threadpool_limits(limits=2, user_api="blas")
    yield
    before.restore_original_limits()
    os.environ.pop("OPENBLAS_NUM_THREADS", None)
    if variable is not None:
        os.environ["OPENBLAS_NUM_THREADS"] = variable


def blas_threads() -> set[int]:
    """The thread counts of the process's BLAS libraries (numpy's is one of them)."""
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


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


def test_commands_keep_blas_to_one_thread_by_default(thresholds: None, blas: None) -> None:
    assert blas_threads() == {2}
    assert load_settings().blas_threads == 1
    assert blas_threads() == {1}
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"  # for BLAS libraries loaded later
    a = np.ones((300, 300))
    assert float((a @ a)[0, 0]) == 300.0  # products still run


def test_blas_threads_follow_the_setting(
    thresholds: None, blas: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_BLAS_THREADS", "3")
    load_settings()
    assert blas_threads() == {3}


def test_blas_threads_zero_keeps_the_librarys_own(
    thresholds: None, blas: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_BLAS_THREADS", "0")
    load_settings()
    assert blas_threads() == {2}
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_negative_blas_threads_are_refused(
    thresholds: None, blas: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMREC_BLAS_THREADS", "-1")
    with pytest.raises(ValidationError, match="blas_threads"):
        load_settings()
    assert blas_threads() == {2}
