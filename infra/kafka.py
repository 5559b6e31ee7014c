"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, assembled from Maven Central jars.

Besides its PLAINTEXT listener (readiness, inter-broker traffic) a broker may open secured ones
(:class:`SecureListeners`): SASL_PLAINTEXT with PLAIN and SCRAM users, and SSL from PEM files.

Why Kafka 4.3.1: it is the newest 4.x line whose broker we ran here with both clients perfpulse
uses. aiokafka >= 0.13 negotiates API versions per connection, which Kafka 4 requires since it
removed the old protocol versions (KIP-896); faust-streaming 0.15.3 on aiokafka 0.14 joins groups,
rebalances and commits against it (tests/stream and tests/e2e exercise those paths). Kafka 3.x would
also work with these clients but is past its support window.

Jars are fetched once with ``mvn dependency:copy-dependencies`` over ``files/kafka-pom.xml`` into a
cache shared by every data dir (under a lock: two processes fetching at once would write the same
jars); the broker's log dir lives under the data dir. Readiness is a successful metadata request,
never a sleep.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from infra.process import InfraError, alive_pid, exclusive, run_tool, start_detached, stop_pid, wait_until
from schemas.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["KAFKA_VERSION", "LocalKafka", "SecureListeners", "kafka_reachable", "metadata_ok"]

KAFKA_VERSION = "4.3.1"
_FILES = Path(__file__).parent / "files"
_SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")
_JAAS = "org.apache.kafka.common.security"
# The JVM's first compiler only (C1). A broker beside perfpulse on a small machine spent more CPU
# compiling with C2 than serving: over the first minutes of a span load on 2 cores, its compiler
# threads took 1.7-6.9 CPU s per 400,000 spans against 3.1-4.2 for its request handlers, and C1's
# code served those requests for no more (3.5-3.6 s). Measured: the broker's CPU per span 11.5-13.1
# µs against 14.9-35.0, idle 0.05 of a core against 0.11-0.14, spans end to end 19,300-20,600/s
# against 13,600-18,200 (README, Benchmarks).
_JIT = "-XX:TieredStopAtLevel=1"
# Users and passwords are written into the broker's config and the storage tool's arguments:
# kept to characters that need no quoting there.
_CREDENTIAL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class SecureListeners:
    """Listeners a broker opens beside PLAINTEXT, on 127.0.0.1.

    ``sasl_port``: SASL_PLAINTEXT where every user of ``users`` may log in with PLAIN, SCRAM-SHA-256
    and SCRAM-SHA-512 (SCRAM credentials are written when the storage is formatted).
    ``ssl_port``: SSL with the broker's PEM key and certificate chain in ``ssl_keystore`` and the CA
    of its clients in ``ssl_truststore``; clients must show a certificate that CA signed.
    ``sasl_ssl_port``: SASL_SSL, the users of ``sasl_port`` over the TLS of ``ssl_port`` (no client
    certificate asked: SASL authenticates the client).
    """

    sasl_port: int | None = None
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (user, password)
    ssl_port: int | None = None
    ssl_keystore: Path | None = None  # PEM: the broker's PKCS#8 private key, then its certificate chain
    ssl_truststore: Path | None = None  # PEM: the CA of client certificates
    sasl_ssl_port: int | None = None

    def __post_init__(self) -> None:
        for user, password in self.users:
            if not (_CREDENTIAL.fullmatch(user) and _CREDENTIAL.fullmatch(password)):
                raise ValueError(f"cannot use SASL user {user!r}: user and password must match {_CREDENTIAL.pattern}")
        tls = self.ssl_port is not None or self.sasl_ssl_port is not None
        if tls and (self.ssl_keystore is None or self.ssl_truststore is None):
            raise ValueError("an SSL or SASL_SSL listener needs ssl_keystore and ssl_truststore")

    def _named_ports(self) -> list[tuple[str, int]]:
        """(listener name, port) of each listener asked for; the name is its security protocol."""
        named = (("SASL_PLAINTEXT", self.sasl_port), ("SSL", self.ssl_port), ("SASL_SSL", self.sasl_ssl_port))
        return [(name, port) for name, port in named if port is not None]

    def listeners(self) -> list[str]:
        """``NAME://127.0.0.1:port`` of each listener."""
        return [f"{name}://127.0.0.1:{port}" for name, port in self._named_ports()]

    def properties(self) -> str:
        """The broker properties of these listeners."""
        names = [name for name, _ in self._named_ports()]
        lines = [f"sasl.enabled.mechanisms=PLAIN,{','.join(_SCRAM)}"] if self._sasl else []
        plain_users = " ".join(f'user_{user}="{password}"' for user, password in self.users)
        for name in names:
            prefix = f"listener.name.{name.lower()}"
            if name.startswith("SASL_"):
                lines.append(f"{prefix}.plain.sasl.jaas.config={_JAAS}.plain.PlainLoginModule required {plain_users};")
                lines += [
                    f"{prefix}.{m.lower()}.sasl.jaas.config={_JAAS}.scram.ScramLoginModule required;" for m in _SCRAM
                ]
            if name.endswith("SSL"):
                lines += [
                    f"{prefix}.ssl.keystore.type=PEM",
                    f"{prefix}.ssl.keystore.location={self.ssl_keystore}",
                    f"{prefix}.ssl.truststore.type=PEM",
                    f"{prefix}.ssl.truststore.location={self.ssl_truststore}",
                ]
            if name == "SSL":
                lines.append(f"{prefix}.ssl.client.auth=required")
        return "\n".join(lines)

    @property
    def _sasl(self) -> bool:
        return self.sasl_port is not None or self.sasl_ssl_port is not None

    def scram_arguments(self) -> list[str]:
        """The storage tool's ``--add-scram`` arguments: each user under both SCRAM mechanisms."""
        if not self._sasl:
            return []
        return [
            arg
            for user, password in self.users
            for m in _SCRAM
            for arg in ("--add-scram", f"{m}=[name={user},password={password}]")
        ]


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "perfpulse"


