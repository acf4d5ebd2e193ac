import json

import pytest

from streamrec.core.events import (
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    ClickEvent,
    ImpressionEvent,
    InvalidEvent,
    ReviewEvent,
    parse_event,
)

GOOD_REVIEW = {
    "type": "review",
    "event_id": "e1",
    "user_id": "u1",
    "item_id": "i1",
    "text": "Bright strings, stay in tune",
    "rating": 4.0,
    "ts": 1_300_000_000,
}


def payload(**changes: object) -> bytes:
    body = {**GOOD_REVIEW, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_round_trip_of_each_kind() -> None:
    events = [
        ReviewEvent(event_id="e", user_id="u", item_id="i", text="ok", ts=1.0),
        ClickEvent(event_id="c", user_id="u", item_id="i", ts=2.0, impression_id="imp"),
        ImpressionEvent(
            impression_id="imp", user_id="u", items=["a", "b"], strategy="user", ts=3.0
        ),
    ]
    for event in events:
        assert parse_event(event.to_json()) == event


def test_optional_rating_is_left_out_of_the_json() -> None:
    event = ReviewEvent(event_id="e", user_id="u", item_id="i", text="ok", ts=1.0)
    assert "rating" not in json.loads(event.to_json())


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "Invalid JSON"),
        (b"\xff\xfe\x00", "Invalid JSON"),
        (b"[1, 2]", "object"),
        (payload(ts="1300000000"), "ts"),
        (payload(ts=-1), "ts"),
        (payload(ts=4102444800 * 3), "ts"),
        (payload(rating=6), "rating"),
        (payload(rating=-0.5), "rating"),
        (payload(text="   \n\t"), "whitespace"),
        (payload(text=""), "text"),
        (payload(text="a\x00b"), "NUL"),
        (payload(text="x" * (MAX_TEXT_CHARS + 1)), "text"),
        (payload(user_id="u" * (MAX_ID_CHARS + 1)), "user_id"),
        (payload(user_id="bad\nid"), "control"),
        (payload(user_id=" "), "blank"),
        (payload(item_id=...), "item_id"),
        (payload(surprise=1), "surprise"),
        (payload(type="purchase"), "type"),
        (payload(user_id=123), "user_id"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_event(raw)
    assert fragment.lower() in error.value.reason.lower()


def test_nan_and_infinite_ratings_are_rejected() -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        raw = payload(rating=0).replace(b'"rating": 0', b'"rating": ' + literal)
        with pytest.raises(InvalidEvent):
            parse_event(raw)


def test_a_click_on_the_review_topic_is_rejected() -> None:
    click = ClickEvent(event_id="c", user_id="u", item_id="i", ts=1.0)
    with pytest.raises(InvalidEvent, match="expected a review"):
        parse_event(click.to_json(), ReviewEvent)


def test_unicode_text_is_kept() -> None:
    event = parse_event(payload(text="音色很好，琴弦不错"))
    assert isinstance(event, ReviewEvent)
    assert event.text == "音色很好，琴弦不错"
