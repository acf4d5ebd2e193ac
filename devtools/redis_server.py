"""A ``redis-server`` on loopback with append-only persistence (dev tooling only)."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import pid_alive, pids_matching, port_open, read_pid, terminate


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
        pid = read_pid(self.pidfile)
        return pid if pid is not None and pid_alive(pid) else None

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
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {self.root}",
            "appendonly yes",
            "appendfsync everysec",
            "save ''",
            "daemonize no",
            "protected-mode yes",
            f"pidfile {self.root / 'redis-server.pid'}",
            f"logfile {self.root / 'redis.log'}",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        process = subprocess.Popen(
            [binary, str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
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
            return bool(
                redis.Redis(port=self.port, password=self.password, socket_timeout=1).ping()
            )
        except redis.RedisError:
            return False

    def stop(self) -> None:
        pids = [p for p in [self.pid()] if p is not None]
        pids += pids_matching(str(self.root / "redis.conf"))
        terminate(sorted(set(pids)), timeout=15)
        self.pidfile.unlink(missing_ok=True)
