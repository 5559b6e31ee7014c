"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, assembled from Maven Central jars.

Why Kafka 4.3.1: it is the newest 4.x line whose broker we ran here with both clients perfpulse
uses. aiokafka >= 0.13 negotiates API versions per connection, which Kafka 4 requires since it
removed the old protocol versions (KIP-896); faust-streaming 0.15.3 on aiokafka 0.14 joins groups,
rebalances and commits against it (tests/stream and tests/e2e exercise those paths). Kafka 3.x would
also work with these clients but is past its support window.

Jars are fetched once with ``mvn dependency:copy-dependencies`` over ``files/kafka-pom.xml`` into a
cache shared by every data dir; the broker's log dir lives under the data dir. Readiness is a
successful metadata request, never a sleep.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.process import InfraError, alive_pid, start_detached, stop_pid, wait_until

__all__ = ["KAFKA_VERSION", "LocalKafka", "kafka_reachable", "metadata_ok"]

KAFKA_VERSION = "4.3.1"
_FILES = Path(__file__).parent / "files"


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "perfpulse"


@dataclass(frozen=True)
class LocalKafka:
    """One broker: ``port`` for clients, ``port + 100`` for its controller, state under ``home``.

    Not ``port + 1``: 9093 is Alertmanager's port (Debian's package starts it as a service)."""

    home: Path  # e.g. <data dir>/kafka
    port: int = 9092
    heap_mb: int = 512

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def controller_port(self) -> int:
        """``port + 100``, or the port an already formatted data dir was made with (a KRaft log
        records its controller's address; changing it would leave the broker without a quorum)."""
        written = self.home / "server.properties"
        if (self.home / "data" / "meta.properties").exists() and written.exists():
            match = re.search(r"^controller\.quorum\.bootstrap\.servers=.*:(\d+)\s*$", written.read_text(), re.M)
            if match:
                return int(match.group(1))
        return self.port + 100

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def libs_dir(self) -> Path:
        return _cache_root() / f"kafka-{KAFKA_VERSION}" / "libs"

    def ensure_jars(self) -> Path:
        """Download the broker's jars once (Maven Central); return the directory holding them."""
        marker = self.libs_dir / ".complete"
        if marker.exists():
            return self.libs_dir
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise InfraError("cannot fetch Kafka: java and mvn must be on PATH (run `make deps`)")
        self.libs_dir.mkdir(parents=True, exist_ok=True)
        command = [
            "mvn", "-q", "-B", "-f", str(_FILES / "kafka-pom.xml"),
            f"-Dkafka.version={KAFKA_VERSION}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={self.libs_dir}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"cannot fetch Kafka {KAFKA_VERSION} jars with Maven: {result.stdout[-2000:]}")
        marker.touch()
        return self.libs_dir

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java", f"-Xms{self.heap_mb // 2}m", f"-Xmx{self.heap_mb}m", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_FILES / 'kafka-log4j2.properties'}",
            "-cp", f"{self.libs_dir}/*", main_class, *args,
        ]  # fmt: skip

    def _write_config(self) -> Path:
        config = self.home / "server.properties"
        text = (_FILES / "kafka-server.properties").read_text()
        config.write_text(text.format(port=self.port, controller_port=self.controller_port, log_dir=self.home / "data"))
        return config

    def _format(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        argv = self._java("kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(config))
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"cannot format Kafka storage in {self.home / 'data'}: {result.stdout[-2000:]}")

    def running_pid(self) -> int | None:
        return alive_pid(self.pid_file)

    def is_ready(self) -> bool:
        """True when a metadata request to the broker succeeds."""
        return metadata_ok(self.bootstrap)

    def start(self, timeout_s: float = 90.0) -> str:
        """Start the broker unless one already answers on the port; wait until it serves metadata.

        Returns ``"started"``, ``"running"`` (ours, already up) or ``"external"`` (someone else's).
        """
        if self.running_pid() is not None:
            wait_until(self.is_ready, timeout_s, f"Kafka on {self.bootstrap}", lambda: self.running_pid() is not None)
            return "running"
        if _port_open(self.port) and self.is_ready():
            return "external"
        if _port_open(self.port) or _port_open(self.controller_port):
            taken = f"port {self.port} or {self.controller_port}"
            raise InfraError(f"cannot start Kafka: {taken} is taken by another program")
        self.home.mkdir(parents=True, exist_ok=True)
        self.ensure_jars()
        config = self._write_config()
        self._format(config)
        start_detached(self._java("kafka.Kafka", str(config)), self.log_file, self.pid_file)
        wait_until(self.is_ready, timeout_s, f"Kafka on {self.bootstrap}", lambda: self.running_pid() is not None)
        return "started"

    def stop(self) -> bool:
        """Stop the broker this data dir started (controlled shutdown). True if one was running."""
        return stop_pid(self.pid_file, timeout_s=60.0)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def kafka_reachable(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a metadata request to ``bootstrap`` succeeds within ``timeout_s``."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def metadata_ok(bootstrap: str) -> bool:
    """Blocking form of :func:`kafka_reachable`; a closed port answers False at once (without
    a client that would log a connection error per attempt)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            pass
    except (OSError, ValueError):
        return False
    return asyncio.run(kafka_reachable(bootstrap, timeout_s=3.0))
