"""Shared lists split among the workers of a group (``refresh.ListShare``)."""

import pytest

from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine
from streamrec.model.refresh import ListShare
from tests.streamrec.model.test_engine import EMBED, ReviewEvent, stream


def engine(share: ListShare | None) -> Engine:
    config = EngineConfig(
        n_clusters=4,
        cluster_refresh_events=10,
        recs_length=5,
        cluster_groups=2,
        group_min_cluster_users=0,
    )
    model = Engine(64, config)
    model.list_share = share
    return model


def dumps(lists: dict) -> dict:
    return {key: recs.model_dump() for key, recs in lists.items()}


def test_two_halves_build_each_shared_list_once_and_as_one_engine_would() -> None:
    whole = engine(None)
    even, odd = (engine(ListShare(frozenset({n}), 2)) for n in (0, 1))
    built: dict[str, set[int]] = {"even": set(), "odd": set()}
    events = stream()
    for start in range(0, len(events), 10):
        chunk = events[start : start + 10]
        vectors = EMBED.encode([e.text for e in chunk if isinstance(e, ReviewEvent)])
        full, a, b = (model.apply(chunk, vectors) for model in (whole, even, odd))
        for kind in ("cluster_recs", "group_recs"):
            mine, theirs = dumps(getattr(a, kind)), dumps(getattr(b, kind))
            assert not set(mine) & set(theirs)  # one builder per list
            assert {**mine, **theirs} == dumps(getattr(full, kind))
            assert all(n % 2 == 0 for n in mine) and all(n % 2 == 1 for n in theirs)
        built["even"].update(a.cluster_recs)
        built["odd"].update(b.cluster_recs)
        assert a.trending is not None and b.trending is None  # partition 0's owner
        assert a.trending.model_dump() == full.trending.model_dump()  # type: ignore[union-attr]
        assert b.clusters is None and (a.clusters is None) == (full.clusters is None)
        # the model and the users' lists do not depend on the share
        assert dumps(a.user_recs) == dumps(b.user_recs) == dumps(full.user_recs)
    assert built["even"] and built["odd"]  # both halves had lists to build


def test_a_share_follows_the_partitions_owned() -> None:
    assert ListShare.of({0, 1, 2}, 3) is None  # alone: every list
    assert ListShare.of(set(), 0) is None  # the partitions not known yet
    share = ListShare.of({1, 2}, 4)
    assert share is not None
    assert [n for n in range(8) if share.owns(n)] == [1, 2, 5, 6]
    assert not share.owns_singletons()
    assert ListShare.of(set(), 2) == ListShare(frozenset(), 2)  # owns nothing: builds none
    with pytest.raises(ValueError, match="partitions"):
        ListShare(frozenset(), 0)
