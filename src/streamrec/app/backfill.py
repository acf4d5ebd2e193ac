"""Glue for ``streamrec replay``: load a source, embed it (cached), replay, report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.core.events import ClickEvent, ReviewEvent, parse_event
from streamrec.core.settings import Settings
from streamrec.core.text import clean_text
from streamrec.embedding.cache import CachedEmbedder, precompute
from streamrec.embedding.factory import embedder_from_settings
from streamrec.evaluation.datasets import (
    Interaction,
    interactions_from_events,
    load_interactions,
    read_event_file,
)


def load_source(
    settings: Settings,
    data: str,
    path: Path | None,
    events: Path | None,
    from_offset: int | None,
    from_time: str | None,
    limit: int | None,
) -> tuple[str, list[Interaction]]:
    if data in ("amazon", "movielens"):
        title = {
            "amazon": "Amazon Musical Instruments 5-core",
            "movielens": "MovieLens ml-latest-small",
        }[data]
        if limit is not None:
            title += f" (first {limit:,} interactions in time order)"
        return title, load_interactions(data, limit, path, settings.data_dir)
    if data == "events":
        if events is None:
            raise SystemExit("--data events needs --events FILE.jsonl")
        parsed = [e for _, e, _ in read_event_file(events) if e is not None]
        return f"events file {events.name}", interactions_from_events(parsed)[:limit]
    if data == "topic":
        from streamrec.kafka.history import read_history

        since = None
        if from_time is not None:
            moment = dt.datetime.fromisoformat(from_time)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            since = int(moment.timestamp() * 1000)
        values = read_history(
            settings, [settings.topic_reviews, settings.topic_clicks], from_offset, since
        )
        parsed: list[ReviewEvent | ClickEvent] = []
        for value in values:
            try:
                event = parse_event(value)
            except ValueError:
                continue
            if isinstance(event, ReviewEvent | ClickEvent):
                parsed.append(event)
        return (
            f"topics {settings.topic_reviews} + {settings.topic_clicks}",
            interactions_from_events(parsed)[:limit],
        )
    raise SystemExit(f"unknown --data {data!r}")


def warm_cache(settings: Settings, interactions: list[Interaction]) -> CachedEmbedder:
    """An embedder whose cache (under .cache/, one file per model) holds every review text."""
    model = settings.model + (
        "" if settings.embed_backend == "torch" else f"-{settings.embed_backend}"
    )
    slug = "".join(c if c.isalnum() else "-" for c in model.lower())[-40:]
    cache = settings.embed_cache or Path(".cache") / f"embeddings-{slug}.npz"
    embedder = embedder_from_settings(settings, cache=cache)
    assert isinstance(embedder, CachedEmbedder)
    texts = [clean_text(i.text, settings.max_text_chars) for i in interactions]
    precompute(embedder, [t for t in texts if t], progress=True, save=True)
    return embedder


def review_vectors(
    settings: Settings, embedder: CachedEmbedder, interactions: list[Interaction]
) -> list[np.ndarray | None]:
    """Each interaction's review vector (None where it has no text), from the cache."""
    texts = [clean_text(i.text, settings.max_text_chars) for i in interactions]
    vectors: list[np.ndarray | None] = [None] * len(texts)
    with_text = [n for n, t in enumerate(texts) if t]
    for n, vector in zip(with_text, embedder.encode([texts[n] for n in with_text]), strict=True):
        vectors[n] = vector
    return vectors


def run_replay(
    settings: Settings,
    name: str,
    interactions: list[Interaction],
    mode: str,
    learning_rates: tuple[float, ...],
    out: Path,
    resamples: int = 1000,
    command: str = "",
    batch_reviews: int | None = None,
    partitions: int = 1,
    sequential: bool = False,
    workers: int = 1,
) -> dict:
    from streamrec.app.replay_pipeline import replay_pipeline
    from streamrec.evaluation.report import write_report
    from streamrec.evaluation.result import SERVED
    from streamrec.evaluation.run import run_evaluation
    from streamrec.evaluation.tuning import Grids

    embedder = warm_cache(settings, interactions)
    if mode == "pipeline":
        result = replay_pipeline(
            settings,
            interactions,
            embedder=embedder,
            progress=True,
            batch_reviews=batch_reviews,
            partitions=partitions,
        )
        summary = {
            "dataset": name,
            "mode": "pipeline",
            "partitions": partitions,
            "batch_reviews": batch_reviews or "one event at a time",
            "evaluation": result.summary("evaluation").get(SERVED, {}),
        }
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
    vectors = review_vectors(settings, embedder, interactions)
    grids = Grids(streamrec_learning_rates=learning_rates, sequential=sequential)
    # thousands of small matrix products per event: BLAS threads only contend for the cores
    # (a 5,000 x 384 product took 0.9 ms with two threads on a busy machine, 0.12 ms with one)
    with threadpool_limits(limits=1, user_api="blas"):
        evaluation = run_evaluation(
            name,
            interactions,
            vectors,
            embedder.dim,
            grids,
            resamples=resamples,
            command=command,
            workers=workers,
        )
    payload = write_report(evaluation, out)
    return {
        "out": str(out),
        "ratios": payload["ratios"],
        "streamrec": payload["evaluation"]["streamrec-user"],
    }


def reproduce_command(
    data: str,
    limit: int | None,
    learning_rates: tuple[float, ...],
    resamples: int,
    path: Path | None = None,
    events: Path | None = None,
    from_offset: int | None = None,
    from_time: str | None = None,
    sequential: bool = False,
) -> str:
    """The ``streamrec replay`` line that rewrites the same metrics.json."""
    parts = ["streamrec replay", f"--data {data}"]
    for flag, value in (
        ("--path", path),
        ("--events", events),
        ("--from-offset", from_offset),
        ("--from-time", from_time),
        ("--limit", limit),
    ):
        if value is not None:
            parts.append(f"{flag} {value}")
    parts += [
        f"--learning-rates {','.join(f'{r:g}' for r in learning_rates)}",
        f"--bootstrap {resamples}",
        *(["--sequential"] if sequential else []),
        "--out DIR",
    ]
    return " ".join(parts)
