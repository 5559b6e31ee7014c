"""api/selfstats.py: a process's memory, CPU and connections read from its own /proc entries."""

from __future__ import annotations

import os
import socket

from api.selfstats import SelfSampler, tcp_counts

HEADER_LESS = [
    # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    "0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 111 1",
    "1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 0 0 222 1",
    "2: 0100007F:1F90 0100007F:D432 06 00000000:00000000 00:00000000 00000000 0 0 333 1",  # TIME_WAIT
    "3: 0100007F:1F90 0100007F:D433 01 00000000:00000000 00:00000000 00000000 0 0 444 1",  # another process
    "garbage",
]


def test_tcp_counts_only_established_sockets_of_the_process_and_those_on_its_port() -> None:
    assert tcp_counts(HEADER_LESS, {"111", "222", "333"}, 0x1F90) == (2, 1)
    assert tcp_counts(HEADER_LESS, {"111", "222", "333"}, None) == (2, 0)
    assert tcp_counts(HEADER_LESS, set(), 0x1F90) == (0, 0)


def test_a_sample_has_this_process_memory_cpu_and_its_connections() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sampler = SelfSampler("api", port=port, live=lambda: 3)
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                sum(i * i for i in range(2_000_000))  # CPU time to be seen
                sample = sampler.sample()
                assert client.fileno() > 0
    assert (sample.role, sample.pid, sample.host) == ("api", os.getpid(), socket.gethostname())
    assert sample.rss_bytes is not None and sample.rss_bytes > 10 * 1024 * 1024  # a Python interpreter
    assert sample.cpu_percent is not None and sample.cpu_percent > 0
    # both ends live in this process: the accepted one is on the port, the client's is not
    assert sample.http_connections == 1
    assert sample.tcp_connections is not None and sample.tcp_connections >= 2
    assert sample.live_connections == 3
    assert sample.at_ms >= sample.started_ms


def test_a_process_without_a_port_or_live_feed_reports_none_for_them() -> None:
    sample = SelfSampler("stream").sample()
    assert sample.http_connections is None and sample.live_connections is None
    assert sample.tcp_connections is not None
