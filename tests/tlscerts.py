"""Certificates for tests of TLS to Kafka, Redis and ClickHouse: a CA and certificates it signed,
made with openssl (valid one day)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["SERVER", "make_ca", "sign"]

SERVER = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"  # extensions of a server certificate on loopback


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path) -> Path:
    """A new CA in ``directory`` (ca.pem, ca.key); returns its certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=perfpulse-test-ca",
             "-keyout", directory / "ca.key", "-out", directory / "ca.pem")  # fmt: skip
    return directory / "ca.pem"


def sign(directory: Path, name: str, extensions: str) -> tuple[Path, Path]:
    """A key and a certificate for ``name`` signed by the CA in ``directory``: (certificate, key)."""
    key, csr, cert, ext = (directory / f"{name}.{suffix}" for suffix in ("key", "csr", "pem", "ext"))
    ext.write_text(extensions)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", directory / "ca.pem", "-CAkey", directory / "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert)  # fmt: skip
    return cert, key
