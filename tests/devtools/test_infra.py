"""The local servers start, answer, are reused, and stop without leftovers."""

from __future__ import annotations

import pytest
import redis

from devtools.infra import KafkaServer, LocalInfra, RedisServer, pid_alive, port_open

pytestmark = pytest.mark.integration


def test_redis_with_password_starts_persists_and_stops(tmp_path) -> None:
    server = RedisServer(tmp_path / "redis", port=26391, password="pw-123")
    server.start()
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=26391).ping()
        client = redis.Redis(port=26391, password="pw-123")
        client.set("k", "v")
        pid = server.pid()
        server.start()  # idempotent: the running server is reused
        assert server.pid() == pid
        server.stop()
        assert pid is not None and not pid_alive(pid)
        server.start()  # append-only file brings the data back
        assert redis.Redis(port=26391, password="pw-123").get("k") == b"v"
    finally:
        server.stop()
    assert not port_open(26391)


@pytest.mark.slow
def test_kafka_starts_answers_metadata_and_stops_cleanly(tmp_path, infra: LocalInfra) -> None:
    from kafka import KafkaAdminClient

    server = KafkaServer(
        tmp_path / "kafka", port=29192, controller_port=29193, libs_dir=infra.kafka.libs
    )
    server.start()
    pid = server.pid()
    try:
        admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
        assert admin.describe_cluster()["controller_id"] == 1
        admin.close()
    finally:
        server.stop()
    assert pid is not None and not pid_alive(pid)
    assert not port_open(29192) and not port_open(29193)
    assert server.pid() is None
