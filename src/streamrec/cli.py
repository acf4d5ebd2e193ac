"""The ``streamrec`` command line."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from streamrec.settings import Settings

app = typer.Typer(help="StreamRec: streaming recommendations from what users write.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
infra_app = typer.Typer(help="Local Kafka (KRaft) and Redis for tests and the demo.",
                        no_args_is_help=True)
produce_app = typer.Typer(help="Publish events to Kafka.", no_args_is_help=True)
topics_app = typer.Typer(help="Create or delete StreamRec's topics.", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
app.add_typer(produce_app, name="produce")
app.add_typer(topics_app, name="topics")

EnvFile = Annotated[Path | None, typer.Option("--env-file", help="Read settings from this file.",
                                              exists=True, dir_okay=False)]


def load_settings(env_file: Path | None = None) -> Settings:
    if env_file is not None:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=False)


@app.command()
def config(env_file: EnvFile = None) -> None:
    """Print the effective settings (secrets masked)."""
    typer.echo(json.dumps(load_settings(env_file).masked(), indent=2, default=str))


# -- infra ------------------------------------------------------------------------------


@infra_app.command("up")
def infra_up() -> None:
    """Start Kafka and Redis (reusing running ones) and print where they listen."""
    from streamrec.devinfra import LocalInfra

    infra = LocalInfra.default()
    infra.up()
    _print_status(infra.status())


@infra_app.command("down")
def infra_down() -> None:
    """Stop Kafka and Redis; no server process is left behind."""
    from streamrec.devinfra import LocalInfra

    infra = LocalInfra.default()
    infra.down()
    _print_status(infra.status())


@infra_app.command("status")
def infra_status() -> None:
    """Say whether Kafka and Redis are up and where."""
    from streamrec.devinfra import LocalInfra

    _print_status(LocalInfra.default().status())


@infra_app.command("wipe")
def infra_wipe() -> None:
    """Stop Kafka and delete its data (topics and offsets)."""
    from streamrec.devinfra import LocalInfra

    LocalInfra.default().kafka.wipe()
    typer.echo("kafka data deleted")


def _print_status(status: dict[str, str]) -> None:
    for name, line in status.items():
        typer.echo(f"{name:6s} {line}")


# -- topics -----------------------------------------------------------------------------


@topics_app.command("create")
def topics_create(env_file: EnvFile = None) -> None:
    """Create the five topics (idempotent)."""
    from streamrec.kafka_io import Topics, ensure_topics

    settings = load_settings(env_file)
    ensure_topics(settings)
    typer.echo("\n".join(Topics.from_settings(settings).all()))


@topics_app.command("delete")
def topics_delete(env_file: EnvFile = None) -> None:
    """Delete the five topics and everything in them."""
    from streamrec.kafka_io import Topics, delete_topics

    settings = load_settings(env_file)
    delete_topics(settings, Topics.from_settings(settings).all())


# -- produce ----------------------------------------------------------------------------


def _publish(events: list, speedup: float | None, settings: Settings) -> None:
    from streamrec.kafka_io import Topics, ensure_topics, make_producer
    from streamrec.producer import publish

    ensure_topics(settings)
    producer = make_producer(settings)
    try:
        sent = publish(producer, events, Topics.from_settings(settings), speedup, progress=True)
    finally:
        producer.close()
    typer.echo(f"published {sent} events")


def _publish_dataset(name: str, path: Path | None, limit: int | None, speedup: float | None,
                     env_file: Path | None) -> None:
    from streamrec.datasets import interactions_to_events, load_interactions

    events = interactions_to_events(load_interactions(name, limit, path))
    _publish(events, speedup, load_settings(env_file))


@produce_app.command("amazon")
def produce_amazon(
    path: Annotated[Path | None, typer.Option(help="reviews_*_5.json.gz (default: the shared "
                                              "copy, else data/amazon)")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N reviews.")] = None,
    speedup: Annotated[float | None, typer.Option(help="Replay event-time gaps X times "
                                                  "faster (default: no pacing).")] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish a click and a review per Amazon review, keyed by user, in event-time order."""
    _publish_dataset("amazon", path, limit, speedup, env_file)