@dataclass(frozen=True)
class LocalKafka:
    """One broker: ``port`` for clients, ``port + 100`` for its controller, state under ``home``.

    Not ``port + 1``: 9093 is Alertmanager's port (Debian's package starts it as a service)."""

    home: Path  # e.g. <data dir>/kafka
    port: int = 9092
    heap_mb: int = 512
    secure: SecureListeners = field(default_factory=SecureListeners)  # listeners beside PLAINTEXT
    # In a cluster (infra/kafkacluster.py): this node's id, the controller ports of every node in
    # node-id order (a static quorum; empty: this node alone is its quorum), the id all nodes share.
    node_id: int = 1
    voters: tuple[int, ...] = ()
    cluster_id: str | None = None  # None: a new random id at the first start

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
        with exclusive(self.libs_dir.parent / ".fetch.lock"):
            if not marker.exists():  # not fetched by the process that held the lock before us
                self._fetch_jars()
        return self.libs_dir

    def _fetch_jars(self) -> None:
        """Fetch into a scratch directory and move it into place whole: copy-dependencies does not
        overwrite a jar it finds already there, so a jar cut short by an interrupted fetch would stay."""
        scratch = self.libs_dir.with_name("libs.partial")
        shutil.rmtree(scratch, ignore_errors=True)  # what an interrupted fetch left
        command = [
            "mvn", "-q", "-B", "-f", str(_FILES / "kafka-pom.xml"),
            f"-Dkafka.version={KAFKA_VERSION}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={scratch}",
        ]  # fmt: skip
        run_tool(command, f"fetch Kafka {KAFKA_VERSION} jars with Maven into {self.libs_dir}")
        try:
            (scratch / ".complete").touch()
            shutil.rmtree(self.libs_dir, ignore_errors=True)  # jars of a fetch that never completed
            scratch.rename(self.libs_dir)
        except OSError as exc:
            raise InfraError(f"cannot move Kafka's jars from {scratch} to {self.libs_dir}: {exc}") from exc

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java", f"-Xms{self.heap_mb // 2}m", f"-Xmx{self.heap_mb}m", "-XX:+UseG1GC", _JIT,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_FILES / 'kafka-log4j2.properties'}",
            "-cp", f"{self.libs_dir}/*", main_class, *args,
        ]  # fmt: skip

    def _write_config(self) -> Path:
        config = self.home / "server.properties"
        text = (_FILES / "kafka-server.properties").read_text()
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}", *self.secure.listeners()]
        protocols = ",".join(f"{listener.partition(':')[0]}:{listener.partition(':')[0]}" for listener in listeners)
        if self.voters:
            quorum = "controller.quorum.voters=" + ",".join(
                f"{node}@127.0.0.1:{port}" for node, port in enumerate(self.voters, start=1)
            )
        else:
            quorum = f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        filled = text.format(
            node_id=self.node_id,
            quorum=quorum,
            listeners=",".join(listeners),
            protocol_map=protocols,
            controller_port=self.controller_port,
            log_dir=self.home / "data",
            secure_listeners=self.secure.properties(),
        )
        # Owner only: it holds the PLAIN users' passwords when SASL is on.
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(filled)
        return config

    def _format(self, config: Path, cluster_id: str) -> None:
        """Format the log dir for ``cluster_id`` unless it is formatted already (meta.properties,
        which Kafka writes last and atomically, so a format cut short is simply done again)."""
        if (self.home / "data" / "meta.properties").exists():
            return
        # "--cluster-id=<id>", not "-t <id>": a base64url id starts with "-" once in 64, and the tool's
        # argument parser then takes it for an option and fails ("expected one argument").
        # A static quorum (voters) is named in the config; a node alone is formatted as its own quorum.
        standalone = [] if self.voters else ["--standalone"]
        argv = self._java(
            "kafka.tools.StorageTool", "format", *standalone, f"--cluster-id={cluster_id}", "-c", str(config),
            *self.secure.scram_arguments(),
        )  # fmt: skip
        run_tool(argv, f"format Kafka storage in {self.home / 'data'}")

    def running_pid(self) -> int | None:
        return alive_pid(self.pid_file)

    def is_ready(self) -> bool:
        """True when a metadata request to the broker succeeds."""
        return metadata_ok(self.bootstrap)

    def start(self, timeout_s: float = 90.0) -> str:
        """Start the broker unless one already answers on the port; wait until it serves metadata.

        Returns ``"started"``, ``"running"`` (ours, already up) or ``"external"`` (someone else's).
        """
        # Under a lock: two processes starting one data dir at once would format it twice (two cluster
        # ids) and start two brokers; the second one in waits for the first one's broker instead.
        with exclusive(self.home / ".start.lock"):
            if self.running_pid() is not None:
                wait_until(self.is_ready, timeout_s, f"Kafka on {self.bootstrap}", self.pid_file, self.log_file)
                return "running"
            if _port_open(self.port) and self.is_ready():
                return "external"
            if _port_open(self.port) or _port_open(self.controller_port):
                taken = f"port {self.port} or {self.controller_port}"
                raise InfraError(f"cannot start Kafka: {taken} is taken by another program")
            self.ensure_jars()
            try:
                config = self._write_config()
            except OSError as exc:
                raise InfraError(f"cannot write Kafka's configuration in {self.home}: {exc}") from exc
            self._format(config, self.cluster_id or new_cluster_id())
            broker = start_detached(self._java("kafka.Kafka", str(config)), self.log_file, self.pid_file)
            wait_until(self.is_ready, timeout_s, f"Kafka on {self.bootstrap}", broker, self.log_file)
        return "started"

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the broker this data dir started (controlled shutdown; killed after ``timeout_s``).
        True if one was running."""
        return stop_pid(self.pid_file, timeout_s=timeout_s)


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, base64url without padding (what ``kafka-storage
    random-uuid`` prints)."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def kafka_reachable(bootstrap: str, timeout_s: float = 5.0, *, security: KafkaSecurity = PLAINTEXT) -> bool:
    """True when a metadata request to ``bootstrap`` (connecting with ``security``) succeeds within ``timeout_s``."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), **security.client_options()
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def metadata_ok(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> bool:
    """Blocking form of :func:`kafka_reachable`; a closed port answers False at once (without
    a client that would log a connection error per attempt)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            pass
    except (OSError, ValueError):
        return False
    return asyncio.run(kafka_reachable(bootstrap, timeout_s=3.0, security=security))
