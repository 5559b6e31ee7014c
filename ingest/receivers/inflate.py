"""Request bodies as sent, and their inflation: bounded output and work linear in the input.

Pure functions of bytes, so that they run in the ingest worker processes
(:mod:`ingest.receivers.offload`) as well as on a thread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["GZIP_PIECE", "MAX_GZIP_MEMBERS", "InflateError", "RawBody", "inflate"]

GZIP_PIECE = 64 * 1024  # compressed bytes fed to zlib at a time
MAX_GZIP_MEMBERS = 1_024  # bgzip-style streams of 64 KiB blocks take 256 for 16 MiB


@dataclass(frozen=True, slots=True)
class RawBody:
    """A request body as sent: ``gzip`` when it still needs :func:`inflate` (off the event loop)."""

    data: bytes
    gzip: bool


class InflateError(Exception):
    """A body that cannot be inflated: ``status`` (400 or 413), a sentence (``error``), the reason (``msg``)."""

    def __init__(self, status: int, error: str, msg: str) -> None:
        super().__init__(status, error, msg)  # all three in args: the error crosses process boundaries
        self.status = status
        self.error = error
        self.msg = msg


def inflate(body: RawBody, limit: int) -> bytes:
    """The body's bytes, gunzipped when sent gzipped (CPU work: call it off the event loop)."""
    return _gunzip(body.data, limit) if body.gzip else body.data


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data`` (concatenated members are valid gzip), never more than
    ``limit`` bytes in all: a small bomb is refused without being inflated.

    Work is linear in ``len(data)`` plus the output: input goes to zlib in pieces of
    :data:`GZIP_PIECE`, so what a member leaves over (copied by zlib as ``unused_data``, then fed to
    the next member) is at most one piece, and there are at most :data:`MAX_GZIP_MEMBERS` members.
    Feeding the whole rest to each member made a stream of many tiny members quadratic.
    """
    view = memoryview(data)
    out: list[bytes] = []
    size = pos = members = 0
    try:
        while pos < len(view):
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise InflateError(400, "invalid gzip body", f"more than {MAX_GZIP_MEMBERS} gzip members")
            member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not member.eof:
                if pos >= len(view):
                    raise InflateError(400, "invalid gzip body", "the gzip stream is truncated")
                piece = view[pos : pos + GZIP_PIECE]
                chunk = member.decompress(piece, limit + 1 - size)
                size += len(chunk)
                if size > limit or member.unconsumed_tail:
                    raise InflateError(413, "request body too large", f"more than {limit} bytes once decompressed")
                out.append(chunk)
                pos += len(piece) - len(member.unused_data)
    except zlib.error as exc:
        raise InflateError(400, "invalid gzip body", str(exc)) from None
    return b"".join(out)