@produce_app.command("movielens")
def produce_movielens(
    folder: Annotated[Path | None, typer.Option(help="ml-latest-small folder")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N ratings.")] = None,
    speedup: Annotated[float | None, typer.Option()] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish MovieLens ratings as clicks and reviews (title, genres and tags as text)."""
    _publish_dataset("movielens", folder, limit, speedup, env_file)


@produce_app.command("events")
def produce_events(
    path: Annotated[Path, typer.Argument(help="JSON-lines file of review/click events",
                                         exists=True, dir_okay=False)],
    speedup: Annotated[float | None, typer.Option()] = None,
    env_file: EnvFile = None,
) -> None:
    """Publish a file of events in the documented JSON format (bad lines are reported)."""
    from streamrec.datasets import read_event_file

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


# -- worker -----------------------------------------------------------------------------


def _install_signal_handlers(stop) -> None:  # type: ignore[no-untyped-def]
    def handler(signum: int, frame: object) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _service_settings(env_file: Path | None) -> Settings:
    """Settings of a long-running service: logging, /metrics and topics set up."""
    from streamrec.kafka_io import ensure_topics
    from streamrec.observability import serve_metrics, setup_logging

    settings = load_settings(env_file)
    setup_logging(settings.log_level, settings.log_json)
    serve_metrics(settings.metrics_port)
    ensure_topics(settings)
    return settings


@app.command()
def worker(
    until_caught_up: Annotated[bool, typer.Option(help="Exit once every partition is "
                                                  "consumed to its end.")] = False,
    idle_timeout: Annotated[float | None, typer.Option(help="Exit after this many seconds "
                                                       "without data.")] = None,
    env_file: EnvFile = None,
) -> None:
    """Run the embed worker (SIGTERM drains, checkpoints and commits)."""
    from streamrec.worker import EmbedWorker

    embed_worker = EmbedWorker(_service_settings(env_file))
    _install_signal_handlers(embed_worker.stop)
    embed_worker.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout)
    typer.echo(json.dumps({"events": embed_worker.events_total,
                           "dead_letters": embed_worker.dead_letters,
                           "duplicates": embed_worker.duplicates,
                           "busy_since": embed_worker.busy_since,
                           "busy_until": embed_worker.busy_until}))


@app.command()
def sidecar(
    window: Annotated[int, typer.Option(help="Count window (clicks).")] = 1000,
    period: Annotated[float, typer.Option(help="Time window (seconds of event time).")] = 3600,
    until_caught_up: Annotated[bool, typer.Option()] = False,
    env_file: EnvFile = None,
) -> None:
    """Run the metrics sidecar: rolling NDCG/HR/MAP/MRR/CTR of served lists per strategy."""
    from streamrec.sidecar import MetricsSidecar

    metrics_sidecar = MetricsSidecar(_service_settings(env_file), window=window,
                                     period_s=period)
    _install_signal_handlers(metrics_sidecar.stop)
    metrics_sidecar.run(until_caught_up=until_caught_up)


# -- reading ------------------------------------------------------------------------------


@app.command()
def recs(
    user_id: Annotated[str, typer.Argument(help="The user to recommend for.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many items.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw payload.")] = False,
    env_file: EnvFile = None,
) -> None:
    """Print a user's recommendations from Redis (user -> cluster -> trending fallback)."""
    from streamrec.client import RecsClient

    answer = RecsClient.from_settings(load_settings(env_file)).recommend(user_id, k)
    if answer.recs is None:
        typer.echo(f"no recommendations in Redis for {user_id} (is the worker running?)",
                   err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(answer.recs.model_dump_json(indent=2))
        return
    as_of = time.strftime("%Y-%m-%d", time.gmtime(answer.recs.as_of))
    typer.echo(f"user {user_id}: level={answer.level} cluster={answer.cluster_id} "
               f"strategy={answer.recs.strategy} as_of={as_of}")
    for rank, item in enumerate(answer.recs.items, start=1):
        typer.echo(f"{rank:3d}. {item.item_id}  {item.score:.4f}")


@app.command()
def clusters(
    plot: Annotated[Path | None, typer.Option(help="Draw a 2-D map of user vectors to this "
                                              "PNG.")] = None,
    reviews_from: Annotated[Path | None, typer.Option(
        help="Amazon file to show the representative reviews' text from (Redis holds only "
             "their ids).")] = None,
    env_file: EnvFile = None,
) -> None:
    """Print each cluster's labels, size, weight and representative reviews."""
    from streamrec.clusters_view import load_summaries, plot_map, review_texts

    settings = load_settings(env_file)
    summaries = load_summaries(settings)
    if not summaries:
        typer.echo("no clusters in Redis yet (is the worker running?)", err=True)
        raise typer.Exit(1)
    wanted = [r for s in summaries for r in s.representative_reviews]
    texts = review_texts(reviews_from, wanted) if reviews_from else {}
    for summary in sorted(summaries, key=lambda s: -s.users):
        typer.echo(f"cluster {summary.cluster_id:3d}  users={summary.users:5d}  "
                   f"weight={summary.weight:8.1f}  {', '.join(summary.labels)}")
        for event_id in summary.representative_reviews:
            if event_id in texts:
                typer.echo(f"      \u201c{texts[event_id][:110]}\u201d")
    if plot is not None:
        typer.echo(f"map written to {plot_map(settings, plot)}")


@app.command("embed-cache")
def embed_cache(
    dataset: Annotated[str, typer.Argument(help="amazon or movielens")],
    out: Annotated[Path, typer.Option(help="The .npz cache file to write or extend.")],
    limit: Annotated[int | None, typer.Option(help="Only the first N interactions.")] = None,
    env_file: EnvFile = None,
) -> None:
    """Embed a data set's review texts once into a cache file (STREAMREC_EMBED_CACHE)."""
    from streamrec.datasets import load_interactions
    from streamrec.embedding import CachedEmbedder, embedder_from_settings, precompute
    from streamrec.text import clean_text

    settings = load_settings(env_file)
    embedder = embedder_from_settings(settings, cache=out)
    assert isinstance(embedder, CachedEmbedder)
    texts = [clean_text(i.text, settings.max_text_chars)
             for i in load_interactions(dataset, limit) if i.text.strip()]
    precompute(embedder, texts, progress=True)
    typer.echo(f"{embedder.save()}: {len(embedder.index)} embeddings")


@app.command("delete-user")
def delete_user(
    user_id: Annotated[str, typer.Argument(help="The user to erase.")],
    env_file: EnvFile = None,
) -> None:
    """Erase a user: recs and assignment now; profile, history and dedup entries when the
    worker next checkpoints. Anonymous aggregates (item and cluster counts) keep their
    contribution until it decays."""
    from streamrec.redis_schema import RedisKeys
    from streamrec.store import RecsStore, connect

    settings = load_settings(env_file)
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    removed = store.delete_user(user_id)
    store.client.rpush(store.keys.deletions(), user_id)
    typer.echo(f"removed {removed} keys; the worker erases the profile at its next checkpoint")


@app.command()
def replay(
    data: Annotated[str, typer.Option(help="amazon, movielens, events (with --events) or "
                                      "topic (the configured review and click topics)")] =
    "amazon",
    path: Annotated[Path | None, typer.Option(help="Data set file or folder.")] = None,
    events: Annotated[Path | None, typer.Option(help="JSON-lines events file.")] = None,
    from_offset: Annotated[int | None, typer.Option(help="With --data topic: start here.")] =
    None,
    from_time: Annotated[str | None, typer.Option(help="With --data topic: start at this "
                                                  "ISO time (offsets_for_times).")] = None,
    mode: Annotated[str, typer.Option(help="inprocess (all strategies and baselines) or "
                                      "pipeline (through Kafka, the worker and Redis)")] =
    "inprocess",
    limit: Annotated[int | None, typer.Option(help="Only the first N interactions.")] = None,
    learning_rates: Annotated[str, typer.Option(help="Ranker learning rates to compare on "
                                                "the tuning slice.")] = "0.02,0.05,0.1,0.2,0.5",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples (users) for the "
                                           "confidence intervals.")] = 1000,
    batch_reviews: Annotated[int | None, typer.Option(help="With --mode pipeline: the "
                             "worker's micro-batch (default: one event at a time).")] = None,
    partitions: Annotated[int, typer.Option(help="With --mode pipeline: partitions per "
                                            "topic.")] = 1,
    out: Annotated[Path, typer.Option(help="Where metrics.json, report.md and plots go.")] =
    Path("out/replay"),
    env_file: EnvFile = None,
) -> None:
    """Serve-then-observe backfill evaluation with full ranking; writes a report."""
    from streamrec.evaluation_run import load_source, reproduce_command, run_replay

    settings = load_settings(env_file)
    name, interactions = load_source(settings, data, path, events, from_offset, from_time,
                                     limit)
    rates = tuple(float(r) for r in learning_rates.split(","))
    command = reproduce_command(data, limit, rates, bootstrap, path, events, from_offset,
                                from_time)
    summary = run_replay(settings, name, interactions, mode, rates, out, bootstrap, command,
                         batch_reviews, partitions)
    typer.echo(json.dumps(summary, indent=2))


# -- demo -------------------------------------------------------------------------------


@app.command()
def demo(
    limit: Annotated[int | None, typer.Option(help="Only the first N reviews.")] = None,
    path: Annotated[Path | None, typer.Option(help="Amazon reviews file.")] = None,
    env_file: EnvFile = None,
) -> None:
    """Replay the Amazon set through Kafka -> worker -> Redis and summarise.

    Resets the configured topics and Redis namespace first, so it can be rerun.
    """
    from streamrec.demo import run_demo

    settings = load_settings(env_file)
    summary = run_demo(settings, path=path, limit=limit)
    typer.echo(json.dumps(summary, indent=2))


def main() -> None:
    app(prog_name="streamrec")


if __name__ == "__main__":
    sys.exit(main())
