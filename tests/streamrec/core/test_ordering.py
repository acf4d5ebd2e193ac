from collections import namedtuple

from streamrec.core.ordering import EventTimeMerger

R = namedtuple("R", "timestamp offset")


def records(*timestamps: int, start: int = 0) -> list[R]:
    return [R(t, start + n) for n, t in enumerate(timestamps)]


def test_merges_by_time_then_partition_then_offset() -> None:
    merger = EventTimeMerger()
    merger.add(("b", 0), records(1, 3, 3))
    merger.add(("a", 1), records(2, 3))
    taken = merger.take(10, lambda p: True)
    assert [(r.timestamp, r.offset) for r in taken] == [(1, 0), (2, 0), (3, 1), (3, 1), (3, 2)]
    assert len(merger) == 0


def test_a_dry_partition_that_may_hold_older_records_blocks() -> None:
    merger = EventTimeMerger()
    merger.add("p0", records(5, 6))
    merger.add("p1", records(1))
    at_end = {"p0": False, "p1": False}
    order, status = merger.plan(10, lambda p: at_end[p], ["p0", "p1"])
    assert order == ["p1"] and status == "blocked"  # p1 ran dry after its one record
    at_end["p1"] = True
    assert merger.plan(10, lambda p: at_end[p], ["p0", "p1"]) == (["p1", "p0", "p0"], "blocked")
    at_end["p0"] = True
    assert merger.plan(10, lambda p: at_end[p], ["p0", "p1"])[1] == "exhausted"
    assert len(merger.take(10, lambda p: False, ["p0", "p1"], ignore_blocked=True)) == 3


def test_batches_are_the_same_however_records_arrive() -> None:
    """Cut into batches of 4, the sequence does not depend on fetch sizes."""
    streams = {"p0": records(1, 4, 4, 9, 12), "p1": records(2, 3, 8, 10, 11, 13)}

    def run(fetch: int) -> list[list[tuple[str, int]]]:
        merger, position, batches = EventTimeMerger(), dict.fromkeys(streams, 0), []
        at_end = lambda p: position[p] >= len(streams[p])  # noqa: E731
        while any(not at_end(p) for p in streams) or len(merger):
            for p, stream in streams.items():
                merger.add(p, stream[position[p] : position[p] + fetch])
                position[p] = min(len(stream), position[p] + fetch)
            while True:
                order, status = merger.plan(4, at_end, list(streams))
                if status == "blocked" or not order:
                    break
                batch = merger.take(4, at_end, list(streams))
                batches.append([(r.timestamp, r.offset) for r in batch])
        return batches

    assert run(1) == run(2) == run(100)


def test_stop_ends_a_batch_and_drop_forgets_partitions() -> None:
    merger = EventTimeMerger()
    merger.add("p", records(1, 2, 3))
    assert len(merger.take(10, lambda p: True, stop=lambda r: r.timestamp == 2)) == 2
    assert merger.drop(["p"]) == 1
    assert len(merger) == 0
