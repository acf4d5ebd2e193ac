"""Records to events: validate and clean (bad ones become dead letters), then drop
events the dedup window has seen."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.consumer.fetcher import ConsumerRecord

from streamrec.checkpointing.dedup import DedupWindow
from streamrec.core.events import (
    ClickEvent,
    InvalidEvent,
    ReviewEvent,
    parse_deletion,
    parse_event,
)
from streamrec.core.text import clean_text


@dataclass
class Parsed:
    """A micro-batch validated and cleaned: events with their texts, and dead letters."""

    records: list[ConsumerRecord]
    events: list[tuple[ConsumerRecord, ReviewEvent | ClickEvent, int]] = field(
        default_factory=list
    )  # (record, event, index of its text or -1)
    texts: list[str] = field(default_factory=list)
    dead: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    generation: int = 0  # the assignment it was read under
    erase: list[str] = field(default_factory=list)  # users of the batch's deletion requests


@dataclass
class Decoded:
    """A batch ready for the engine: new events, their partitions and which of the
    batch's embedded texts belong to the kept reviews."""

    events: list[ReviewEvent | ClickEvent] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    text_rows: list[int] = field(default_factory=list)
    dead: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    duplicates: int = 0


def parse(
    records: list[ConsumerRecord],
    reviews_topic: str,
    max_text_chars: int,
    generation: int,
    deletions_topic: str | None = None,
) -> Parsed:
    """Validate and clean (no state changes); bad records become dead letters."""
    parsed = Parsed(records, generation=generation)
    for record in records:
        expected = ReviewEvent if record.topic == reviews_topic else ClickEvent
        try:
            if record.value is None:
                raise InvalidEvent("empty message (null value)")
            if record.topic == deletions_topic:
                parsed.erase.append(parse_deletion(record.value).user_id)
                continue
            event = parse_event(record.value, expected)
            text_index = -1
            if isinstance(event, ReviewEvent):
                text = clean_text(event.text, max_text_chars)
                if not text:
                    raise InvalidEvent("text is empty after cleaning")
                text_index = len(parsed.texts)
                parsed.texts.append(text)
        except InvalidEvent as error:
            parsed.dead.append((record, error.reason))
            continue
        parsed.events.append((record, event, text_index))  # type: ignore[arg-type]
    return parsed


def deduplicate(parsed: Parsed, dedup: DedupWindow) -> Decoded:
    """Drop events seen before (they become dead letters that say so)."""
    decoded = Decoded(dead=list(parsed.dead))
    for record, event, text_index in parsed.events:
        if not dedup.add(event.event_id, event.user_id, record.partition):
            decoded.duplicates += 1
            decoded.dead.append((record, f"duplicate event_id {event.event_id!r}"))
            continue
        decoded.events.append(event)
        decoded.partitions.append(record.partition)
        if text_index >= 0:
            decoded.text_rows.append(text_index)
    return decoded
