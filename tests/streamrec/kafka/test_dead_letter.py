"""Dead-letter headers say why and where from, bounded, whatever the error text."""

from streamrec.kafka.dead_letter import dead_letter_headers


def test_headers_name_the_reason_and_the_source() -> None:
    headers = dict(dead_letter_headers("bad json: \udcff" + "x" * 5000, "t.reviews", 3, 42))
    assert headers["streamrec.source.topic"] == b"t.reviews"
    assert headers["streamrec.source.partition"] == b"3"
    assert headers["streamrec.source.offset"] == b"42"
    assert headers["streamrec.error"].startswith(b"bad json: ?")
    assert len(headers["streamrec.error"]) == 4096
