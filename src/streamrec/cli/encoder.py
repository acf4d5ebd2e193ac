"""``streamrec rollout`` and ``streamrec finetune``: a new encoder, trained and served."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, install_signal_handlers, service_settings


def rollout(
    model_path: Annotated[str, typer.Argument(help="The new encoder: a local folder or name.")],
    version: Annotated[
        str | None, typer.Option(help="Version name (default m<UTC time>); names the prefix.")
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="After the switch, keep running as the serving worker group.")
    ] = False,
    env_file: EnvFile = None,
) -> None:
    """Replay the topics with a new encoder into a fresh prefix; switch readers once caught up."""
    from streamrec.app.rollout import RolloutError, version_settings
    from streamrec.app.rollout import rollout as run_rollout
    from streamrec.app.worker import EmbedWorker

    settings = service_settings(env_file)
    try:
        result = run_rollout(settings, model_path, version)
    except RolloutError as error:
        typer.echo(f"streamrec rollout: {error}", err=True)
        raise typer.Exit(2) from None
    summary = {
        "active": result.active.model_dump(),
        "previous": result.previous.model_dump() if result.previous else None,
        "events": result.events,
        "catch_up_s": round(result.catch_up_s, 1),
    }
    typer.echo(json.dumps(summary, indent=2))
    if follow:  # the new group resumes from its own checkpoint and commits
        worker = EmbedWorker(version_settings(settings, model_path, result.active.version))
        install_signal_handlers(worker.stop)
        worker.run()
