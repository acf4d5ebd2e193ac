"""Embeddings remembered by text, in memory and in an ``.npz`` file.

>>> class Letters:  # a stand-in model: one dimension per first letter
...     dim, name = 2, "letters"
...     def encode(self, texts):
...         return np.array([[t[0] == "a", t[0] != "a"] for t in texts], dtype=np.float32)
>>> cache = CachedEmbedder(Letters, "letters")
>>> cache.encode(["apple", "banana", "apple"]).tolist(), (cache.hits, cache.misses)
([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], (1, 2))
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from streamrec.embedding.base import Embedder


class CachedEmbedder:
    """Remembers embeddings by text; the wrapped model is loaded on the first miss only.

    Replays and benchmarks embed the same texts again and again; a cache file
    (``.npz``: text hashes, vectors and the model's name) makes that free. A
    cache written by another model is refused rather than silently mixed in.
    """

    def __init__(self, load: Callable[[], Embedder], name: str, path: Path | None = None) -> None:
        self._load = load
        self._inner: Embedder | None = None
        self.name = name
        self.path = path
        self.index: dict[bytes, int] = {}
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self._new: list[np.ndarray] = []
        self.hits = self.misses = 0
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as cache:
                if str(cache["model"]) != name:
                    raise ValueError(f"{path} holds embeddings of {cache['model']}, not {name}")
                self.vectors = cache["vectors"].astype(np.float32)
                keys = cache["keys"]  # (n, 16) uint8: fixed-width bytes would drop trailing NULs
                self.index = {k.tobytes(): n for n, k in enumerate(keys)}

    @property
    def inner(self) -> Embedder:
        if self._inner is None:
            self._inner = self._load()
        return self._inner

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.vectors.shape[1] if self.vectors.size else self.inner.dim

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.index}.items()
        )
        if missing:
            fresh = self.inner.encode([t for _, t in missing])
            if not self.vectors.size:
                self.vectors = np.zeros((0, fresh.shape[1]), dtype=np.float32)
            base = len(self.vectors) + sum(len(b) for b in self._new)
            for n, (key, _) in enumerate(missing):
                self.index[key] = base + n
            self._new.append(fresh)
        self._flush_new()
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.vectors[[self.index[k] for k in keys]]

    def _flush_new(self) -> None:
        if self._new:
            self.vectors = np.vstack([self.vectors, *self._new])
            self._new = []

    def save(self, path: Path | None = None) -> Path:
        path = path or self.path
        if path is None:
            raise ValueError("no cache path")
        self._flush_new()
        keys = np.zeros((len(self.index), 16), dtype=np.uint8)
        for key, row in self.index.items():
            keys[row] = np.frombuffer(key, dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez(handle, keys=keys, vectors=self.vectors, model=np.array(self.name))
        return path


def precompute(
    embedder: CachedEmbedder,
    texts: Sequence[str],
    chunk: int = 256,
    progress: bool = False,
    save: bool = False,
) -> None:
    """Fill the cache with ``texts`` (already cleaned as the worker cleans them);
    with ``save``, write the cache file when any text was new."""
    todo = sorted({t for t in texts if CachedEmbedder.key(t) not in embedder.index})
    starts = range(0, len(todo), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="embed", unit="chunk")
    for start in starts:
        embedder.encode(todo[start : start + chunk])
    if save and todo:
        embedder.save()
