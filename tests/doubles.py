"""Test doubles: stand-ins for the embedding model in tests of pure logic.

Not part of the installed package: production settings cannot reach them.

>>> emb = HashingEmbedder(dim=64)
>>> vectors = emb.encode(["guitar strings", "guitar strings", "microphone stand"])
>>> vectors.shape, bool(abs(vectors[0] @ vectors[1] - 1) < 1e-6)
((3, 64), True)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from streamrec.embedding.base import normalise_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Bag of words hashed into ``dim`` buckets: no model, instant, deterministic.

    A cheap stand-in for the transformer in tests of pure logic; it knows
    nothing of synonyms.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _bucket(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 63) & 1 else -1.0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _WORD.findall(text.lower()):
                column, sign = self._bucket(token)
                out[row, column] += sign
            if not out[row].any():
                column, sign = self._bucket(text)
                out[row, column] = sign
        return normalise_rows(out)
