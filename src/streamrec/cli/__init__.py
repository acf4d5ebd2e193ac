"""The ``streamrec`` command line: one Typer app over the command modules.

Commands import what they run inside their bodies, so ``streamrec --help``
stays fast. ``python -m streamrec.cli`` and the ``streamrec`` console script
both call :func:`main`.
"""

from __future__ import annotations

import typer

from streamrec.cli.api import experiments, serve
from streamrec.cli.encoder import finetune, rollout
from streamrec.cli.produce import (
    produce_amazon,
    produce_events,
    produce_movielens,
    topics_create,
    topics_delete,
)
from streamrec.cli.read import clusters, config, delete_user, embed_cache, recs
from streamrec.cli.replay import replay
from streamrec.cli.services import demo, sidecar, worker

app = typer.Typer(
    help="StreamRec: streaming recommendations from what users write.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
produce_app = typer.Typer(help="Publish events to Kafka.", no_args_is_help=True)
topics_app = typer.Typer(help="Create or delete StreamRec's topics.", no_args_is_help=True)
app.add_typer(produce_app, name="produce")
app.add_typer(topics_app, name="topics")

app.command()(config)
topics_app.command("create")(topics_create)
topics_app.command("delete")(topics_delete)
produce_app.command("amazon")(produce_amazon)
produce_app.command("movielens")(produce_movielens)
produce_app.command("events")(produce_events)
app.command()(worker)
app.command()(sidecar)
app.command()(recs)
app.command()(clusters)
app.command("embed-cache")(embed_cache)
app.command("delete-user")(delete_user)
app.command()(replay)
app.command()(demo)
app.command()(serve)
app.command()(experiments)
app.command()(rollout)
app.command()(finetune)

__all__ = [
    "app",
    "main",
    "produce_amazon",
    "produce_events",
    "produce_movielens",
    "sidecar",
    "worker",
]


def main() -> None:
    from streamrec.evaluation.datasets import DatasetMissing

    try:
        app(prog_name="streamrec")
    except DatasetMissing as error:  # one line that says what to pass, no traceback
        typer.echo(f"streamrec: {error}", err=True)
        raise SystemExit(2) from None
