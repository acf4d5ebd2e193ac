"""The command line: every documented command is there, dev tooling is not."""

import typer
from typer.testing import CliRunner

from streamrec.cli import app

COMMANDS = {
    "config",
    "worker",
    "sidecar",
    "recs",
    "clusters",
    "embed-cache",
    "delete-user",
    "replay",
    "demo",
    "produce",
    "topics",
    "serve",
    "experiments",
}


def test_documented_commands_and_no_infra() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(commands) == COMMANDS  # no "infra": starting and killing servers is devtools'
    assert set(commands["produce"].commands) == {"amazon", "movielens", "events"}
    assert set(commands["topics"].commands) == {"create", "delete"}
    assert CliRunner().invoke(app, ["--help"]).exit_code == 0
