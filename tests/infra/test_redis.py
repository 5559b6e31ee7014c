"""The local Redis: a server that cannot start says why."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from infra import InfraError, LocalRedis


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (make deps)")
def test_a_taken_port_fails_the_start_with_redis_s_reason(tmp_path: Path) -> None:
    with socket.socket() as squatter:  # listens, but answers no PING: not a Redis
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        redis = LocalRedis(tmp_path / "redis", port=int(squatter.getsockname()[1]))
        with pytest.raises(InfraError) as failed:
            redis.start(timeout_s=10)
    message = str(failed.value)
    assert message.startswith(f"cannot start Redis on port {redis.port}: the process exited with code 1; last lines")
    assert "Address already in use" in message
    assert redis.running_pid() is None
