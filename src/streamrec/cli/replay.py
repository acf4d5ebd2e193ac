"""``streamrec replay``: backfill evaluation (the body belongs to :mod:`streamrec.evaluation`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, load_settings


def replay(
    data: Annotated[
        str,
        typer.Option(
            help="amazon, movielens, events (with --events) or "
            "topic (the configured review and click topics)"
        ),
    ] = "amazon",
    path: Annotated[Path | None, typer.Option(help="Data set file or folder.")] = None,
    events: Annotated[Path | None, typer.Option(help="JSON-lines events file.")] = None,
    from_offset: Annotated[int | None, typer.Option(help="With --data topic: start here.")] = None,
    from_time: Annotated[
        str | None,
        typer.Option(help="With --data topic: start at this ISO time (offsets_for_times)."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="inprocess (all strategies and baselines) or "
            "pipeline (through Kafka, the worker and Redis)"
        ),
    ] = "inprocess",
    limit: Annotated[int | None, typer.Option(help="Only the first N interactions.")] = None,
    learning_rates: Annotated[
        str, typer.Option(help="Ranker learning rates to compare on the tuning slice.")
    ] = "0.02,0.05,0.1,0.2,0.5",
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples (users) for the confidence intervals.")
    ] = 1000,
    batch_reviews: Annotated[
        int | None,
        typer.Option(
            help="With --mode pipeline: the worker's micro-batch (default: one event at a time)."
        ),
    ] = None,
    partitions: Annotated[
        int, typer.Option(help="With --mode pipeline: partitions per topic.")
    ] = 1,
    sequential: Annotated[
        bool,
        typer.Option(
            help="Also compare the SASRec baselines (periodic and incremental; minutes more)."
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=2,
            help="Processes the models are split over (the report is the same to the byte).",
        ),
    ] = 2,
    out: Annotated[Path, typer.Option(help="Where metrics.json, report.md and plots go.")] = Path(
        "out/replay"
    ),
    env_file: EnvFile = None,
) -> None:
    """Serve-then-observe backfill evaluation with full ranking; writes a report."""
    from streamrec.app.backfill import load_source, reproduce_command, run_replay

    settings = load_settings(env_file)
    name, interactions = load_source(settings, data, path, events, from_offset, from_time, limit)
    rates = tuple(float(r) for r in learning_rates.split(","))
    command = reproduce_command(
        data, limit, rates, bootstrap, path, events, from_offset, from_time, sequential
    )
    summary = run_replay(
        settings,
        name,
        interactions,
        mode,
        rates,
        out,
        bootstrap,
        command,
        batch_reviews,
        partitions,
        sequential,
        workers,
    )
    typer.echo(json.dumps(summary, indent=2))
