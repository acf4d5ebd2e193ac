"""docker-compose.yml stays in step with the settings and the local infrastructure."""

from pathlib import Path

import yaml

from devtools.infra import KAFKA_VERSION
from streamrec.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_images() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "redis", "worker", "metrics-sidecar"} <= set(services)
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert services["redis"]["image"].startswith("redis:")
    assert "--appendonly" in services["redis"]["command"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_ports_match_the_default_settings() -> None:
    defaults = Settings(_env_file=None)
    kafka_port = defaults.kafka_bootstrap_servers.rsplit(":", 1)[1]
    redis_port = defaults.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert f"{kafka_port}:{kafka_port}" in COMPOSE["services"]["kafka"]["ports"]
    assert f"{redis_port}:6379" in COMPOSE["services"]["redis"]["ports"]


def test_environment_names_are_settings() -> None:
    fields = {f"STREAMREC_{name.upper()}" for name in Settings.model_fields}
    seen = set()
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("STREAMREC_"):
                assert variable in fields, f"{name}: {variable} is not a setting"
                seen.add(variable)
    assert "STREAMREC_KAFKA_BOOTSTRAP_SERVERS" in seen and "STREAMREC_REDIS_URL" in seen


def test_entry_points_exist() -> None:
    for name in ("worker", "metrics-sidecar"):
        command = COMPOSE["services"][name]["command"]
        script = next((c for c in command if c.endswith(".py")), None)
        if script is not None:
            assert (ROOT / script).exists(), script


def test_gpu_worker_reserves_a_gpu() -> None:
    gpu = COMPOSE["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert gpu["environment"]["STREAMREC_DEVICE"] == "cuda"


def test_api_service_serves_on_its_setting_port_with_a_readiness_check() -> None:
    api = COMPOSE["services"]["api"]
    assert api["command"] == ["streamrec", "serve"]
    port = api["environment"]["STREAMREC_API_PORT"]
    assert (
        f"{port}:{port}" in api["ports"] and api["environment"]["STREAMREC_API_HOST"] == "0.0.0.0"
    )
    assert any(f"{port}/health/ready" in part for part in api["healthcheck"]["test"])
