"""The live feed's wire: what a client sends (validated here, errors naming the field), the resume
cursor, and the two encodings (JSON text frames, MessagePack binary frames)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
import ormsgpack
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from api.livefeed_subs import Subscription

__all__ = [
    "MAX_CLIENT_MESSAGE_BYTES",
    "ClientMessage",
    "Cursor",
    "Format",
    "LiveInputError",
    "PongMessage",
    "SubscribeMessage",
    "UnsubscribeMessage",
    "decode_client",
    "encode",
    "parse_cursor",
    "parse_subscriptions",
]

MAX_CLIENT_MESSAGE_BYTES = 64 * 1024  # a subscribe message of 50 subscriptions takes a few KiB
_CURSOR = re.compile(r"([0-9a-f]{8})\.([0-9]{1,18})")


class Format(StrEnum):
    """How frames are encoded: JSON in text frames, MessagePack in binary frames."""

    JSON = "json"
    MSGPACK = "msgpack"


class LiveInputError(ValueError):
    """A client message or parameter that cannot be taken; ``details`` name the field and why."""

    def __init__(self, error: str, details: list[dict[str, str]]) -> None:
        super().__init__(error)
        self.error = error
        self.details = details


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscribeMessage(_In):
    type: Literal["subscribe"]
    subscriptions: list[Subscription] = Field(min_length=1, max_length=1_000)
    resume: str | None = Field(None, description="the cursor of the last event received: <stream>.<seq>")


class UnsubscribeMessage(_In):
    type: Literal["unsubscribe"]
    ids: list[str] = Field(min_length=1, max_length=1_000)


class PongMessage(_In):
    """Any message keeps a connection alive; this one does nothing else."""

    type: Literal["pong"]


ClientMessage = Annotated[SubscribeMessage | UnsubscribeMessage | PongMessage, Field(discriminator="type")]
_CLIENT = TypeAdapter[SubscribeMessage | UnsubscribeMessage | PongMessage](ClientMessage)
_SUBSCRIPTIONS = TypeAdapter[list[Any]](list[Subscription])


def _details(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {"loc": ".".join([prefix, *(str(p) for p in e["loc"])]).strip("."), "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)[:20]
    ]


def decode_client(raw: str | bytes) -> SubscribeMessage | UnsubscribeMessage | PongMessage:
    """A client's frame: JSON in a text frame, MessagePack in a binary one; :class:`LiveInputError`
    otherwise. The caller bounds the frame's size first."""
    try:
        body = orjson.loads(raw) if isinstance(raw, str) else ormsgpack.unpackb(raw)
    except (orjson.JSONDecodeError, ormsgpack.MsgpackDecodeError, ValueError) as exc:
        kind = "JSON" if isinstance(raw, str) else "MessagePack"
        raise LiveInputError(
            f"cannot read the message as {kind}", [{"loc": "message", "msg": str(exc)[:200]}]
        ) from None
    try:
        return _CLIENT.validate_python(body)
    except ValidationError as exc:
        raise LiveInputError("invalid message", _details(exc, "message")) from None


def parse_subscriptions(raw: str) -> list[Any]:
    """The JSON list of subscriptions of an SSE request's ``subscribe`` parameter."""
    try:
        subs = _SUBSCRIPTIONS.validate_json(raw)
    except ValidationError as exc:
        raise LiveInputError("invalid subscriptions", _details(exc, "query.subscribe")) from None
    if not subs:
        raise LiveInputError("invalid subscriptions", [{"loc": "query.subscribe", "msg": "subscribe to something"}])
    return subs


class Cursor(BaseModel):
    """Where a client is: the server's stream (one per API process run) and the last sequence seen."""

    stream: str
    seq: int

    def __str__(self) -> str:
        return f"{self.stream}.{self.seq}"


def parse_cursor(value: str, loc: str) -> Cursor:
    """``<stream>.<seq>`` as the server sent it (``hello``, a batch's last event, a heartbeat)."""
    found = _CURSOR.fullmatch(value.strip())
    if found is None:
        msg = f"{value[:80]!r} is not a cursor <stream>.<seq> as the server sent it"
        raise LiveInputError("invalid resume cursor", [{"loc": loc, "msg": msg}])
    return Cursor(stream=found[1], seq=int(found[2]))


def encode(frame: dict[str, Any], fmt: Format) -> str | bytes:
    """One frame in ``fmt``: a str for a text frame (JSON), bytes for a binary one (MessagePack)."""
    if fmt is Format.JSON:
        return orjson.dumps(frame).decode()
    return ormsgpack.packb(frame)
