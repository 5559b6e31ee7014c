"""A local Redis from Debian's ``redis-server``, started when none answers on the port, with a
password when one is given (written to a config file only its owner reads, never on the command line,
where ``ps`` would show it), and over TLS only when given a certificate (``rediss://``)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from infra.process import InfraError, alive_pid, start_detached, stop_pid, wait_until

__all__ = ["LocalRedis"]


@dataclass(frozen=True)
class LocalRedis:
    """One ``redis-server`` on 127.0.0.1:``port`` with its files under ``home``."""

    home: Path  # e.g. <data dir>/redis
    port: int = 6379
    max_memory_mb: int = 256
    password: str | None = field(default=None, repr=False)  # clients must AUTH with it (requirepass)
    tls_cert: Path | None = None  # PEM certificate: the port then speaks TLS only
    tls_key: Path | None = None  # PEM private key of tls_cert
    tls_ca: Path | None = None  # PEM CA that signed tls_cert: what clients are told to trust

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None) or (self.tls_cert is None) != (self.tls_ca is None):
            raise ValueError("tls_cert, tls_key and tls_ca go together: set all three (TLS) or none")

    @property
    def pid_file(self) -> Path:
        return self.home / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "redis.log"

    @property
    def config_file(self) -> Path:
        return self.home / "redis.conf"

    @property
    def url(self) -> str:
        """The URL clients use; it holds the password when there is one (print it through mask_url)."""
        auth = "" if self.password is None else f":{quote(self.password, safe='')}@"
        if self.tls_ca is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={quote(str(self.tls_ca), safe='/')}"

    def running_pid(self) -> int | None:
        return alive_pid(self.pid_file)

    def is_ready(self) -> bool:
        """True when the server answers PING (after AUTH with the password, when there is one)."""
        request, answer = b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"
        if self.password is not None:
            secret = self.password.encode()
            request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
            answer = b"+OK\r\n" + answer
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as plain:
                sock = plain
                if self.tls_ca is not None:
                    sock = ssl.create_default_context(cafile=self.tls_ca).wrap_socket(
                        plain, server_hostname="127.0.0.1"
                    )
                sock.sendall(request)
                received = b""
                while len(received) < len(answer) and (chunk := sock.recv(64)):
                    received += chunk
                return received.startswith(answer)
        except OSError:  # ssl.SSLError included
            return False

    def start(self, timeout_s: float = 20.0) -> str:
        """Start redis-server unless one answers already. Returns "started", "running" or "external"."""
        if self.running_pid() is not None:
            return "running"
        if self.is_ready():
            return "external"
        binary = shutil.which("redis-server")
        if binary is None:
            raise InfraError("cannot start Redis: redis-server is not installed (run `make deps`)")
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        argv = [
            binary, str(self.config_file), "--bind", "127.0.0.1", *self._port_arguments(), "--dir", str(self.home),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--maxmemory", f"{self.max_memory_mb}mb", "--maxmemory-policy", "allkeys-lru",
        ]  # fmt: skip
        server = start_detached(argv, self.log_file, self.pid_file)
        wait_until(self.is_ready, timeout_s, f"Redis on port {self.port}", server, self.log_file)
        return "started"

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout_s=15.0)

    def _port_arguments(self) -> list[str]:
        if self.tls_cert is None or self.tls_key is None or self.tls_ca is None:
            return ["--port", str(self.port)]
        return [
            "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls_cert),
            "--tls-key-file", str(self.tls_key), "--tls-ca-cert-file", str(self.tls_ca), "--tls-auth-clients", "no",
        ]  # fmt: skip

    def _write_config(self) -> None:
        """The settings kept off the command line: the password, owner-readable only."""
        lines = [] if self.password is None else [f'requirepass "{_escaped(self.password)}"']
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{line}\n" for line in lines))


def _escaped(text: str) -> str:
    """``text`` inside a double-quoted redis.conf string: every byte but letters and digits as \\xHH."""
    return "".join(chr(b) if chr(b).isalnum() and b < 128 else f"\\x{b:02x}" for b in text.encode())
