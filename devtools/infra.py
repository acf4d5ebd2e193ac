"""Local Kafka (KRaft, from Maven Central jars) and Redis for tests and the demo.

Development tooling: it starts, finds and stops server processes, so it lives
outside the installed package (``make infra-up``, ``make infra-down``,
``make infra-status``, or ``python -m devtools.infra up|down|status|wipe``).
Servers listen on loopback only. Everything they write lives under the infra
directory (``STREAMREC_INFRA_DIR``, default ``.infra/`` in the checkout), which
git ignores. ``up`` is idempotent: a server already answering is reused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.25.5"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamrec.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def default_infra_dir() -> Path:
    """``.infra/`` in the source checkout (``STREAMREC_INFRA_DIR`` overrides it)."""
    override = os.environ.get("STREAMREC_INFRA_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[1] / ".infra"


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pids_matching(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split() if int(p) != os.getpid()]


def _terminate(pids: list[int], timeout: float = 30.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class KafkaServer:
    """A single-node Kafka in KRaft mode (broker and controller in one JVM)."""

    root: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "768m"
    libs_dir: Path | None = None  # share one download of the jars between servers

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        return self.libs_dir or self.root / "libs"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def pidfile(self) -> Path:
        return self.root / "kafka.pid"

    def install(self) -> None:
        """Resolve Kafka and its runtime dependencies from Maven Central once."""
        stamp = self.libs / f".kafka-{KAFKA_VERSION}"
        if stamp.exists():
            return
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven ('mvn') is needed to fetch Kafka from Maven Central")
        build = self.root / "maven"
        build.mkdir(parents=True, exist_ok=True)
        (build / "pom.xml").write_text(
            _POM.format(scala=SCALA_VERSION, kafka=KAFKA_VERSION, log4j=LOG4J_VERSION)
        )
        shutil.rmtree(self.libs, ignore_errors=True)
        subprocess.run(
            [
                "mvn", "-q", "-B", "-f", str(build / "pom.xml"),
                "dependency:copy-dependencies", "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs}",
            ],
            check=True,
        )
        stamp.touch()

    def _write_config(self) -> None:
        data = self.root / "data"
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "log.retention.hours": "-1",
        }
        self.config.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        (self.root / "log4j2.properties").write_text(_LOG4J.format(log=logs / "server.log"))

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def _format(self) -> None:
        data = self.root / "data"
        if (data / "meta.properties").exists():
            return
        cluster_id = uuid.uuid4().hex[:22]
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.config), "--ignore-formatted"),
            check=True, capture_output=True,
        )

    def pid(self) -> int | None:
        pid = _read_pid(self.pidfile)
        return pid if pid is not None and _pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and port_open(self.port)

    def start(self, timeout: float = 90.0) -> None:
        if self.running():
            return
        self.install()
        self._write_config()
        self._format()
        log = open(self.root / "logs" / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
        process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.config)),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pidfile.write_text(str(process.pid))
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the broker answers a metadata request."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise RuntimeError(f"Kafka exited; see {self.root / 'logs'}")
            if port_open(self.port):
                try:
                    admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                             request_timeout_ms=5000)
                    try:
                        admin.describe_cluster()
                        return
                    finally:
                        admin.close()
                except (KafkaError, OSError) as error:
                    last_error = error
            time.sleep(0.5)
        raise TimeoutError(f"Kafka did not answer on {self.bootstrap}: {last_error}")

    def stop(self) -> None:
        pids = [p for p in [self.pid()] if p is not None]
        pids += _pids_matching(str(self.config))
        _terminate(sorted(set(pids)))
        self.pidfile.unlink(missing_ok=True)

    def wipe(self) -> None:
        """Stop and delete every topic and offset."""
        self.stop()
        shutil.rmtree(self.root / "data", ignore_errors=True)


@dataclass
class RedisServer:
    """A ``redis-server`` with append-only persistence, optionally password protected."""

    root: Path
    port: int = 16379
    password: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.root / "redis.pid"

    def pid(self) -> int | None:
        pid = _read_pid(self.pidfile)
        return pid if pid is not None and _pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and port_open(self.port)

    def start(self, timeout: float = 20.0) -> None:
        if self.running():
            return
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if binary is None:
            raise RuntimeError("redis-server not found: install Debian's redis-server package")
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        lines = [
            "bind 127.0.0.1", f"port {self.port}", f"dir {self.root}", "appendonly yes",
            "appendfsync everysec", "save ''", "daemonize no", "protected-mode yes",
            f"pidfile {self.root / 'redis-server.pid'}", f"logfile {self.root / 'redis.log'}",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        process = subprocess.Popen(
            [binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.pidfile.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.root / 'redis.log'}")
            if self._answers():
                return
            time.sleep(0.1)
        raise TimeoutError(f"Redis did not answer on port {self.port}")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, password=self.password,
                                    socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        pids = [p for p in [self.pid()] if p is not None]
        pids += _pids_matching(str(self.root / "redis.conf"))
        _terminate(sorted(set(pids)), timeout=15)
        self.pidfile.unlink(missing_ok=True)


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

    parser = argparse.ArgumentParser(prog="python -m devtools.infra",
                                     description="Local Kafka (KRaft) and Redis on loopback.")
    parser.add_argument("command", choices=["up", "down", "status", "wipe"],
                        help="up: start (reusing running servers); down: stop, leaving no "
                             "process behind; status: where they listen; wipe: stop Kafka "
                             "and delete its topics and offsets")
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
