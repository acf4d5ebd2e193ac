"""The in-process served replay: skipping lists nobody can read changes nothing served, and
one engine both scored and served ranks as two."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamrec.core.events import ReviewEvent
from streamrec.evaluation.datasets import Interaction
from streamrec.evaluation.replay import EngineModel, model_label, replay
from streamrec.evaluation.served import ScoredAndServed, ServedModel
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream

# HNSW above 10 items and a real candidate subset: the index is queried in both models
CONFIG = EngineConfig(n_clusters=3, candidates=8, ann_exact_below=10, cluster_refresh_events=20)


class EveryList(ServedModel):
    """Builds every list after every event (the trending list too), as before lists
    nobody reads were skipped or built when read."""

    def observe(self, interaction: Interaction, vector: np.ndarray | None) -> None:
        for event in interaction.events():
            self._apply([event], [vector if isinstance(event, ReviewEvent) else None], None)
            assert self.trending is not None  # built now, right after the event


class CountingTrending(ServedModel):
    """Counts the serves that fell back to the trending list (built when read)."""

    reads = 0

    @property
    def trending(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().trending


def test_lists_of_the_interaction_s_first_event_are_not_built_and_nothing_served_changes() -> None:
    """Neither a superseded event's lists nor a trending list before it is read: the
    served answers (those that fell back to trending included) are the same."""
    interactions, vectors = synthetic_stream(300, items=30)
    skipping = CountingTrending(Engine(16, CONFIG))
    every = EveryList(Engine(16, CONFIG), "every")
    result = replay(interactions, vectors, [], [skipping, every])
    assert len(result.index) > 100
    assert result.ranks["streamrec-served"] == result.ranks["every"]
    assert result.tops["streamrec-served"] == result.tops["every"]
    assert skipping.engine.clock == every.engine.clock == 600
    assert skipping.reads > 0  # some served users had no list of their own or cluster's
    for mine, theirs in (
        (skipping.user_recs, every.user_recs),
        (skipping.cluster_recs, every.cluster_recs),
        (skipping.group_recs, every.group_recs),
        ({0: skipping.trending}, {0: every.trending}),
    ):
        assert {k: v.model_dump() for k, v in mine.items()} == {
            k: v.model_dump() for k, v in theirs.items()
        }


def test_a_superseded_batch_builds_no_user_list_and_leaves_the_model_as_a_full_one() -> None:
    interactions, vectors = synthetic_stream(60)
    engines = Engine(16, CONFIG), Engine(16, CONFIG)
    none = np.zeros((0, 16), dtype=np.float32)
    for interaction, vector in zip(interactions, vectors, strict=True):
        click, review = interaction.events()
        quiet = engines[0].apply([click], none, superseded=True)
        loud = engines[1].apply([click], none)
        assert not quiet.user_recs and not quiet.recent_items and quiet.trending is None
        assert loud.user_recs and loud.trending is not None
        assert quiet.cluster_recs.keys() == loud.cluster_recs.keys()
        after = [e.apply([review], vector[None]) for e in engines]
        assert after[0].user_recs == after[1].user_recs
        assert after[0].trending == after[1].trending


def test_one_engine_scored_and_served_ranks_as_an_engine_and_a_served_model() -> None:
    """Every strategy and the served list rank as from two engines, each fed every event
    (the HNSW index and the candidate cut are used: the lists query the index between
    the strategies' serves)."""
    interactions, vectors = synthetic_stream(300, items=30)
    strategies = ["user", "cluster", "rerank", "trending"]
    both = ScoredAndServed(Engine(16, replace(CONFIG, explain_top=0)), strategies)
    scored = EngineModel(Engine(16, CONFIG), strategies, prefix="two-")
    served = ServedModel(Engine(16, replace(CONFIG, explain_top=0)), "two-served")
    result = replay(interactions, vectors, [both, scored], [both, served])
    assert len(result.index) > 100
    for name in strategies:
        assert result.ranks[f"streamrec-{name}"] == result.ranks[f"two-{name}"]
        assert result.tops[f"streamrec-{name}"] == result.tops[f"two-{name}"]
    assert result.ranks["streamrec-served"] == result.ranks["two-served"]
    assert result.tops["streamrec-served"] == result.tops["two-served"]
    assert len(set(result.ranks["streamrec-served"])) > 3  # lists were served, not misses
    assert both.engine.clock == both.delivered == served.engine.clock == 600  # fed once
    assert both.engine.candidates.index.built
    assert np.array_equal(both.engine.ranker.weights, scored.engine.ranker.weights)
    label = "streamrec-user + streamrec-cluster + streamrec-rerank + streamrec-trending"
    assert model_label(both) == f"{label} + streamrec-served"
    two = "two-user + two-cluster + two-rerank + two-trending"
    assert set(result.seconds) >= {model_label(both), "two-served", two}
