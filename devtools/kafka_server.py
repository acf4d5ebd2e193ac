"""A single-node Kafka (KRaft) from Maven Central jars, on loopback (dev tooling only)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import pid_alive, pids_matching, port_open, read_pid, terminate

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
                "mvn",
                "-q",
                "-B",
                "-f",
                str(build / "pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
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
            "java",
            f"-Xmx{self.heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _format(self) -> None:
        data = self.root / "data"
        if (data / "meta.properties").exists():
            return
        cluster_id = uuid.uuid4().hex[:22]
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config),
                "--ignore-formatted",
            ),
            check=True,
            capture_output=True,
        )

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if pid is not None and pid_alive(pid) else None

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
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
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
                    admin = KafkaAdminClient(
                        bootstrap_servers=self.bootstrap, request_timeout_ms=5000
                    )
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
        pids += pids_matching(str(self.config))
        terminate(sorted(set(pids)))
        self.pidfile.unlink(missing_ok=True)

    def wipe(self) -> None:
        """Stop and delete every topic and offset."""
        self.stop()
        shutil.rmtree(self.root / "data", ignore_errors=True)
