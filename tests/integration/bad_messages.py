"""A corpus of bad messages: each must reach the dead-letter topic, none may stop the worker."""

from __future__ import annotations

import json

GOOD = {
    "type": "review",
    "event_id": "x",
    "user_id": "bad-user",
    "item_id": "bad-item",
    "text": "decent strap",
    "rating": 4,
    "ts": 1_300_000_000,
}


def review(**changes: object) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# (name, topic: "reviews" or "clicks", payload) -- event ids are unique per case
BAD_MESSAGES: list[tuple[str, str, bytes | None]] = [
    ("not json", "reviews", b"this is not json"),
    ("json array", "reviews", b"[1, 2, 3]"),
    ("bare number", "reviews", b"42"),
    ("empty bytes", "reviews", b""),
    ("null value", "reviews", None),
    ("invalid utf-8", "reviews", b'{"type": "review", "text": "\xff\xfe\xfa"}'),
    ("bom and garbage", "reviews", b"\xef\xbb\xbf{\x00\x01}"),
    ("wrong type for ts", "reviews", review(event_id="b1", ts="yesterday")),
    ("wrong type for user", "reviews", review(event_id="b2", user_id=["u"])),
    ("missing item", "reviews", review(event_id="b3", item_id=None)),
    (
        "missing type",
        "reviews",
        json.dumps({k: v for k, v in GOOD.items() if k != "type"}).encode(),
    ),
    ("empty text", "reviews", review(event_id="b4", text="")),
    ("whitespace text", "reviews", review(event_id="b5", text=" \t\n ")),
    ("invisible text", "reviews", review(event_id="b6", text="\u200b\u200b\x01")),
    ("10 MB text", "reviews", review(event_id="b7", text="loud " * 2_100_000)),
    ("null byte in text", "reviews", review(event_id="b8", text="great\x00amp")),
    ("control chars in id", "reviews", review(event_id="b9\n\x07")),
    ("NaN rating", "reviews", review(event_id="b10").replace(b'"rating": 4', b'"rating": NaN')),
    (
        "infinite rating",
        "reviews",
        review(event_id="b11").replace(b'"rating": 4', b'"rating": Infinity'),
    ),
    ("rating out of range", "reviews", review(event_id="b12", rating=11)),
    ("far-future ts", "reviews", review(event_id="b13", ts=32_503_680_000)),
    ("negative ts", "reviews", review(event_id="b14", ts=-5)),
    ("10 KB id", "reviews", review(event_id="b15", user_id="u" * 10_240)),
    ("unknown field", "reviews", review(event_id="b16", sentiment="positive")),
    ("deeply nested", "reviews", _nested(50_000)),
    (
        "click on review topic",
        "reviews",
        json.dumps(
            {"type": "click", "event_id": "b17", "user_id": "u", "item_id": "i", "ts": 1.3e9}
        ).encode(),
    ),
    ("review on click topic", "clicks", review(event_id="b18")),
    (
        "impression on click topic",
        "clicks",
        json.dumps(
            {
                "type": "impression",
                "impression_id": "b19",
                "user_id": "u",
                "items": ["i"],
                "strategy": "user",
                "ts": 1.3e9,
            }
        ).encode(),
    ),
    ("duplicate event id", "reviews", None),  # filled in by the test: a good event sent twice
]
