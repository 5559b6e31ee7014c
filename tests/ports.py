"""Free ports for brokers a test starts on its own."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_broker_port"]


def free_broker_port() -> int:
    """A port p with p and p + 100 (the broker's controller, infra/kafka.py) free."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as controller, contextlib.suppress(OSError):
            controller.bind(("127.0.0.1", port + 100))
            return port
    raise RuntimeError("cannot find a free port p with p + 100 free")
