"""Per-event cost of the state updates alone (no model, no I/O): events/s of Engine.apply.

Streams every Amazon event (a click and a review per review, event-time order)
with precomputed embeddings through the engine in micro-batches of 64 reviews:
profiles, clusters, item statistics, the online ranker's learning step, and
(second figure) the rec refresh that builds the lists a batch changed.
Writes benchmarks/results/state_updates.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import amazon_embeddings, machine, write_result
from streamrec.model.config import EngineConfig
from streamrec.model.engine import Engine

BATCH = 64


def run(interactions: list, vectors: np.ndarray, outputs: bool) -> tuple[float, int]:
    engine = Engine(vectors.shape[1], EngineConfig())
    events = 0
    start = time.perf_counter()
    for s in range(0, len(interactions), BATCH):
        chunk = interactions[s : s + BATCH]
        batch = [event for i in chunk for event in i.events()]
        engine.apply(batch, vectors[s : s + BATCH], outputs=outputs)
        events += len(batch)
    return events / (time.perf_counter() - start), events


def main() -> None:
    interactions, vectors = amazon_embeddings()
    updates, events = run(interactions, vectors, outputs=False)
    with_refresh, _ = run(interactions, vectors, outputs=True)
    print(f"state updates only: {updates:.0f} events/s; with rec refresh: {with_refresh:.0f}")
    write_result(
        "state_updates.json",
        {
            "events": events,
            "batch_reviews": BATCH,
            "state_updates_events_per_s": round(updates, 1),
            "with_rec_refresh_events_per_s": round(with_refresh, 1),
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
