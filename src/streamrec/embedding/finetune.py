"""Fine-tuning the encoder on what the stream shows: texts that belong together.

A pair is (a user's review, a review of the item that user engaged with next,
written by someone else): the text that led somewhere and what it led to. The
loss is sentence-transformers' ``MultipleNegativesRankingLoss``: the other
positives of a batch are the negatives. Optionally the review's rating is an
auxiliary target (a linear head on the anchor's embedding, dropped after
training), as in the source material's rating-labelled fine-tuning.
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class Engagement(Protocol):
    user_id: str
    item_id: str
    text: str
    rating: float | None


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    rating: float | None  # the anchor review's rating, 0-5


def mine_pairs(
    engagements: Sequence[Engagement], limit: int | None = None, seed: int = 0
) -> list[Pair]:
    """Pairs from ``engagements`` (in event-time order; pass the tuning slice only):
    each review with another user's review of the same user's next item."""
    reviews: dict[str, list[tuple[str, str]]] = defaultdict(list)  # item -> (user, text)
    for e in engagements:
        if e.text.strip():
            reviews[e.item_id].append((e.user_id, e.text))
    last: dict[str, Engagement] = {}
    rng = random.Random(seed)
    pairs = []
    for e in engagements:
        before = last.get(e.user_id)
        last[e.user_id] = e
        if before is None or not before.text.strip():
            continue
        others = [text for user, text in reviews[e.item_id] if user != e.user_id]
        if others:
            pairs.append(Pair(before.text, rng.choice(others), before.rating))
    rng.shuffle(pairs)
    return pairs[:limit] if limit is not None else pairs


@dataclass
class FinetuneResult:
    path: Path
    pairs: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float


def finetune(
    model: str,
    pairs: Sequence[Pair],
    out: Path,
    batch_size: int = 16,
    epochs: int = 1,
    learning_rate: float = 2e-5,
    max_seq_tokens: int = 128,
    rating_weight: float = 0.0,
    device: str = "cpu",
) -> FinetuneResult:
    """Train ``model`` (a sentence-transformers name or folder) on ``pairs`` with AdamW
    and in-batch negatives; save it to ``out``, loadable as ``STREAMREC_MODEL``."""
    if len(pairs) < 2 or batch_size < 2:
        raise ValueError("in-batch negatives need at least 2 pairs and a batch of at least 2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from streamrec.embedding.torch_backend import resolve_model_path

    torch.manual_seed(0)
    st = SentenceTransformer(resolve_model_path(model), device=device)
    served_length = st.max_seq_length  # the cap inference keeps; training uses a shorter one
    st.max_seq_length = max_seq_tokens
    loss_fn = MultipleNegativesRankingLoss(st)
    head = torch.nn.Linear(_dim(st), 1).to(device)  # the rating target, dropped after
    params = list(st.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=learning_rate)
    batches = [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]
    batches = [b for b in batches if len(b) >= 2] * epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up over the first 10%
        optimiser, lambda step: min(1.0, (step + 1) / max(1, len(batches) // 10))
    )
    st.train()
    losses: list[float] = []
    started = time.monotonic()
    for batch in batches:
        loss = _batch_loss(st, loss_fn, head, batch, rating_weight, device)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    st.eval()
    st.max_seq_length = served_length
    out.mkdir(parents=True, exist_ok=True)
    st.save(str(out))
    window = max(1, len(losses) // 10)  # mean of the first and last tenth: steps are noisy
    return FinetuneResult(
        out,
        len(pairs),
        len(batches),
        time.monotonic() - started,
        sum(losses[:window]) / window,
        sum(losses[-window:]) / window,
    )


def _dim(st: object) -> int:
    getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension  # type: ignore[attr-defined]
    return int(getter())


def _batch_loss(st, loss_fn, head, batch, rating_weight: float, device: str):  # type: ignore[no-untyped-def]
    import torch

    def embed(texts: list[str]) -> torch.Tensor:
        prepare = getattr(st, "preprocess", None) or st.tokenize
        features = {k: v.to(device) if hasattr(v, "to") else v for k, v in prepare(texts).items()}
        return st(features)["sentence_embedding"]

    anchors = embed([p.anchor for p in batch])
    positives = embed([p.positive for p in batch])
    loss = loss_fn.compute_loss_from_embeddings([anchors, positives], None)
    rated = [n for n, p in enumerate(batch) if p.rating is not None]
    if rating_weight and rated:
        target = torch.tensor([(batch[n].rating - 2.5) / 2.5 for n in rated], device=device)
        predicted = head(anchors[rated]).squeeze(-1)
        loss = loss + rating_weight * torch.nn.functional.mse_loss(predicted, target)
    return loss
