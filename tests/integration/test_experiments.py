"""A/B tests end to end: the API splits users into arms, impressions carry the arm, the
sidecar scores each arm; a better arm is found significant and an A/A split is not.

The stream has four tastes, each with its own review text, so the clusters are the
tastes: the ``cluster`` list puts a user's taste first while ``trending`` mixes all
four; with users who click their taste (more often higher up) the ``cluster`` arm is
better by construction."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streamrec.app.sidecar import MetricsSidecar
from streamrec.cli import app
from streamrec.core.experiments import Arm, Experiment
from streamrec.core.settings import Settings
from streamrec.kafka.topics import ensure_topics
from tests.conftest import replace
from tests.integration.api_server import replay_sessions, seed, serving, small_stream

pytestmark = pytest.mark.integration

USERS = 160


def run_experiment(settings: Settings, experiment: Experiment) -> dict:
    configured = replace(
        settings,
        experiments=[experiment.model_dump()],
        experiment_min_impressions=250,
        topic_impressions=f"{settings.topic_impressions}-{experiment.name}",
        metrics_group=f"{settings.metrics_group}-{experiment.name}",
    )
    ensure_topics(configured)
    with serving(configured) as url:
        replay_sessions(url, USERS, rounds=4, seed_=len(experiment.name))
    MetricsSidecar(configured).run(until_caught_up=True)
    env = {
        "STREAMREC_REDIS_URL": settings.redis_url,
        "STREAMREC_REDIS_PREFIX": settings.redis_prefix,
    }
    printed = CliRunner().invoke(app, ["experiments"], env=env)
    assert printed.exit_code == 0 and f"experiment {experiment.name}" in printed.output
    raw = CliRunner().invoke(app, ["experiments", "--json"], env=env).output
    return json.loads(raw)[experiment.name]


def test_better_arm_is_significant_and_an_aa_split_is_not(settings) -> None:
    seed(settings, small_stream(n_users=USERS, per_user=2))
    ab = run_experiment(
        settings,
        Experiment(
            name="ab",
            arms=[
                Arm(name="trending", strategy="trending"),
                Arm(name="in-cluster", strategy="cluster"),
            ],
        ),
    )
    arms = ab["arms"]
    assert arms["trending"]["impressions"] + arms["in-cluster"]["impressions"] == 4 * USERS
    assert min(a["impressions"] for a in arms.values()) >= 250  # past the horizon
    comparison = ab["comparisons"][0]
    assert comparison["arm"] == "in-cluster" and comparison["verdict"] == "arm better"
    assert arms["in-cluster"]["ndcg@10_ci"][0] > arms["trending"]["ndcg@10_ci"][1]

    aa = run_experiment(
        settings,
        Experiment(
            name="aa", arms=[Arm(name="a1", strategy="user"), Arm(name="a2", strategy="user")]
        ),
    )
    comparison = aa["comparisons"][0]
    assert comparison["verdict"] == "no difference", comparison
    assert comparison["p_ctr"] > 0.025 and comparison["p_ndcg@10"] > 0.025
