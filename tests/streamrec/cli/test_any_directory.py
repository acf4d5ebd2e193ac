"""Commands run from any directory: data paths do not depend on the working directory, and
a missing data file gets one line that says what to pass, not a traceback."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamrec.evaluation.datasets import (
    AMAZON_FILE,
    DatasetMissing,
    amazon_interactions,
    amazon_path,
)
from tests.conftest import AMAZON, settings_env


def streamrec(args: list[str], cwd: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "streamrec.cli", *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_amazon_file_says_what_to_pass(tmp_path: Path) -> None:
    line = one_line_error(streamrec(["produce", "amazon", "--path", "nope.json.gz"], tmp_path))
    assert "nope.json.gz" in line and "--path" in line


def test_missing_movielens_folder_says_what_to_pass(tmp_path: Path) -> None:
    line = one_line_error(streamrec(["produce", "movielens", "--folder", "."], tmp_path))
    assert "--folder" in line and "movies.csv" in line


def test_data_dir_setting_comes_first_and_defaults_ignore_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / AMAZON_FILE
    own.parent.mkdir(parents=True)
    own.write_bytes(b"")
    assert amazon_path(tmp_path) == own
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STREAMREC_DATA_DIR", raising=False)
    assert amazon_path().is_absolute() and amazon_path().exists()
    with pytest.raises(DatasetMissing, match="--path"):
        amazon_interactions(tmp_path / "missing.json.gz")


@pytest.mark.integration
def test_produce_amazon_from_a_temp_directory(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    (data / AMAZON_FILE).parent.mkdir(parents=True)
    with gzip.open(AMAZON, "rt", encoding="utf-8") as source:
        head = [next(source) for _ in range(3)]
    with gzip.open(data / AMAZON_FILE, "wt", encoding="utf-8") as target:
        target.writelines(head)
    env = {**settings_env(settings), "STREAMREC_DATA_DIR": str(data)}
    result = streamrec(["produce", "amazon"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "published 6 events" in result.stdout  # a click and a review per line of its file
