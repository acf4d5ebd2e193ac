"""The four clusterers (STREAMREC_CLUSTERER) compared on one replay of the Amazon reviews.

For each: clusters found (final, mean, range over the replay), lifecycle events,
parent groups, cluster-size balance, label quality (top words, distinct words)
and NDCG@10 of the ``user`` and ``cluster`` strategies with bootstrap
intervals. Embeddings come from the replay's cache (.cache/embeddings-*.npz).

Run: OPENBLAS_NUM_THREADS=1 python benchmarks/clusterers.py [--limit N]
(writes docs/results/clusterers/report.md, metrics.json and a dendrogram of the groups
of each clusterer with at most 40 clusters)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from streamrec.app.backfill import review_vectors, warm_cache  # noqa: E402
from streamrec.clustering.factory import ClustererConfig  # noqa: E402
from streamrec.core.settings import Settings  # noqa: E402
from streamrec.evaluation.clusterers import compare_clusterers, markdown  # noqa: E402
from streamrec.evaluation.datasets import amazon_interactions  # noqa: E402
from streamrec.model.config import EngineConfig  # noqa: E402


def engine_config(kind: str, k: int = 20) -> EngineConfig:
    """Every clusterer with the defaults of its settings (fixed before any run); ``k`` is
    the fixed k, or where the dynamic one starts."""
    clustering = ClustererConfig.from_settings(Settings(_env_file=None, clusterer=kind))  # type: ignore[call-arg]
    return EngineConfig(n_clusters=k, clustering=clustering)


KINDS = {
    "kmeans": engine_config("kmeans"),
    "kmeans-dynamic": engine_config("kmeans-dynamic"),
    "kmeans-dynamic from k=2": engine_config("kmeans-dynamic", k=2),
    "dbstream": engine_config("dbstream"),
    "river-kmeans": engine_config("river-kmeans"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N interactions")
    parser.add_argument("--batch-reviews", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/clusterers")
    args = parser.parse_args()
    start = time.perf_counter()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    interactions = amazon_interactions(limit=args.limit)
    embedder = warm_cache(settings, interactions)
    vectors = review_vectors(settings, embedder, interactions)
    payload = compare_clusterers(
        interactions,
        vectors,
        embedder.dim,
        KINDS,
        batch_reviews=args.batch_reviews,
        progress=True,
        plots=args.out,
    )
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/clusterers.py" + (
        f" --limit {args.limit}" if args.limit else ""
    )
    payload["command"] = command
    payload["wall_s"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    title = "Amazon Musical Instruments 5-core" + (
        f" (first {args.limit:,} interactions)" if args.limit else ""
    )
    report = markdown(payload, title, command)
    (args.out / "report.md").write_text(report + f"\nWall time: {payload['wall_s']} s.\n")
    print(report)


if __name__ == "__main__":
    main()
