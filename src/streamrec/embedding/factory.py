"""The embedder the settings describe: backend, device, token cap and cache.

Models load lazily: behind a cache, only when a text is missing from it.
"""

from __future__ import annotations

from pathlib import Path

from streamrec.core.settings import DEFAULT_ONNX_DIR, Settings
from streamrec.embedding.base import Embedder
from streamrec.embedding.cache import CachedEmbedder
from streamrec.embedding.torch_backend import (
    SentenceTransformerEmbedder,
    pick_device,
    resolve_model_path,
)
from streamrec.embedding.use_backend import USE_MODEL_NAME

USE_BACKEND = "use-multilingual"
BACKENDS = ("torch", "onnx", "onnx-int8", USE_BACKEND)


def make_embedder(
    model: str,
    device: str = "auto",
    batch_size: int = 0,
    max_seq_tokens: int = 0,
    cache: Path | None = None,
    threads: int = 0,
    backend: str = "torch",
    onnx_dir: Path | None = None,
) -> Embedder:
    """A transformer (a sentence-transformers name or local path), run by torch or
    (``backend`` ``onnx`` / ``onnx-int8``) by ONNX Runtime on the CPU; or, with
    ``backend`` ``use-multilingual``, the multilingual USE v3 (``model`` unused).

    With ``cache`` the model sits behind a :class:`CachedEmbedder` and loads
    only when a text is missing from the cache.
    """
    if Path(model).expanduser().exists():
        model = str(Path(model).expanduser())

    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}: {', '.join(BACKENDS)}")
    if backend == USE_BACKEND:
        model = USE_MODEL_NAME  # its own weights: the model setting names MiniLM
    if backend.startswith("onnx") and pick_device(device) == "cuda":
        raise ValueError("the onnx backends run on the CPU; use backend torch on cuda")

    def load() -> Embedder:
        if backend == USE_BACKEND:
            from streamrec.embedding.use_backend import UniversalSentenceEncoder

            return UniversalSentenceEncoder(threads)
        if backend != "torch":
            from streamrec.embedding.onnx_backend import OnnxEmbedder

            return OnnxEmbedder(
                resolve_model_path(model),
                "int8" if backend == "onnx-int8" else "fp32",
                batch_size,
                max_seq_tokens,
                threads,
                onnx_dir or DEFAULT_ONNX_DIR,
                name=f"{model}+{backend}",
            )
        return SentenceTransformerEmbedder(
            model,
            device=device,
            batch_size=batch_size,
            max_seq_tokens=max_seq_tokens,
            threads=threads,
        )

    if cache is None:
        return load()
    # vectors of another backend or token cap must not be served from this cache
    name = model if not max_seq_tokens else f"{model}@{max_seq_tokens}"
    name = name if backend in ("torch", USE_BACKEND) else f"{name}+{backend}"
    return CachedEmbedder(load, name, cache)


def embedder_from_settings(settings: Settings, cache: Path | None = None) -> Embedder:
    """The embedder the settings describe; ``cache`` overrides ``embed_cache``."""
    return make_embedder(
        settings.model,
        settings.device,
        settings.embed_batch_size,
        settings.max_seq_tokens,
        cache or settings.embed_cache,
        settings.torch_threads,
        settings.embed_backend,
        settings.onnx_dir,
    )
