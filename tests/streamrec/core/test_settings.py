import json

from typer.testing import CliRunner

from streamrec.cli import app
from streamrec.core.settings import Settings, mask_url


def test_env_prefix_sets_fields(monkeypatch) -> None:
    monkeypatch.setenv("STREAMREC_BATCH_SIZE", "7")
    monkeypatch.setenv("STREAMREC_TOPIC_REVIEWS", "r")
    settings = Settings(_env_file=None)
    assert settings.batch_size == 7
    assert settings.topic_reviews == "r"


def test_secrets_are_masked_in_config_output(monkeypatch) -> None:
    monkeypatch.setenv("STREAMREC_REDIS_URL", "redis://app:s3cret@db:6379/0")
    monkeypatch.setenv("STREAMREC_KAFKA_SASL_PASSWORD", "kafka-pw")
    monkeypatch.setenv("STREAMREC_REDIS_PASSWORD", "redis-pw")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output and "kafka-pw" not in result.output
    assert "redis-pw" not in result.output
    shown = json.loads(result.output)
    assert shown["redis_url"] == "redis://app:******@db:6379/0"
    assert shown["kafka_sasl_password"] == "******"


def test_sasl_options_pass_through() -> None:
    settings = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password="pw",
    )
    options = settings.kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "pw"


def test_mask_url_leaves_urls_without_password_alone() -> None:
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_to_env_round_trips_with_secrets_in_clear() -> None:
    from streamrec.core.settings import Settings

    settings = Settings(_env_file=None, redis_password="s3cret", n_clusters=7)  # type: ignore[call-arg]
    env = settings.to_env()
    assert env["STREAMREC_REDIS_PASSWORD"] == "s3cret"
    assert env["STREAMREC_N_CLUSTERS"] == "7"
    assert not any(key.endswith("_REDIS_USERNAME") for key in env)  # None is left out


def test_user_history_may_not_be_shorter_than_the_recent_items() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="user_history"):
        Settings(_env_file=None, user_history=10, recent_items=20)
