from streamrec.core.text import clean_text


def test_markup_and_control_characters_go() -> None:
    assert clean_text("a<br/>b\x07c &amp; d") == "a b c & d"


def test_long_text_is_cut_at_a_word_boundary() -> None:
    text = "word " * 1000
    cleaned = clean_text(text, max_chars=100)
    assert len(cleaned) <= 100
    assert cleaned.endswith("word")


def test_text_of_only_controls_becomes_empty() -> None:
    assert clean_text("\x01\x02\u200b") == ""
