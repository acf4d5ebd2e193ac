"""``streamrec rollout`` and ``streamrec finetune``: a new encoder, trained and served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, install_signal_handlers, load_settings, service_settings


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


def finetune(
    out: Annotated[
        Path, typer.Option(help="Folder to save the model to (use as STREAMREC_MODEL).")
    ],
    data: Annotated[str, typer.Option(help="amazon, movielens, events or topic.")] = "topic",
    path: Annotated[Path | None, typer.Option(help="Data set file (amazon/movielens).")] = None,
    events: Annotated[Path | None, typer.Option(help="Events file (--data events).")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N interactions.")] = None,
    share: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Train on this first share of the stream.")
    ] = 1.0,
    pairs: Annotated[int | None, typer.Option(min=2, help="At most this many pairs.")] = 4000,
    batch: Annotated[int, typer.Option(min=2, help="Pairs per batch (in-batch negatives).")] = 16,
    epochs: Annotated[int, typer.Option(min=1)] = 1,
    max_tokens: Annotated[int, typer.Option(min=8, help="Token cap while training.")] = 128,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 2e-5,
    rating_weight: Annotated[
        float, typer.Option(min=0.0, help="Weight of the rating as an auxiliary target (0: off).")
    ] = 0.0,
    env_file: EnvFile = None,
) -> None:
    """Fine-tune the encoder (STREAMREC_MODEL) on texts that belong together in the stream."""
    from streamrec.app.backfill import load_source
    from streamrec.embedding.finetune import finetune as train
    from streamrec.embedding.finetune import mine_pairs
    from streamrec.embedding.torch_backend import pick_device

    settings = load_settings(env_file)
    _, interactions = load_source(settings, data, path, events, None, None, limit)
    mined = mine_pairs(interactions[: int(len(interactions) * share)], limit=pairs)
    try:
        result = train(
            settings.model,
            mined,
            out,
            batch,
            epochs,
            learning_rate,
            max_tokens,
            rating_weight,
            pick_device(settings.device),
        )
    except ValueError as error:
        typer.echo(f"streamrec finetune: {error} (mined {len(mined)} pairs)", err=True)
        raise typer.Exit(2) from None
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in vars(result).items()}
    typer.echo(json.dumps(summary, indent=2))
