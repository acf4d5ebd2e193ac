"""A replay split over two processes gives the one-process result to the byte."""

from __future__ import annotations

import gc
import json

import pytest

from streamrec.evaluation.baselines import PopularityModel
from streamrec.evaluation.parallel import replay_split
from streamrec.evaluation.replay import EngineModel
from streamrec.evaluation.report import write_report
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream
from tests.streamrec.evaluation.test_evaluation import evaluate_synthetic


def test_two_processes_write_the_report_of_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one, two = evaluate_synthetic(240, 100, workers=1), evaluate_synthetic(240, 100, workers=2)
    assert list(two.result.ranks) == list(one.result.ranks)  # the same order of strategies
    assert two.clocks == one.clocks and set(one.clocks.values()) == {480}
    write_report(one, tmp_path / "one")
    write_report(two, tmp_path / "two")
    for name in ("metrics.json", "fairness.json"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    # each model's time comes back from whichever process ran it
    assert set(two.model_seconds) == set(one.model_seconds)
    timing = json.loads((tmp_path / "two" / "timing.json").read_text())
    assert timing["model_seconds"] == two.model_seconds


class Failing(PopularityModel):
    def observe(self, interaction, vector) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("broken model")


def test_a_failure_in_the_second_process_is_raised_here() -> None:
    interactions, vectors = synthetic_stream(20)
    models = [EngineModel(Engine(16), ["user"]), Failing([100.0])]  # the failing one goes away
    with pytest.raises(RuntimeError, match="broken model"):
        replay_split(interactions, vectors, models, workers=2, anchor=models[:1])


class ReportsCollector(PopularityModel):
    def observe(self, interaction, vector) -> None:  # type: ignore[no-untyped-def]
        raise ValueError(f"collector thresholds {gc.get_threshold()}")


def test_the_second_process_collects_garbage_as_this_one() -> None:
    interactions, vectors = synthetic_stream(20)
    models = [EngineModel(Engine(16), ["user"]), ReportsCollector([100.0])]
    before = gc.get_threshold()
    gc.set_threshold(12_345, 11, 12)
    try:
        with pytest.raises(RuntimeError, match=r"collector thresholds \(12345, 11, 12\)"):
            replay_split(interactions, vectors, models, workers=2, anchor=models[:1])
    finally:
        gc.set_threshold(*before)


def test_an_engine_wrapped_twice_is_refused_before_splitting() -> None:
    interactions, vectors = synthetic_stream(20)
    engine = Engine(16)
    models = [EngineModel(engine, ["user"]), EngineModel(engine, ["cluster"])]
    with pytest.raises(RuntimeError, match="wrapped by two models"):
        replay_split(interactions, vectors, models, workers=2)
