"""Commands that read or change what the services keep: config, recs, clusters,
deletions, the embedding cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, load_settings


def config(env_file: EnvFile = None) -> None:
    """Print the effective settings (secrets masked)."""
    typer.echo(json.dumps(load_settings(env_file).masked(), indent=2, default=str))


def recs(
    user_id: Annotated[str, typer.Argument(help="The user to recommend for.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many items.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw payload.")] = False,
    why: Annotated[
        bool, typer.Option("--why", help="Show each item's largest score contributions.")
    ] = False,
    env_file: EnvFile = None,
) -> None:
    """Print a user's recommendations from Redis (user -> cluster -> group -> trending)."""
    from streamrec.serving.client import RecsClient

    answer = RecsClient.from_settings(load_settings(env_file)).recommend(user_id, k)
    if answer.recs is None:
        typer.echo(f"no recommendations in Redis for {user_id} (is the worker running?)", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(answer.recs.model_dump_json(indent=2))
        return
    as_of = time.strftime("%Y-%m-%d", time.gmtime(answer.recs.as_of))
    typer.echo(
        f"user {user_id}: level={answer.level} cluster={answer.cluster_id} "
        f"strategy={answer.recs.strategy} as_of={as_of}"
    )
    for rank, item in enumerate(answer.recs.items, start=1):
        typer.echo(f"{rank:3d}. {item.item_id}  {item.score:.4f}{_why(item.why) if why else ''}")
    if why and not any(item.why for item in answer.recs.items):
        typer.echo(f"(no explanations in this {answer.level}-level list: user lists carry them)")


def _why(terms: dict[str, float] | None) -> str:
    """``  why: content +0.41, knn +0.22``: the largest contributions, signed."""
    if not terms:
        return ""
    return "  why: " + ", ".join(f"{name} {value:+.4f}" for name, value in terms.items())


def clusters(
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Draw a 2-D map of user vectors to this PNG (with --tree: a labelled dendrogram)."
        ),
    ] = None,
    tree: Annotated[
        bool, typer.Option("--tree", help="Print the tree of parent interest groups.")
    ] = False,
    reviews_from: Annotated[
        Path | None,
        typer.Option(
            help="Amazon file to show the representative reviews' text from (Redis holds only "
            "their ids)."
        ),
    ] = None,
    env_file: EnvFile = None,
) -> None:
    """Print each cluster's labels, size, weight, group and representative reviews."""
    from streamrec.cli.views import load_summaries, plot_map, plot_tree, review_texts, tree_lines

    settings = load_settings(env_file)
    summaries = load_summaries(settings)
    if not summaries:
        typer.echo("no clusters in Redis yet (is the worker running?)", err=True)
        raise typer.Exit(1)
    if tree:
        for line in tree_lines(settings, summaries):
            typer.echo(line)
        if plot is not None:
            typer.echo(f"dendrogram written to {plot_tree(settings, summaries, plot)}")
        return
    wanted = [r for s in summaries for r in s.representative_reviews]
    texts = review_texts(reviews_from, wanted) if reviews_from else {}
    for summary in sorted(summaries, key=lambda s: -s.users):
        typer.echo(
            f"cluster {summary.cluster_id:3d}  users={summary.users:5d}  "
            f"weight={summary.weight:8.1f}  group={summary.group}  {', '.join(summary.labels)}"
        )
        for event_id in summary.representative_reviews:
            if event_id in texts:
                typer.echo(f"      \u201c{texts[event_id][:110]}\u201d")
    if plot is not None:
        typer.echo(f"map written to {plot_map(settings, plot)}")


def embed_cache(
    dataset: Annotated[str, typer.Argument(help="amazon or movielens")],
    out: Annotated[Path, typer.Option(help="The .npz cache file to write or extend.")],
    limit: Annotated[int | None, typer.Option(help="Only the first N interactions.")] = None,
    env_file: EnvFile = None,
) -> None:
    """Embed a data set's review texts once into a cache file (STREAMREC_EMBED_CACHE)."""
    from streamrec.core.text import clean_text
    from streamrec.embedding.cache import CachedEmbedder, precompute
    from streamrec.embedding.factory import embedder_from_settings
    from streamrec.evaluation.datasets import load_interactions

    settings = load_settings(env_file)
    embedder = embedder_from_settings(settings, cache=out)
    assert isinstance(embedder, CachedEmbedder)
    texts = [
        clean_text(i.text, settings.max_text_chars)
        for i in load_interactions(dataset, limit, data_dir=settings.data_dir)
        if i.text.strip()
    ]
    precompute(embedder, texts, progress=True)
    typer.echo(f"{embedder.save()}: {len(embedder.index)} embeddings")


def delete_user(
    user_id: Annotated[str, typer.Argument(help="The user to erase.")],
    env_file: EnvFile = None,
) -> None:
    """Erase a user: recs, assignment and recent items now; profile, history and dedup
    entries by the worker that owns the user's partition (a deletion request on the
    deletions topic, keyed by user). Anonymous aggregates (item and cluster counts) keep
    their contribution until it decays; Kafka keeps the user's raw events until the
    topics' retention (STREAMREC_TOPIC_RETENTION_MS) drops them."""
    from kafka.errors import KafkaError

    from streamrec.kafka.clients import make_producer
    from streamrec.kafka.producer import request_erasure
    from streamrec.kafka.topics import Topics, ensure_topics
    from streamrec.serving.schema import RedisKeys
    from streamrec.serving.store import RecsStore, connect

    settings = load_settings(env_file)
    store = RecsStore(connect(settings), RedisKeys(settings.redis_prefix))
    removed = store.delete_user(user_id)
    topics = Topics.from_settings(settings)
    try:
        ensure_topics(settings, [topics.deletions])
        producer = make_producer(settings)
        try:
            partition = request_erasure(producer, topics, user_id)
        finally:
            producer.close()
    except KafkaError as error:  # the keys are gone; the profile needs the request: say so
        typer.echo(
            f"removed {removed} keys, but the erasure request could not be published "
            f"({type(error).__name__}: {error}); run the command again when Kafka is up",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(
        f"removed {removed} keys; erasure requested on {topics.deletions} partition "
        f"{partition}: the worker that owns it erases the profile and checkpoints"
    )
