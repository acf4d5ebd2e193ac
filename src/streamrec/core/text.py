"""Text cleaning before embedding: strip markup and control characters, bound the length.

>>> clean_text("  Great strings!<br>\\x00\\n\\nWould buy again ")
'Great strings! Would buy again'
"""

from __future__ import annotations

import html
import re
import unicodedata

_TAG = re.compile(r"<[^>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACE = re.compile(r"\s+")


def clean_text(text: str, max_chars: int = 2000) -> str:
    """Normalise a user comment for the embedding model.

    The model reads at most a few hundred tokens, so text beyond ``max_chars``
    is cut at a word boundary: embedding it would only cost time.
    """
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _TAG.sub(" ", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    return text
