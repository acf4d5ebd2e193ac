"""The fallback chain without Redis: user, cluster, group, trending, then nothing."""

from streamrec.serving.fallback import fallback
from streamrec.serving.schema import Assignment, RecList, ScoredItem


def recs(level: str, *items: str) -> RecList:
    return RecList(
        strategy=level,
        level=level,
        as_of=1.0,  # type: ignore[arg-type]
        items=[ScoredItem(item_id=i, score=1.0) for i in items],
    )


def test_each_level_answers_when_the_one_above_has_nothing() -> None:
    cluster = {4: recs("cluster", "c1", "c2", "c3")}
    trending = recs("trending", "t1")
    assigned = Assignment(cluster_id=4, similarity=0.9, as_of=1.0)

    def answer(user: RecList | None, assignment: Assignment | None, top: RecList | None):
        return fallback("u", 2, user, assignment, cluster.get, lambda: top)

    full = answer(recs("user", "u1"), assigned, trending)
    assert (full.level, full.item_ids(), full.cluster_id) == ("user", ["u1"], 4)
    empty_user = answer(recs("user"), assigned, trending)
    assert (empty_user.level, empty_user.item_ids()) == ("cluster", ["c1", "c2"])  # cut to k
    assert answer(None, None, trending).level == "trending"
    nothing = answer(None, None, None)
    assert (nothing.level, nothing.item_ids()) == ("none", [])


def test_produced_at_is_left_to_the_store() -> None:
    assert recs("user", "a").produced_at == 0.0


def test_a_cluster_without_a_list_falls_back_to_its_group() -> None:
    assigned = Assignment(cluster_id=4, similarity=0.9, as_of=1.0)
    groups = {4: recs("group", "g1", "g2", "g3")}  # cluster id -> its group's list
    trending = recs("trending", "t1")
    answer = fallback("u", 2, None, assigned, {}.get, lambda: trending, groups.get)
    assert (answer.level, answer.item_ids(), answer.cluster_id) == ("group", ["g1", "g2"], 4)
    own = {4: recs("cluster", "c1")}
    listed = fallback("u", 2, None, assigned, own.get, lambda: trending, groups.get)
    assert listed.level == "cluster"  # the cluster's own list comes first
    no_items = {4: recs("group")}
    assert fallback("u", 2, None, assigned, {}.get, lambda: trending, no_items.get).level == (
        "trending"
    )
    assert fallback("u", 2, None, assigned, {}.get, lambda: trending).level == "trending"


def test_no_level_serves_a_seen_item_and_an_emptied_level_falls_through() -> None:
    cluster = {4: recs("cluster", "a", "c1", "c2")}
    assigned = Assignment(cluster_id=4, similarity=0.9, as_of=1.0)
    seen = {"a", "b"}

    def answer(user: RecList | None, assignment: Assignment | None, top: RecList | None):
        return fallback("u", 2, user, assignment, cluster.get, lambda: top, seen=seen)

    trending = recs("trending", "b", "a", "t1")
    assert answer(recs("user", "a", "u1"), assigned, trending).item_ids() == ["u1"]
    assert answer(None, assigned, trending).item_ids() == ["c1", "c2"]  # cut after filtering
    assert answer(None, None, trending).item_ids() == ["t1"]
    emptied = answer(recs("user", "a", "b"), None, trending)
    assert (emptied.level, emptied.item_ids()) == ("trending", ["t1"])
    assert fallback("u", 2, None, None, cluster.get, lambda: trending).item_ids() == ["b", "a"]
