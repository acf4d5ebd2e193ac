"""Every mergeable class merges every part of its state: a new field in ``state()`` without
a rule in ``merge(base, mine, theirs)`` fails here instead of being taken from one side."""

import copy

from streamrec.checkpointing.sync import MERGED, MINE
from streamrec.clustering.labels import ClusterLabeler
from streamrec.model.engine import Engine
from streamrec.model.items import ItemStats
from streamrec.model.ranker import OnlineRanker
from streamrec.model.signals import ItemSignals
from tests.streamrec.checkpointing.test_sync import engine, events, feed


def states() -> tuple[dict, dict, dict, Engine]:
    a, b = engine(), engine()
    for worker in (a, b):
        feed(worker, events(0, 20, range(4)))
    base = copy.deepcopy(a.shared_state())
    feed(a, events(20, 10, range(0, 2)))
    feed(b, events(30, 10, range(2, 4)))
    return base, a.shared_state(), b.shared_state(), a


def test_each_part_merges_into_the_keys_its_state_has() -> None:
    base, mine, theirs, worker = states()
    clocks = (base["clock"], mine["clock"], theirs["clock"], mine["clock"] + 10)
    merged = {
        "clusterer": worker.clusterer.merge(
            base["clusterer"], mine["clusterer"], theirs["clusterer"]
        ),
        "items": ItemStats.merge(base["items"], mine["items"], theirs["items"], clocks=clocks),
        "ranker": OnlineRanker.merge(base["ranker"], mine["ranker"], theirs["ranker"]),
    }
    order = {i: n for n, i in enumerate(merged["items"]["vectors"]["ids"])}
    merged["signals"] = ItemSignals.merge(
        base["signals"],
        mine["signals"],
        theirs["signals"],
        order=order,
        item_ids=tuple(s["items"]["vectors"]["ids"] for s in (base, mine, theirs)),
    )
    for part, value in merged.items():
        assert value.keys() == mine[part].keys(), part
    assert merged["items"]["vectors"].keys() == mine["items"]["vectors"].keys()
    labels = ClusterLabeler.merge(base["labeler"], mine["labeler"], theirs["labeler"])
    assert labels and all(
        entry.keys() == next(iter(mine["labeler"].values())).keys() for entry in labels.values()
    )


def test_every_part_of_the_shared_state_has_a_rule() -> None:
    _, mine, _, _ = states()
    assert set(mine) == set(MERGED) | set(MINE)
    assert not set(MERGED) & set(MINE)
