"""What every command shares: the ``--env-file`` option, settings, service set-up."""

from __future__ import annotations

import gc
import os
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
    """The command's settings, with the process tuning they ask for applied."""
    # an env file given here wins over the default .env
    settings = Settings(_env_file=env_file) if env_file is not None else Settings()  # type: ignore[call-arg]
    tune_process(settings)
    return settings


def tune_process(settings: Settings) -> None:
    """Collect cyclic garbage less often (``GC_THRESHOLD``) and keep BLAS to
    ``BLAS_THREADS`` threads.

    The worker's state is about 10^5 long-lived Python objects that every full
    collection walks; a batch allocates thousands of short-lived ones (lists, their
    items, explanations), so at Python's young threshold of 700 they survive into the
    old generation and trigger a full collection every few batches
    (``benchmarks/gc_threshold.py`` measures the gain). BLAS: see :func:`limit_blas`."""
    if settings.gc_threshold:
        gc.set_threshold(settings.gc_threshold, *gc.get_threshold()[1:])
    if settings.blas_threads:
        limit_blas(settings.blas_threads)


def limit_blas(threads: int) -> None:
    """At most ``threads`` threads in every BLAS library of the process, those loaded
    already (numpy's, loaded here) and those loaded later (OpenBLAS reads its variable
    when it loads). The state path's products are small (a thousand rows by 384): OpenBLAS
    splits them over every core and its idle threads spin: two state paths side by side on
    two cores gave 1,048 events/s against 1,479 with one thread (medians of two runs,
    ``benchmarks/blas_threads.py``). torch's
    own threads (``TORCH_THREADS``) are not BLAS threads here and keep their number."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    import numpy  # noqa: F401  # loads numpy's OpenBLAS, so the limit below reaches it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


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
