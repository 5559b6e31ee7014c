"""The Host check against DNS rebinding: while the API listens on loopback, a request must name a
loopback host (``localhost``, ``127.0.0.1``, ``[::1]``, any port) or an allowed one. A web page whose
own DNS name was rebound to 127.0.0.1 sends its own name, and is refused."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["HostCheck", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name of a ``Host`` header without its port: ``[::1]:8080`` -> ``[::1]``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    name, _, port = header.rpartition(":")
    return name if name and port.isdigit() else header


class HostCheck:
    """The DNS-rebinding check: active when the API listens on loopback (``bind_host``)."""

    def __init__(self, bind_host: str, allowed: Iterable[str] = ()) -> None:
        self.active = is_loopback(bind_host)
        self.allowed = frozenset(_host_name(h) for h in allowed if h.strip())

    def allows(self, header: str | None) -> bool:
        if not self.active:
            return True
        if header is None:
            return False
        name = _host_name(header)
        return name in self.allowed or is_loopback(name)
