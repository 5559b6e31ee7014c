"""Idempotency keys of the ingest endpoints: a retried request is answered again, not sent again.

A client sends ``Idempotency-Key: <key>`` (1-255 printable ASCII characters; 400 otherwise) with a
request, and the same key with every retry of it. The first request with a key claims it before
its records are sent; once Kafka committed them (a 2xx answer), the answer (status, body, content
type) is kept under the key for ``ttl_s`` with the SHA-256 of the body as sent. Then:

- the same key and body: that answer again, with ``Idempotent-Replayed: true``; nothing is sent;
- the same key, another body (or content encoding): 422;
- the same key while its first request is still in progress: 409 with ``Retry-After``.

Once Kafka acknowledged a request's records, and before their transaction commits, its claim
records where the first of them was placed (:mod:`ingest.witness`). So a process that
died after the commit but before keeping the answer leaves a claim its retry can settle: the record
is read back ``read_committed`` (``committed``, :meth:`ingest.producer.RecordProducer.committed`):
committed, the request is answered again without sending anything (its answer recomputed from the
same body, ``Idempotent-Replayed: true``); aborted, it is sent; not known yet, 409.

A request answered anything but 2xx releases its claim: unplaced, nothing of it was committed and
its retry is sent; placed (a commit whose outcome was lost), the retry settles it as above. A claim
whose process died is taken over by the process that restarts in its place (the same ``group``,
another incarnation: its Kafka producer fenced the dead one's transaction), or by any process after
``pending_ttl_s``.

Keys are scoped by the API key that sent them (a digest of the ``Authorization`` header) and the
endpoint's path. Records live in Redis, shared by every API process; while Redis cannot be reached
they are kept in this process (at most :data:`LOCAL_RECORDS`, the oldest dropped first), so a retry
that reaches another API process, or comes after that many newer keys, is sent again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError

from ingest.receivers.inflate import RawBody
from ingest.witness import WITNESS
from schemas import error_body
from schemas.redisclient import Outage, redis_client

__all__ = ["KEY_HEADER", "LOCAL_RECORDS", "MAX_KEY_CHARS", "REPLAYED_HEADER", "Idempotency"]

log = logging.getLogger("perfpulse.ingest.idempotency")

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
LOCAL_RECORDS = 100_000  # keys remembered in this process while Redis is down (~100 MB at most with 1 KB answers)
IN_PROGRESS_RETRY_AFTER_S = 1
_REDIS_RETRY_S = 5.0  # while Redis is down, how often a request tries it again
_DIGEST_OFF_LOOP_BYTES = 1024 * 1024  # bodies hashed on a thread from this size
_REDIS_TIMEOUT_S = 0.5  # a slow Redis must not hold ingest: past this, this process's records answer
_RELEASED = ""  # the owner of a placed claim whose request ended without an answer: anyone settles it
Committed = Callable[[str, int, int], Awaitable[bool | None]]  # see RecordProducer.committed

_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class _Local:
    """Records in this process, bounded by count, each with its expiry."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        found = self._records.get(key)
        if found is None or found[0] <= time.monotonic():
            self._records.pop(key, None)
            return None
        return found[1]

    def put(self, key: str, value: bytes, ttl_s: float) -> None:
        self._records[key] = (time.monotonic() + ttl_s, value)
        self._records.move_to_end(key)
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)

    def claim(self, key: str, value: bytes, ttl_s: float) -> bytes | None:
        current = self.get(key)
        if current is None:
            self.put(key, value, ttl_s)
        return current

    def swap(self, key: str, expected: bytes, value: bytes | None, ttl_s: float) -> bool:
        if self.get(key) != expected:
            return False
        if value is None:
            del self._records[key]
        else:
            self.put(key, value, ttl_s)
        return True


