"""The local Redis: a server that cannot start says why; one with a password refuses clients without
it, keeps it off its command line, and perfpulse's clients reach it through the URL, over TLS too."""

from __future__ import annotations

import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
import redis.asyncio as aioredis

from infra import InfraError, LocalRedis
from perfpulse.settings import mask_url
from perfpulse.storedfeed import StoredFeed
from tests.perfpulse.test_storedfeed import CELL, subscribed
from tests.ports import free_broker_port
from tests.tlscerts import SERVER, make_ca, sign


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


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (make deps)")
async def test_a_password_is_required_kept_off_the_command_line_and_masked(tmp_path: Path) -> None:
    password = 'pw/with:odd "chars" \\ 91c'
    redis = LocalRedis(tmp_path / "redis", port=free_broker_port(), password=password)
    assert redis.start() == "started"
    try:
        assert redis.is_ready()
        assert not LocalRedis(redis.home, port=redis.port).is_ready()  # no AUTH: NOAUTH, not PONG
        assert password.encode() not in _command_line(redis)
        assert password not in repr(redis)
        assert mask_url(redis.url) == f"redis://:***@127.0.0.1:{redis.port}/0"
        with pytest.raises(redis_client.AuthenticationError):
            await _ping(f"redis://127.0.0.1:{redis.port}/0")
        with pytest.raises(redis_client.AuthenticationError):
            await _ping(f"redis://:wrong@127.0.0.1:{redis.port}/0")
        # perfpulse's Redis clients take the password from the URL: the sink's feed publishes through it
        await _feed_round_trip(redis.url)
    finally:
        redis.stop()


def _command_line(redis: LocalRedis) -> bytes:
    """The running server's arguments, as ``ps`` shows them to every local user."""
    pid = redis.running_pid()
    assert pid is not None
    return Path(f"/proc/{pid}/cmdline").read_bytes()


async def _feed_round_trip(url: str) -> None:
    """What the sink's stored-windows feed publishes at ``url`` reaches a subscriber there."""
    channel = f"stored-{uuid.uuid4().hex[:8]}"
    listen = await subscribed(url, channel, 1)
    await StoredFeed(url, channel).publish([CELL], [])
    assert await listen == [[CELL]]


async def _ping(url: str) -> None:
    client: Any = aioredis.from_url(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (make deps)")
async def test_rediss_with_a_password_carries_perfpulse_s_messages_and_refuses_plain_clients(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "tls")
    cert, key = sign(tmp_path / "tls", "redis", SERVER)
    redis = LocalRedis(
        tmp_path / "redis", port=free_broker_port(), password="pw-tls-5e0d", tls_cert=cert, tls_key=key, tls_ca=ca
    )
    assert redis.start() == "started"
    try:
        assert redis.url.startswith(f"rediss://:pw-tls-5e0d@127.0.0.1:{redis.port}/0?ssl_ca_certs=")
        assert mask_url(redis.url).startswith(f"rediss://:***@127.0.0.1:{redis.port}/0?")
        with pytest.raises(redis_client.ConnectionError):  # plain text to a TLS port
            await _ping(f"redis://:pw-tls-5e0d@127.0.0.1:{redis.port}/0?socket_timeout=5")
        await _feed_round_trip(redis.url)
    finally:
        redis.stop()
