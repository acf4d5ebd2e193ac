"""``streamrec produce ...`` and ``streamrec topics ...``: put events on Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, load_settings
from streamrec.core.settings import Settings


def topics_create(env_file: EnvFile = None) -> None:
    """Create the six topics (idempotent)."""
    from streamrec.kafka.topics import Topics, ensure_topics

    settings = load_settings(env_file)
    ensure_topics(settings)
    typer.echo("\n".join(Topics.from_settings(settings).all()))


def topics_delete(env_file: EnvFile = None) -> None:
    """Delete the six topics and everything in them."""
    from streamrec.kafka.topics import Topics, delete_topics

    settings = load_settings(env_file)
    delete_topics(settings, Topics.from_settings(settings).all())


# -- produce ----------------------------------------------------------------------------


def _publish(events: list, speedup: float | None, settings: Settings) -> None:
    from streamrec.kafka.clients import make_producer
    from streamrec.kafka.producer import publish
    from streamrec.kafka.topics import Topics, ensure_topics

    ensure_topics(settings, keep_history=True)  # files replay history
    producer = make_producer(settings)
    try:
        sent = publish(producer, events, Topics.from_settings(settings), speedup, progress=True)
    finally:
        producer.close()
    typer.echo(f"published {sent} events")


def _publish_dataset(
    name: str, path: Path | None, limit: int | None, speedup: float | None, env_file: Path | None
) -> None:
    from streamrec.evaluation.datasets import interactions_to_events, load_interactions

    settings = load_settings(env_file)
    events = interactions_to_events(load_interactions(name, limit, path, settings.data_dir))
    _publish(events, speedup, settings)


def produce_amazon(
    path: Annotated[
        Path | None,
        typer.Option(
            help="reviews_*_5.json.gz (default: STREAMREC_DATA_DIR, else by the checkout)"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N reviews.")] = None,
    speedup: Annotated[
        float | None,
        typer.Option(help="Replay event-time gaps X times faster (default: no pacing)."),
    ] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish a click and a review per Amazon review, keyed by user, in event-time order."""
    _publish_dataset("amazon", path, limit, speedup, env_file)


def produce_movielens(
    folder: Annotated[
        Path | None, typer.Option(help="ml-latest-small folder (default: in STREAMREC_DATA_DIR)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N ratings.")] = None,
    speedup: Annotated[float | None, typer.Option()] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish MovieLens ratings as clicks and reviews (title, genres and tags as text)."""
    _publish_dataset("movielens", folder, limit, speedup, env_file)


def produce_events(
    path: Annotated[
        Path,
        typer.Argument(help="JSON-lines file of review/click events", exists=True, dir_okay=False),
    ],
    speedup: Annotated[float | None, typer.Option()] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish a file of events in the documented JSON format (bad lines are reported)."""
    from streamrec.evaluation.datasets import read_event_file

    events, errors = [], 0
    for number, event, error in read_event_file(path):
        if event is None:
            errors += 1
            typer.echo(f"{path}:{number}: {error}", err=True)
        else:
            events.append(event)
    events.sort(key=lambda e: e.ts)
    _publish(events, speedup, load_settings(env_file))
    if errors:
        typer.echo(f"{errors} invalid lines skipped", err=True)
