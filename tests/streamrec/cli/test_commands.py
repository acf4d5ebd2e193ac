"""The command line: every documented command is there, dev tooling is not."""

import json

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
    "rollout",
    "finetune",
}


def test_documented_commands_and_no_infra() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(commands) == COMMANDS  # no "infra": starting and killing servers is devtools'
    assert set(commands["produce"].commands) == {"amazon", "movielens", "events"}
    assert set(commands["topics"].commands) == {"create", "delete"}
    assert CliRunner().invoke(app, ["--help"]).exit_code == 0


def test_config_shows_the_clusterer_and_its_parameters() -> None:
    import json

    env = {"STREAMREC_CLUSTERER": "dbstream", "STREAMREC_DBSTREAM_CLUSTERING_THRESHOLD": "0.6"}
    result = CliRunner().invoke(app, ["config"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["clusterer"], shown["dbstream_clustering_threshold"]) == ("dbstream", 0.6)
    for name in ("cluster_k_min", "cluster_k_max", "cluster_split_spread", "river_kmeans_sigma"):
        assert name in shown
    assert (shown["cluster_groups"], shown["group_min_cluster_users"]) == (4, 3)
    bad = CliRunner().invoke(app, ["config"], env={"STREAMREC_CLUSTERER": "dbscan"})
    assert bad.exit_code != 0 and "kmeans-dynamic" in f"{bad.output}{bad.exception}"


def test_finetune_with_too_few_pairs_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    events = tmp_path / "events.jsonl"
    review = {"type": "review", "event_id": "e1", "user_id": "u", "item_id": "i", "text": "ok"}
    events.write_text(json.dumps({**review, "ts": 1.0}) + "\n")
    args = ["finetune", "--out", str(tmp_path / "m"), "--data", "events", "--events", str(events)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "at least 2 pairs" in result.output and "mined 0 pairs" in result.output
    assert not (tmp_path / "m").exists()
