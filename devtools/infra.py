"""Local Kafka (KRaft, from Maven Central jars) and Redis for tests and the demo.

Development tooling: it starts, finds and stops server processes, so it lives
outside the installed package (``make infra-up``, ``make infra-down``,
``make infra-status``, or ``python -m devtools.infra up|down|status|wipe``).
Servers listen on loopback only. Everything they write lives under the infra
directory (``STREAMREC_INFRA_DIR``, default ``.infra/`` in the checkout), which
git ignores. ``up`` is idempotent: a server already answering is reused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from devtools.kafka_server import KAFKA_VERSION, KafkaServer
from devtools.processes import pid_alive, port_open
from devtools.redis_server import RedisServer

__all__ = [
    "KAFKA_VERSION",
    "KafkaServer",
    "LocalInfra",
    "RedisServer",
    "default_infra_dir",
    "main",
    "pid_alive",
    "port_open",
]


def default_infra_dir() -> Path:
    """``.infra/`` in the source checkout (``STREAMREC_INFRA_DIR`` overrides it)."""
    override = os.environ.get("STREAMREC_INFRA_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[1] / ".infra"


@dataclass
class LocalInfra:
    """Kafka and Redis side by side under one folder."""

    root: Path

    @classmethod
    def default(cls) -> LocalInfra:
        return cls(default_infra_dir())

    @property
    def kafka(self) -> KafkaServer:
        port = int(os.environ.get("STREAMREC_INFRA_KAFKA_PORT", "19092"))
        return KafkaServer(self.root / "kafka", port=port, controller_port=port + 1)

    @property
    def redis(self) -> RedisServer:
        port = int(os.environ.get("STREAMREC_INFRA_REDIS_PORT", "16379"))
        return RedisServer(self.root / "redis", port=port)

    def up(self) -> None:
        self.redis.start()
        self.kafka.start()

    def down(self) -> None:
        self.kafka.stop()
        self.redis.stop()

    def status(self) -> dict[str, str]:
        kafka, redis_server = self.kafka, self.redis
        return {
            "kafka": f"{kafka.bootstrap} " + ("up" if kafka.running() else "down"),
            "redis": f"{redis_server.url} " + ("up" if redis_server.running() else "down"),
        }


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.infra up|down|status|wipe``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devtools.infra", description="Local Kafka (KRaft) and Redis on loopback."
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "wipe"],
        help="up: start (reusing running servers); down: stop, leaving no "
        "process behind; status: where they listen; wipe: stop Kafka "
        "and delete its topics and offsets",
    )
    command = parser.parse_args(argv).command
    infra = LocalInfra.default()
    if command == "up":
        infra.up()
    elif command == "down":
        infra.down()
    elif command == "wipe":
        infra.kafka.wipe()
        print("kafka data deleted")
        return 0
    for name, line in infra.status().items():
        print(f"{name:6s} {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
