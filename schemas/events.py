"""What the sink tells the query layer after each insert of window rows: which (metric, service,
window) cells now hold new data. Caches drop exactly those cells' answers and the live feed pushes
their new results; both read the same event, published by the composition root (Redis pub/sub on
:func:`stored_channel`, so every API process hears every sink).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["StoredWindow", "decode_stored", "encode_stored", "stored_channel"]


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """Rows of one metric and service for the window ``[start_ms, start_ms + window_ms)`` were
    stored; ``late``: a correction of a window already stored (its answers changed)."""

    metric: str
    service: str
    start_ms: int
    window_ms: int
    late: bool

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.window_ms


def stored_channel(topic_prefix: str) -> str:
    """The pub/sub channel of one deployment (deployments sharing a Redis differ by topic prefix)."""
    return f"{topic_prefix}stored-windows"


def encode_stored(windows: list[StoredWindow], at_ms: int) -> bytes:
    """One message for one insert: ``{"at_ms": .., "windows": [[metric, service, start, width, late], ..]}``."""
    rows = [[w.metric, w.service, w.start_ms, w.window_ms, w.late] for w in windows]
    return orjson.dumps({"at_ms": at_ms, "windows": rows})


def decode_stored(message: bytes) -> tuple[list[StoredWindow], int]:
    """The windows of a message and when it was published; ValueError when it is not one."""
    try:
        body = orjson.loads(message)
        windows = [
            StoredWindow(str(m), str(s), int(start), int(width), bool(late))
            for m, s, start, width, late in body["windows"]
        ]
        return windows, int(body["at_ms"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a stored-windows message: {exc}") from exc
