"""``streamrec serve`` (the HTTP API and dashboard) and ``streamrec experiments``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamrec.cli.common import EnvFile, load_settings, service_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (STREAMREC_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (STREAMREC_API_PORT).")] = None,
    env_file: EnvFile = None,
) -> None:
    """Run the HTTP API (/v1, /docs, /health, /metrics) and the dashboard at /."""
    import uvicorn

    from streamrec.app.api.server import create_app

    settings = service_settings(env_file)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # per-request logs would cost more than the request at 500/s
    )


def experiments(
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw report.")] = False,
    env_file: EnvFile = None,
) -> None:
    """Print each experiment's arms: CTR and NDCG@10 with 95% intervals, p-values, verdict."""
    from streamrec.serving.schema import RedisKeys
    from streamrec.serving.store import connect

    settings = load_settings(env_file)
    raw = connect(settings).get(RedisKeys(settings.redis_prefix).experiments())
    if raw is None:
        typer.echo("no experiment report in Redis yet (is the metrics sidecar running?)", err=True)
        raise typer.Exit(1)
    report = json.loads(raw)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for name, experiment in report.items():
        typer.echo(f"experiment {name}")
        for arm, values in experiment["arms"].items():
            typer.echo(
                f"  {arm:12s} impressions={values['impressions']:7d}  "
                f"CTR={values['ctr']:.4f} {_ci(values['ctr_ci'])}  "
                f"NDCG@10={values['ndcg@10']:.4f} {_ci(values['ndcg@10_ci'])}"
            )
        for c in experiment["comparisons"]:
            typer.echo(
                f"  {c['arm']} vs {c['control']}: p(CTR)={c['p_ctr']:.3g} "
                f"p(NDCG@10)={c['p_ndcg@10']:.3g} -> {c['verdict']}"
            )


def _ci(bounds: list[float]) -> str:
    return f"[{bounds[0]:.4f}, {bounds[1]:.4f}]"
