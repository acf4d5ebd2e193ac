"""``streamrec worker`` and ``streamrec sidecar``: the long-running services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, install_signal_handlers, load_settings, service_settings


def worker(
    until_caught_up: Annotated[
        bool, typer.Option(help="Exit once every partition is consumed to its end.")
    ] = False,
    idle_timeout: Annotated[
        float | None, typer.Option(help="Exit after this many seconds without data.")
    ] = None,
    env_file: EnvFile = None,
) -> None:
    """Run the embed worker (SIGTERM drains, checkpoints and commits)."""
    from streamrec.app.worker import EmbedWorker

    embed_worker = EmbedWorker(service_settings(env_file))
    install_signal_handlers(embed_worker.stop)
    embed_worker.run(until_caught_up=until_caught_up, idle_timeout_s=idle_timeout)
    typer.echo(
        json.dumps(
            {
                "events": embed_worker.events_total,
                "dead_letters": embed_worker.dead_letters,
                "duplicates": embed_worker.duplicates,
                "busy_since": embed_worker.busy_since,
                "busy_until": embed_worker.busy_until,
            }
        )
    )


def sidecar(
    window: Annotated[int, typer.Option(help="Count window (clicks).")] = 1000,
    period: Annotated[float, typer.Option(help="Time window (seconds of event time).")] = 3600,
    until_caught_up: Annotated[bool, typer.Option()] = False,
    env_file: EnvFile = None,
) -> None:
    """Run the metrics sidecar: rolling NDCG/HR/MAP/MRR/CTR of served lists per strategy."""
    from streamrec.app.sidecar import MetricsSidecar

    metrics_sidecar = MetricsSidecar(service_settings(env_file), window=window, period_s=period)
    install_signal_handlers(metrics_sidecar.stop)
    metrics_sidecar.run(until_caught_up=until_caught_up)


def demo(
    limit: Annotated[int | None, typer.Option(help="Only the first N reviews.")] = None,
    path: Annotated[Path | None, typer.Option(help="Amazon reviews file.")] = None,
    env_file: EnvFile = None,
) -> None:
    """Replay the Amazon set through Kafka -> worker -> Redis and summarise.

    Resets the configured topics and Redis namespace first, so it can be rerun.
    """
    from streamrec.cli.demo import run_demo

    settings = load_settings(env_file)
    summary = run_demo(settings, path=path, limit=limit)
    typer.echo(json.dumps(summary, indent=2))
