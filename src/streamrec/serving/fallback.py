"""The fallback chain readers apply: the user's list, else their cluster's, else their
cluster's parent group's, else trending.

A cluster with too few users has no list of its own
(``STREAMREC_GROUP_MIN_CLUSTER_USERS``), so its users get the coarser list of
the interest group it belongs to.

Pure (no Redis): the client feeds it what it read, in-process replays what
the engine produced. Items in ``seen`` (the user's recent items) are dropped
at every level; a level left empty by that falls through to the next.

>>> from streamrec.serving.schema import RecList, ScoredItem
>>> trending = RecList(strategy="trending", level="trending", as_of=0.0,
...                    items=[ScoredItem(item_id=i, score=1.0) for i in "abc"])
>>> answer = fallback("u1", 2, None, None, lambda cluster_id: None, lambda: trending)
>>> answer.level, answer.item_ids()
('trending', ['a', 'b'])
>>> fallback("u1", 2, None, None, lambda c: None, lambda: trending, seen={"a"}).item_ids()
['b', 'c']
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from streamrec.serving.schema import Assignment, RecList


@dataclass(frozen=True)
class Answer:
    """A list and the level of the fallback chain that produced it."""

    level: str  # "user" | "cluster" | "group" | "trending" | "none"
    recs: RecList | None
    cluster_id: int | None = None

    def item_ids(self) -> list[str]:
        return [] if self.recs is None else self.recs.item_ids()


def fallback(
    user_id: str,
    k: int | None,
    user_recs: RecList | None,
    assignment: Assignment | None,
    cluster_recs: Callable[[int], RecList | None],
    trending: Callable[[], RecList | None],
    group_recs: Callable[[int], RecList | None] = lambda cluster_id: None,
    seen: Collection[str] = (),
) -> Answer:
    """The fallback chain, shared by the Redis client and in-process replays.

    ``group_recs`` maps a cluster id to the list of its parent group.
    """
    cluster_id = assignment.cluster_id if assignment else None
    user_recs = _unseen(user_recs, seen)
    if user_recs is not None and user_recs.items:
        return Answer(
            "user",
            _cut(user_recs, k),
            cluster_id if cluster_id is not None else user_recs.cluster_id,
        )
    if cluster_id is not None:
        recs = _unseen(cluster_recs(cluster_id), seen)
        if recs is not None and recs.items:
            return Answer("cluster", _cut(recs, k), cluster_id)
        recs = _unseen(group_recs(cluster_id), seen)
        if recs is not None and recs.items:
            return Answer("group", _cut(recs, k), cluster_id)
    recs = _unseen(trending(), seen)
    if recs is not None:
        return Answer("trending", _cut(recs, k), cluster_id)
    return Answer("none", None, cluster_id)


def _unseen(recs: RecList | None, seen: Collection[str]) -> RecList | None:
    """The list without the user's own items (unchanged when none is in it)."""
    if recs is None or not seen or not any(e.item_id in seen for e in recs.items):
        return recs
    return recs.model_copy(update={"items": [e for e in recs.items if e.item_id not in seen]})


def _cut(recs: RecList, k: int | None) -> RecList:
    if k is None or len(recs.items) <= k:
        return recs
    return recs.model_copy(update={"items": recs.items[:k]})
