"""Strategies scored through SharedReads rank exactly as when they read the engine."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.evaluation.debias import debias_sweep
from streamrec.evaluation.replay import EngineModel, replay
from streamrec.evaluation.shared_reads import SharedReads
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from tests.streamrec.evaluation.evaluation_data import synthetic_stream

STRATEGIES = ["user", "cluster", "rerank", "trending"]
# two-stage lists over an HNSW index: the learned blend's candidates are a real subset
CONFIG = EngineConfig(n_clusters=3, candidates=8, ann_exact_below=10)


class DirectModel(EngineModel):
    """The same model, every strategy reading the engine itself (no shared reads)."""

    def strategies(self):  # type: ignore[no-untyped-def]
        return {
            f"{self.prefix}{name}": (
                lambda user, n=name: self.engine.strategies[n].scores(self.engine, user, None)
            )
            for name in self.names
        }


def test_shared_reads_rank_as_the_engine_itself() -> None:
    interactions, vectors = synthetic_stream(300, items=30)
    shared = EngineModel(Engine(16, CONFIG), STRATEGIES)
    direct = DirectModel(Engine(16, CONFIG), STRATEGIES, prefix="direct-")
    strengths = (0.0, 0.5)
    sweep = debias_sweep(shared.view, strengths)
    sweep |= {f"direct-{k}": v for k, v in debias_sweep(direct.engine, strengths).items()}
    result = replay(interactions, vectors, [shared, direct], extras=sweep)
    assert len(result.index) > 100
    for name in STRATEGIES:
        assert result.ranks[f"streamrec-{name}"] == result.ranks[f"direct-{name}"]
        assert result.tops[f"streamrec-{name}"] == result.tops[f"direct-{name}"]
    for name in list(sweep)[: len(strengths)]:
        assert result.extra_ranks[name] == result.extra_ranks[f"direct-{name}"]
    # the sweep at strength 0 is the user strategy, read from the same shared blend
    assert result.extra_ranks["streamrec-user-debias-0"] == result.ranks["streamrec-user"]


def test_a_read_is_shared_until_the_engine_moves() -> None:
    interactions, vectors = synthetic_stream(40)
    engine = Engine(16, CONFIG)
    view = SharedReads(engine)
    model = EngineModel(engine, ["user"])
    model.observe(interactions[0], vectors[0])
    before = view.trending_scores()
    assert view.trending_scores() is before
    with pytest.raises(ValueError):
        before[0] = 1.0  # shared by every strategy of the serve: read-only
    user = interactions[0].user_id
    assert view.learned_scores(user) is view.learned_scores(user)
    cluster = engine.user_cluster(user)
    assert cluster is not None
    assert view.centroid_scores(cluster) is view.centroid_scores(cluster)
    assert view.centroid_scores(10**6) is None  # no such cluster
    for interaction, vector in zip(interactions[1:], vectors[1:], strict=True):
        model.observe(interaction, vector)
    after = view.trending_scores()
    assert after is not before
    np.testing.assert_array_equal(after, engine.trending_scores())
    np.testing.assert_array_equal(view.learned_scores(user), engine.learned_scores(user))
