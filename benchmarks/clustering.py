"""Online clustering of the real Amazon review embeddings: speed and quality in one run.

Streams every review embedding (event-time order, batches of BATCH) through
StreamRec's OnlineKMeans, River's cluster.KMeans (one point at a time, as River
works) and sklearn's MiniBatchKMeans.partial_fit, with the same k, and compares
them with batch sklearn KMeans on all points:

- updates/s (points learned per second of learning time),
- inertia: cosine SSE over all points, sum(1 - max_c cos(x, c)), divided by batch's,
- ARI of each one's final assignment against batch KMeans.

Run: python benchmarks/clustering.py  (writes benchmarks/results/clustering.json)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import amazon_embeddings, machine, write_result
from streamrec.clustering.base import normalise

K = 20
BATCH = 64
SEED = 0


def similarities(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return points @ normalise(centers).T


def cosine_inertia(points: np.ndarray, centers: np.ndarray) -> float:
    return float((1.0 - similarities(points, centers).max(axis=1)).sum())


def assign(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return np.argmax(similarities(points, centers), axis=1)


def run_online(points: np.ndarray, half_life: float) -> tuple[float, np.ndarray]:
    from streamrec.clustering import OnlineKMeans

    model = OnlineKMeans(k=K, half_life=half_life, seed=SEED)
    start = time.perf_counter()
    for s in range(0, len(points), BATCH):
        model.learn(points[s : s + BATCH])
    return time.perf_counter() - start, model.snapshot().centroids


def run_sklearn_minibatch(points: np.ndarray) -> tuple[float, np.ndarray]:
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=K, random_state=SEED, batch_size=BATCH, n_init=1)
    start = time.perf_counter()
    for s in range(0, len(points), BATCH):
        batch = points[s : s + BATCH]
        if s == 0 and len(batch) < K:
            continue
        model.partial_fit(batch)
    return time.perf_counter() - start, model.cluster_centers_


def run_river(points: np.ndarray) -> tuple[float, np.ndarray]:
    from river import cluster

    model = cluster.KMeans(n_clusters=K, halflife=0.1, mu=0.0, sigma=0.05, seed=SEED)
    rows = [dict(enumerate(p.tolist())) for p in points]  # River's input format, not timed
    start = time.perf_counter()
    for row in rows:
        model.learn_one(row)
    elapsed = time.perf_counter() - start
    dim = points.shape[1]
    centers = np.array([[model.centers[c].get(d, 0.0) for d in range(dim)] for c in range(K)])
    return elapsed, centers


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    _, points = amazon_embeddings()
    points = points.astype(np.float32)
    print(f"{len(points)} review embeddings, k={K}, batch={BATCH}")

    start = time.perf_counter()
    batch = KMeans(n_clusters=K, random_state=SEED, n_init=4).fit(points)
    batch_seconds = time.perf_counter() - start
    reference_labels = assign(points, batch.cluster_centers_)
    reference_inertia = cosine_inertia(points, batch.cluster_centers_)

    runs = {
        "online_kmeans": run_online(points, half_life=1e12),
        "online_kmeans_forgetting": run_online(points, half_life=2000),
        "sklearn_minibatch": run_sklearn_minibatch(points),
        "river_kmeans": run_river(points),
    }
    results: dict = {
        "batch_kmeans": {
            "seconds": round(batch_seconds, 3),
            "inertia_ratio": 1.0,
            "inertia": round(reference_inertia, 3),
        }
    }
    for name, (seconds, centers) in runs.items():
        results[name] = {
            "seconds": round(seconds, 4),
            "updates_per_s": round(len(points) / seconds, 1),
            "inertia_ratio": round(cosine_inertia(points, centers) / reference_inertia, 4),
            "ari_vs_batch": round(
                adjusted_rand_score(reference_labels, assign(points, centers)), 4
            ),
        }
        print(f"{name:26s} {results[name]}")
    online = results["online_kmeans"]["updates_per_s"]
    payload = {
        "data": "Amazon Musical Instruments 5-core, all-MiniLM-L6-v2 review embeddings",
        "points": len(points),
        "k": K,
        "batch": BATCH,
        "results": results,
        "ratios": {
            "online_vs_river_updates": round(online / results["river_kmeans"]["updates_per_s"], 1),
            "online_vs_sklearn_updates": round(
                online / results["sklearn_minibatch"]["updates_per_s"], 2
            ),
        },
        "targets": {
            "online_vs_river_updates": ">= 20",
            "online_vs_sklearn_updates": ">= 1",
            "online_inertia_ratio": "<= 1.05",
        },
        "machine": machine(),
    }
    print(payload["ratios"])
    write_result("clustering.json", payload)


if __name__ == "__main__":
    main()
