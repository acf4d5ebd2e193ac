"""A small synthetic stream for evaluation tests: users with a topic each, no model."""

from __future__ import annotations

import numpy as np

from streamrec.evaluation.datasets import Interaction


def synthetic_stream(
    n: int = 300,
    users: int = 30,
    items: int = 24,
    topics: int = 3,
    dim: int = 16,
    seed: int = 0,
    ratings: bool = False,
) -> tuple[list[Interaction], list[np.ndarray | None]]:
    """Interactions (a click and a review each) whose users favour their topic's items,
    with unit review vectors near their topic's direction."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(topics, dim))
    interactions, vectors = [], []
    for step in range(n):
        user = int(rng.integers(users))
        topic = user % topics if rng.random() < 0.8 else int(rng.integers(topics))
        item = topic + topics * int(rng.zipf(1.6) % (items // topics))
        vector = directions[topic] + 0.3 * rng.normal(size=dim)
        interactions.append(
            Interaction(
                user_id=f"u{user}",
                item_id=f"i{item}",
                ts=float(1_000_000 + step),
                rating=float(rng.integers(1, 6)) if ratings else None,
                text=f"review {step} of item {item}",
                key=f"k{step}",
            )
        )
        vectors.append((vector / np.linalg.norm(vector)).astype(np.float32))
    return interactions, vectors
