"""Records of the ``alerts`` topic: alert transitions and alert-state snapshots.

The stream stage evaluates alert rules when a tick closes windows, per source partition, so the
``alerts`` topic is laid out like ``rollups``: partition N carries what the stream stage decided
from source partition N (metrics partitions first, then spans partitions), in tick order. Every
record carries the identity ``(src_partition, tick_offset, seq)`` of its emission: a worker that
replays a partition after a restart re-emits the same identities, and consumers (the sink, the
notifier) skip what is at or below the highest identity they have taken, exactly as the sink does
for rollups.

``kind == "transition"``: ``body`` is ``{"previous": state, "at_ms": int, "alert": {...}}`` where
``alert`` holds ``rule``, ``labels``, ``group``, ``annotations``, ``severity``, ``state``,
``value`` (null when no data), ``active_at_ms``, ``fired_at_ms``, ``resolved_at_ms``,
``channels`` and ``fingerprint`` (alerting/alert.py writes and reads it).

``kind == "states"``: ``body`` is ``{"evaluated_to_ms": int, "states": [{"rule": str, "group":
{label: value}, "state": {...}}]}``, the whole alert state of the source partition after the tick:
what a worker restores when it takes the partition over, before replaying from its restart tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from schemas.wire import WireError

__all__ = ["AlertRecord", "decode_alert_record", "encode_alert_record"]

AlertRecordKind = Literal["transition", "states"]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    kind: AlertRecordKind
    src_partition: int  # the source partition whose windows were evaluated (= this record's partition)
    tick_offset: int  # offset of the tick that closed the windows
    seq: int  # order among the records of that tick
    body: dict[str, Any]

    @property
    def identity(self) -> tuple[int, int]:
        return self.tick_offset, self.seq


def encode_alert_record(record: AlertRecord) -> bytes:
    return orjson.dumps(
        {
            "type": "alert_record",
            "v": 1,
            "kind": record.kind,
            "src_partition": record.src_partition,
            "tick_offset": record.tick_offset,
            "seq": record.seq,
            "body": record.body,
        }
    )


def decode_alert_record(data: bytes) -> AlertRecord:
    """Decode one ``alerts`` record; :class:`~schemas.wire.WireError` says why it cannot be."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"cannot decode alert record: invalid JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("type") != "alert_record":
        raise WireError("cannot decode alert record: expected type 'alert_record'")
    kind = obj.get("kind")
    if kind not in ("transition", "states"):
        raise WireError(f"cannot decode alert record: unknown kind {kind!r}")
    try:
        body = obj["body"]
        if not isinstance(body, dict):
            raise TypeError("body must be an object")
        return AlertRecord(kind, int(obj["src_partition"]), int(obj["tick_offset"]), int(obj["seq"]), body)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"cannot decode alert record: {exc!r}") from None
