"""The worker's pure pieces: records to events, duplicates, and what it has processed."""

from types import SimpleNamespace

from streamrec.app.worker.decode import deduplicate, parse
from streamrec.app.worker.progress import Progress
from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import ClickEvent, ReviewEvent

REVIEWS, CLICKS = "t.reviews", "t.clicks"


def record(topic: str, offset: int, value: bytes | None, partition: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        topic=topic, partition=partition, offset=offset, value=value, key=b"u", timestamp=0
    )


def review(event_id: str, text: str = "Great strings") -> bytes:
    return ReviewEvent(event_id=event_id, user_id="u", item_id="i", text=text, ts=1).to_json()


def test_bad_records_become_dead_letters_and_texts_are_cleaned() -> None:
    click = ClickEvent(event_id="c1", user_id="u", item_id="i", ts=1).to_json()
    records = [
        record(REVIEWS, 0, review("r1", "  Bright <b>tone</b> ")),
        record(REVIEWS, 1, None),
        record(REVIEWS, 2, click),
        record(CLICKS, 0, click),
        record(REVIEWS, 3, review("r2", "<br>")),
    ]
    parsed = parse(records, REVIEWS, max_text_chars=100, generation=3)  # type: ignore[arg-type]
    assert parsed.texts == ["Bright tone"] and parsed.generation == 3
    assert [(r.offset, i) for r, _, i in parsed.events] == [(0, 0), (0, -1)]
    assert [r.offset for r, _ in parsed.dead] == [1, 2, 3]
    assert "null value" in parsed.dead[0][1] and "empty after cleaning" in parsed.dead[2][1]


def test_duplicates_are_dropped_and_said_so() -> None:
    dedup = DedupWindow(10)
    records = [
        record(REVIEWS, 0, review("r1")),
        record(REVIEWS, 1, review("r2")),
        record(REVIEWS, 2, review("r1")),
    ]
    parsed = parse(records, REVIEWS, 100, 0)  # type: ignore[arg-type]
    decoded = deduplicate(parsed, dedup)
    assert [e.event_id for e in decoded.events] == ["r1", "r2"]
    assert decoded.text_rows == [0, 1] and decoded.duplicates == 1
    assert "duplicate event_id 'r1'" in decoded.dead[0][1]


def test_progress_advances_offsets_and_forgets_a_partition() -> None:
    progress = Progress(DedupWindow(10), owned={0, 1})
    progress.dedup.add("e1", "u", 1)
    progress.advance(
        [
            record(REVIEWS, 4, b"", 0),
            record(CLICKS, 7, b"", 1),  # type: ignore[list-item]
            record(REVIEWS, 2, b"", 0),
        ]
    )  # type: ignore[list-item]
    assert progress.offsets == {"t.reviews:0": 5, "t.clicks:1": 8}
    assert progress.offsets_of(1) == {"t.clicks:1": 8}
    progress.forget_partition(1)
    assert progress.offsets == {"t.reviews:0": 5} and progress.owned == {0}
    assert "e1" not in progress.dedup


def test_deletion_requests_are_parsed_and_bad_ones_become_dead_letters() -> None:
    from streamrec.core.events import DeletionEvent

    deletions = "t.deletions"
    records = [
        record(REVIEWS, 0, review("r1")),
        record(deletions, 0, DeletionEvent(user_id="u", ts=2).to_json()),
        record(deletions, 1, b'{"type": "deletion", "user_id": "u"}'),
        record(deletions, 2, review("r2")),  # a review on the deletions topic
    ]
    parsed = parse(records, REVIEWS, 100, 0, deletions)  # type: ignore[arg-type]
    assert parsed.erase == ["u"] and len(parsed.events) == 1
    assert [r.offset for r, _ in parsed.dead] == [1, 2]
    assert "ts" in parsed.dead[0][1]


def test_a_deletion_request_ends_its_batch() -> None:
    from streamrec.app.worker.reader import BatchReader
    from streamrec.core.ordering import EventTimeMerger

    def at(topic: str, offset: int, ts: int) -> SimpleNamespace:
        return SimpleNamespace(**{**vars(record(topic, offset, b"")), "timestamp": ts})

    merger = EventTimeMerger()
    merger.add((REVIEWS, 0), [at(REVIEWS, 0, 10), at(REVIEWS, 1, 30)])
    merger.add(("t.deletions", 0), [at("t.deletions", 0, 20)])
    reader = BatchReader(64, 0, REVIEWS, merger, lambda: False, "t.deletions")
    batch = merger.take(256, lambda tp: True, stop=reader._review_counter())
    assert [(r.topic, r.timestamp) for r in batch] == [(REVIEWS, 10), ("t.deletions", 20)]
    assert len(merger) == 1  # the later review waits for the next batch
