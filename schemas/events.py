"""What the sink tells the query layer after each insert of window rows or spans: which (metric,
service, window) cells now hold new data, and which traces got new spans. Caches drop exactly those
answers and the live feed pushes the cells' new results; both read the same event, published by the
composition root (Redis pub/sub on :func:`stored_channel`, so every API process hears every sink).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson

__all__ = ["MAX_TRACES_PER_MESSAGE", "Stored", "StoredWindow", "decode_stored", "encode_stored", "stored_channel"]

# Trace ids one message carries at most (~35 bytes each in JSON): a flush of spans of more traces is
# told in several messages, so no listener decodes one of unbounded size.
MAX_TRACES_PER_MESSAGE = 10_000


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


class Stored(NamedTuple):
    """One message: the windows stored, when it was published, the traces that got spans."""

    windows: list[StoredWindow]
    at_ms: int
    traces: list[str]


def encode_stored(windows: list[StoredWindow], at_ms: int, traces: Sequence[str] = ()) -> bytes:
    """One message for one insert: ``{"at_ms": .., "windows": [[metric, service, start, width, late], ..]}``,
    with ``"traces": [trace id, ..]`` (at most :data:`MAX_TRACES_PER_MESSAGE`) when spans were stored."""
    if len(traces) > MAX_TRACES_PER_MESSAGE:
        raise ValueError(f"{len(traces)} trace ids in one message, at most {MAX_TRACES_PER_MESSAGE}")
    rows = [[w.metric, w.service, w.start_ms, w.window_ms, w.late] for w in windows]
    body: dict[str, object] = {"at_ms": at_ms, "windows": rows}
    if traces:
        body["traces"] = list(traces)
    return orjson.dumps(body)


def decode_stored(message: bytes) -> Stored:
    """The windows, publishing time and traces of a message; ValueError when it is not one."""
    try:
        body = orjson.loads(message)
        windows = [
            StoredWindow(str(m), str(s), int(start), int(width), bool(late))
            for m, s, start, width, late in body["windows"]
        ]
        traces = body.get("traces", [])
        if not isinstance(traces, list) or not all(isinstance(t, str) for t in traces):
            raise TypeError(f"traces must be a list of ids, got {str(traces)[:80]!r}")
        return Stored(windows, int(body["at_ms"]), traces)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a stored-windows message: {exc}") from exc