class _Records:
    """Redis, or this process's records while Redis cannot answer (see the module doc)."""

    def __init__(self, redis_url: str | None, namespace: str) -> None:
        self.namespace = namespace
        self._local = _Local(LOCAL_RECORDS)
        self._redis: Any = None
        if redis_url is not None:
            self._redis = redis_client(redis_url, _REDIS_TIMEOUT_S)
            self._swap: Any = self._redis.register_script(_SWAP)
        self._outage = Outage(
            log, "idempotency keys", "keeping them in this process", "idempotency keys are shared again", _REDIS_RETRY_S
        )

    async def _try(self, call: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """(True, what Redis answered), or (False, None) when it cannot answer now."""
        if self._redis is None or self._outage.skipping():
            return False, None
        try:
            answer = await call()
        except (RedisError, OSError) as exc:
            self._outage.failed(exc)
            return False, None
        self._outage.answered()
        return True, answer

    async def claim(self, key: str, value: bytes, ttl_s: float) -> bytes | None:
        """Set ``key`` to ``value`` unless it is set: None when set, otherwise what it holds."""
        ms = max(1, int(ttl_s * 1000))

        async def claim() -> bytes | None:
            if await self._redis.set(key, value, nx=True, px=ms):
                return None
            current: bytes | None = await self._redis.get(key)
            return current if current is not None else await claim()  # expired in between: try again

        reached, answer = await self._try(claim)
        return answer if reached else self._local.claim(key, value, ttl_s)

    async def swap(self, key: str, expected: bytes, value: bytes | None, ttl_s: float) -> bool:
        """Replace ``expected`` by ``value`` (delete with None); False when ``key`` holds another."""
        ms = max(1, int(ttl_s * 1000))
        reached, answer = await self._try(lambda: self._swap(keys=[key], args=[expected, value or b"", ms]))
        return bool(answer) if reached else self._local.swap(key, expected, value, ttl_s)

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        reached, _ = await self._try(lambda: self._redis.set(key, value, px=max(1, int(ttl_s * 1000))))
        if not reached:
            self._local.put(key, value, ttl_s)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _refusal(status: int, error: str, msg: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(error, [{"loc": f"header.{KEY_HEADER.lower()}", "msg": msg}]), status, headers)


def _key_error(key: str) -> str | None:
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        return f"{len(key)} characters: send 1 to {MAX_KEY_CHARS}"
    bad = next((c for c in key if not " " <= c <= "~"), None)
    return None if bad is None else f"{key[:40]!r} holds {bad!r}: send printable ASCII only"


@dataclass
class _Witness:
    """The claim of one request, moved to "placed" before its transaction commits (module doc)."""

    records: _Records
    key: str
    held: bytes  # what the claim holds now
    ttl_s: float
    replaying: bool = False
    placed: bool = False

    async def before_commit(self, topic: str, partition: int, offset: int) -> None:
        claim = orjson.loads(self.held)
        value = orjson.dumps({**claim, "placed": [topic, partition, offset], "at": time.time()})
        if await self.records.swap(self.key, self.held, value, self.ttl_s):
            self.held, self.placed = value, True

    async def release(self) -> None:
        """The request ended without a 2xx: an unplaced claim is dropped (its retry is sent), a
        placed one is left for its retry to settle."""
        if not self.placed:
            await self.records.swap(self.key, self.held, None, self.ttl_s)
            return
        released = orjson.dumps({**orjson.loads(self.held), "owner": _RELEASED})
        if await self.records.swap(self.key, self.held, released, self.ttl_s):
            self.held = released


class Idempotency:
    """The idempotency keys of one API process. ``redis_url`` None: records in this process only.
    ``group`` names this process across its restarts (its ingest producer's transactional id)."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        namespace: str = "perfpulse.",
        group: str = "",
        ttl_s: float = 86_400.0,
        pending_ttl_s: float = 60.0,
        committed: Committed | None = None,
    ) -> None:
        """``pending_ttl_s`` bounds a claim whose process died and was not restarted: at least the
        longest a request may take between reading its body and its answer. ``committed`` settles a
        placed claim (module doc); without it such a claim is answered 409 until it expires."""
        self._records = _Records(redis_url, namespace)
        self.ttl_s = ttl_s
        self.pending_ttl_s = pending_ttl_s
        self._committed = committed
        self._group = group
        self._owner = f"{group}/{uuid.uuid4().hex}"

    async def close(self) -> None:
        await self._records.close()

    async def answer(self, request: Request, raw: RawBody, handle: Callable[[], Awaitable[Response]]) -> Response:
        """``handle()``'s response, kept under the request's key when it is 2xx; or, for a key
        already used, the kept answer, 409 or 422 without calling ``handle`` (see the module doc).
        A request without the header is handled alone."""
        key = request.headers.get(KEY_HEADER)
        if key is None:
            return await handle()
        problem = _key_error(key)
        if problem is not None:
            return _refusal(400, f"invalid {KEY_HEADER}", problem)
        who = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:32]
        record_key = f"{self._records.namespace}idempotency:{who}:{request.url.path}:{key}"
        digest = await _digest(raw)
        pending = orjson.dumps({"digest": digest, "owner": self._owner})
        current = await self._records.claim(record_key, pending, self.pending_ttl_s)
        witness = _Witness(self._records, record_key, pending, self.ttl_s)
        if current is not None:
            kept = orjson.loads(current)
            if kept["digest"] != digest:
                return _refusal(422, f"{KEY_HEADER} reused", f"{key[:40]!r} was sent with another body")
            if "status" in kept:
                return _replay(kept)
            settled = await self._settle(kept)
            # Committed: the claim stays placed (a failed replay leaves it for the next retry to settle).
            claim = orjson.dumps({**kept, "owner": self._owner}) if settled else pending
            ttl_s = self.ttl_s if settled else self.pending_ttl_s
            if settled is None or not await self._records.swap(record_key, current, claim, ttl_s):
                return _refusal(
                    409,
                    f"request with {KEY_HEADER} {key[:40]!r} in progress",
                    f"retry after {IN_PROGRESS_RETRY_AFTER_S} s",
                    {"Retry-After": str(IN_PROGRESS_RETRY_AFTER_S)},
                )
            witness.held, witness.replaying, witness.placed = claim, settled, settled
        token = WITNESS.set(witness)
        try:
            response = await handle()
        except BaseException:
            await asyncio.shield(witness.release())
            raise
        finally:
            WITNESS.reset(token)
        if witness.replaying:
            response.headers[REPLAYED_HEADER] = "true"
        if 200 <= response.status_code < 300:
            kept_answer = {
                "digest": digest,
                "status": response.status_code,
                "body": base64.b64encode(bytes(response.body)).decode(),
                "media_type": response.media_type or response.headers.get("content-type", ""),
            }
            await self._records.put(record_key, orjson.dumps(kept_answer), self.ttl_s)
        else:
            await witness.release()
        return response

    async def _settle(self, kept: dict[str, Any]) -> bool | None:
        """For a claim held by another request: None while it may still be answered by it (409);
        otherwise whether its records were committed (True: answer without sending; False: send)."""
        owner = kept["owner"]
        group, _, _ = owner.rpartition("/")
        # A dead predecessor: same group, another incarnation (Kafka fences one of two live ones).
        died = bool(self._group) and group == self._group and owner != self._owner
        if "placed" not in kept:
            return False if died else None
        if not (died or owner == _RELEASED or time.time() - kept["at"] > self.pending_ttl_s):
            return None
        return None if self._committed is None else await self._committed(*kept["placed"])


async def _digest(raw: RawBody) -> str:
    """The SHA-256 of the body as sent (and whether gzipped); past 1 MiB on a thread, where hashlib
    hashes with the GIL released: a 16 MiB body takes tens of milliseconds, too long for the loop."""
    digest = hashlib.sha256(b"gzip:" if raw.gzip else b"identity:")
    if len(raw.data) > _DIGEST_OFF_LOOP_BYTES:
        await asyncio.to_thread(digest.update, raw.data)
    else:
        digest.update(raw.data)
    return digest.hexdigest()


def _replay(kept: dict[str, Any]) -> Response:
    return Response(
        base64.b64decode(kept["body"]),
        status_code=kept["status"],
        media_type=kept["media_type"] or None,
        headers={REPLAYED_HEADER: "true"},
    )
