"""A throwaway Redis Cluster of 3 masters on loopback (dev tooling only).

Three ``redis-server`` processes with ``cluster-enabled yes`` on free ports
(each port's cluster bus, port + 10000, free too), joined by
``redis-cli --cluster create ... --cluster-replicas 0``. Everything lives under
``root``; :meth:`RedisCluster.stop` ends exactly the processes it started.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.processes import terminate


def free_cluster_ports(count: int, low: int = 20000, high: int = 30000) -> list[int]:
    """``count`` ports whose cluster-bus ports (+10000) are free as well."""
    ports: list[int] = []
    for port in range(low, high):
        if all(_free(p) for p in (port, port + 10000)):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free port pairs in {low}-{high}")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RedisCluster:
    root: Path
    masters: int = 3
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The URL StreamRec takes: any one node; the client finds the others."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30.0) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server/redis-cli not found: install Debian's redis-server")
        self.ports = free_cluster_ports(self.masters)
        for port in self.ports:
            self.processes.append(self._start_node(binary, port))
        for port in self.ports:
            self._wait(lambda p=port: _answers(p), timeout, f"node {port} did not answer")
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        self._wait(self._ready, timeout, "the cluster did not reach cluster_state:ok")

    def _start_node(self, binary: str, port: int) -> subprocess.Popen:
        node = self.root / str(port)
        node.mkdir(parents=True, exist_ok=True)
        lines = [
            "bind 127.0.0.1",
            f"port {port}",
            f"dir {node}",
            "cluster-enabled yes",
            f"cluster-config-file {node / 'nodes.conf'}",
            "cluster-node-timeout 5000",
            "appendonly no",
            "save ''",
            f"logfile {node / 'redis.log'}",
        ]
        conf = node / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        return subprocess.Popen(
            [binary, str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _ready(self) -> bool:
        import redis

        for port in self.ports:
            info = redis.Redis(port=port, socket_timeout=1).cluster("info")
            if info.get("cluster_state") != "ok":
                return False
        return True

    def _wait(self, condition, timeout: float, message: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"a cluster node exited; see the logs under {self.root}")
            if condition():
                return
            time.sleep(0.1)
        raise TimeoutError(message)

    def stop(self) -> None:
        terminate([p.pid for p in self.processes if p.poll() is None], timeout=15)
        self.processes.clear()


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False
