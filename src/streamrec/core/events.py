"""Event schemas: the one module that defines what travels on the Kafka topics.

Every event is a JSON object with a ``type`` field (``review``, ``click`` or
``impression``). Validation is strict and the limits are part of the contract:

=============  ==========================================================
field          rule
=============  ==========================================================
ids            1..128 characters, no control characters, not blank
text           1..16384 characters, not whitespace-only, no NUL bytes
rating         optional, finite, 0 <= rating <= 5
ts             seconds since the Unix epoch, 0 <= ts < 4102444800 (2100)
items          impression lists hold 1..1000 item ids
=============  ==========================================================

Unknown fields are rejected (``extra="forbid"``): a producer that sends a
field StreamRec does not know about gets a dead letter instead of silently
losing data. Invalid UTF-8 and non-JSON payloads are rejected too.

>>> e = ReviewEvent(event_id="e1", user_id="u1", item_id="i1", text="Great strings", ts=1.0)
>>> parse_event(e.to_json()) == e
True
>>> parse_event(b'{"type": "click"}')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streamrec.core.events.InvalidEvent: ...
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 16384
MAX_IMPRESSION_ITEMS = 1000
MIN_RATING, MAX_RATING = 0.0, 5.0
MIN_TS, MAX_TS = 0.0, 4102444800.0  # 1970-01-01 .. 2100-01-01 UTC

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_id(value: str) -> str:
    if not value.strip():
        raise ValueError("id must not be blank")
    if _CONTROL.search(value):
        raise ValueError("id must not contain control characters")
    return value


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty or whitespace-only")
    if "\x00" in value:
        raise ValueError("text must not contain NUL bytes")
    return value


def _check_finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be finite")
    return value


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_check_id)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_check_text)]
Rating = Annotated[
    float | None, Field(default=None, ge=MIN_RATING, le=MAX_RATING), AfterValidator(_check_finite)
]
Timestamp = Annotated[float, Field(ge=MIN_TS, lt=MAX_TS), AfterValidator(_check_finite)]


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def to_json(self) -> bytes:
        """Serialise to the UTF-8 JSON bytes that go on the wire."""
        return self.model_dump_json(exclude_none=True).encode()


class ReviewEvent(_Event):
    """A user wrote a comment or review about an item."""

    type: Literal["review"] = "review"
    event_id: Id
    user_id: Id
    item_id: Id
    text: Text
    rating: Rating = None
    ts: Timestamp


class ClickEvent(_Event):
    """A user engaged with (clicked, bought, rated) an item."""

    type: Literal["click"] = "click"
    event_id: Id
    user_id: Id
    item_id: Id
    ts: Timestamp
    impression_id: Id | None = None


class ImpressionEvent(_Event):
    """A list of items was served to a user by a named strategy."""

    type: Literal["impression"] = "impression"
    impression_id: Id
    user_id: Id
    items: list[Id] = Field(min_length=1, max_length=MAX_IMPRESSION_ITEMS)
    strategy: Id
    ts: Timestamp
    experiment: Id | None = None  # the A/B experiment that chose the strategy, if any
    arm: Id | None = None

    @property
    def event_id(self) -> str:
        return self.impression_id


Event = Annotated[ReviewEvent | ClickEvent | ImpressionEvent, Field(discriminator="type")]
_EVENT_ADAPTER: TypeAdapter[ReviewEvent | ClickEvent | ImpressionEvent] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """A payload that is not a valid event; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _summarise(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "<root>"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_event(
    payload: bytes | str,
    expected: type[ReviewEvent | ClickEvent | ImpressionEvent] | None = None,
) -> ReviewEvent | ClickEvent | ImpressionEvent:
    """Parse JSON bytes into an event, or raise :class:`InvalidEvent`.

    ``expected`` rejects a valid event of the wrong kind, e.g. a click sent to
    the review topic.
    """
    try:
        event = _EVENT_ADAPTER.validate_json(payload)
    except ValidationError as error:
        raise InvalidEvent(_summarise(error)) from None
    except (ValueError, TypeError) as error:  # e.g. a payload of the wrong Python type
        raise InvalidEvent(f"not a JSON event: {error}") from None
    if expected is not None and not isinstance(event, expected):
        wanted = expected.model_fields["type"].default
        raise InvalidEvent(f"expected a {wanted} event, got {event.type}")
    return event


AnyEvent = ReviewEvent | ClickEvent | ImpressionEvent


class DeletionEvent(_Event):
    """``streamrec delete-user``: erase a user (on the deletions topic, keyed by user id,
    so the worker owning the user's partition applies it after their earlier events)."""

    type: Literal["deletion"] = "deletion"
    user_id: Id
    ts: Timestamp  # when it was requested


def parse_deletion(payload: bytes | str) -> DeletionEvent:
    """Parse a deletion request, or raise :class:`InvalidEvent`."""
    try:
        return DeletionEvent.model_validate_json(payload)
    except ValidationError as error:
        raise InvalidEvent(_summarise(error)) from None
    except (ValueError, TypeError) as error:
        raise InvalidEvent(f"not a JSON deletion request: {error}") from None
