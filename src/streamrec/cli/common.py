"""What every command shares: the ``--env-file`` option, settings, service set-up."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from streamrec.core.settings import Settings

EnvFile = Annotated[
    Path | None,
    typer.Option("--env-file", help="Read settings from this file.", exists=True, dir_okay=False),
]


def load_settings(env_file: Path | None = None) -> Settings:
    if env_file is not None:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT ask a service to drain, checkpoint and stop."""

    def handler(signum: int, frame: object) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def service_settings(env_file: Path | None) -> Settings:
    """Settings of a long-running service: logging, /metrics and topics set up."""
    from streamrec.app.observability import serve_metrics, setup_logging
    from streamrec.kafka.topics import ensure_topics

    settings = load_settings(env_file)
    setup_logging(settings.log_level, settings.log_json)
    serve_metrics(settings.metrics_port)
    ensure_topics(settings)
    return settings
