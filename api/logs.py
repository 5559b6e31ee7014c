"""``GET /api/v1/logs``: log records by service, level, words of the message, trace and time, newest first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.context import ApiContext, api_context
from api.cursor import decode_cursor, encode_cursor
from api.errors import ApiError, error_responses
from api.models import LogsPage
from api.params import csv_param, parse_trace_id
from api.responses import FastJSONResponse
from api.ttlcache import ranged_answer
from schemas import LogLevel
from storage.logs import LogEntry, LogKey, LogQuery, search_logs, text_tokens

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["logs"])

DEFAULT_RANGE_MS = 3_600_000
MAX_LIMIT = 1_000
_LEVELS = [level.value for level in LogLevel]
_BAD_CURSOR = "not a cursor of this logs listing; pass back next_cursor unchanged"


def _levels(value: str | None) -> list[str]:
    levels = [level.lower() for level in csv_param(value)]
    unknown = [level for level in levels if level not in _LEVELS]
    if unknown:
        raise ApiError.bad_param("level", f"unknown levels {unknown}; choose from {', '.join(_LEVELS)}")
    return levels


def _words(q: str | None) -> list[str]:
    if q is None:
        return []
    words = text_tokens(q)
    if not words:
        raise ApiError.bad_param("q", f"{q!r} holds no word to search for (letters or digits)")
    return words


def _after(cursor: str | None) -> LogKey | None:
    if cursor is None:
        return None
    key = decode_cursor("logs", cursor, (int, int, int, int))
    ts_ns, partition, offset, index = (int(part) for part in key)
    if not (0 <= ts_ns < 2**63 and 0 <= partition < 2**16 and 0 <= offset < 2**63 and 0 <= index < 2**32):
        raise ApiError.bad_param("cursor", _BAD_CURSOR)
    return ts_ns, partition, offset, index


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {
        "ts": entry.ts_ns / 1e6,
        "service": entry.service,
        "level": entry.level,
        "message": entry.message,
        "attributes": entry.attributes,
        "trace_id": entry.trace_id,
        "span_id": entry.span_id,
    }


@router.get(
    "/logs",
    summary="Search log records, newest first",
    response_class=FastJSONResponse,
    response_model=LogsPage,
    responses=error_responses({400: "a parameter is invalid (named in details)"}),
)
async def find_logs(
    request: Request,
    context: Annotated[ApiContext, Depends(api_context)],
    service: Annotated[str | None, Query(description="only these services (comma-separated)")] = None,
    level: Annotated[str | None, Query(description=f"only these levels (comma-separated: {','.join(_LEVELS)})")] = None,
    q: Annotated[str | None, Query(description="words the message must all hold (case-insensitive)")] = None,
    trace_id: Annotated[str | None, Query(description="only records logged inside this trace")] = None,
    start: Annotated[str | None, Query(description="epoch ms or RFC 3339; default end - 1h")] = None,
    end: Annotated[str | None, Query(description="epoch ms or RFC 3339; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="records per page")] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> FastJSONResponse:
    """``q`` matches words, not substrings: it is split at every character that is not a letter or
    a digit, and a record matches when its message holds every word. ``ts`` is epoch ms (fractional).
    ``next_cursor`` (null on the last page) continues without repeats or gaps. The range is taken at
    whole seconds (its ends rounded up), and an answer is kept a second for the same question."""
    services, levels, words = csv_param(service), _levels(level), _words(q)
    trace = parse_trace_id(trace_id, "query.trace_id") if trace_id is not None else None
    after = _after(cursor)

    def page(start_ms: int, end_ms: int) -> Awaitable[dict[str, Any]]:
        query = LogQuery(start_ms, end_ms, services, levels, words, trace_id=trace, limit=limit, after=after)
        return _page(context, query)

    question = (*map(tuple, (services, levels, words)), trace, limit, after)
    body = await ranged_answer(request, "logs", start, end, DEFAULT_RANGE_MS, question, page)
    return FastJSONResponse(body)


async def _page(context: ApiContext, query: LogQuery) -> dict[str, Any]:
    page = await asyncio.to_thread(search_logs, context.store, query)
    return {
        "start": query.start_ms,
        "end": query.end_ms,
        "logs": [_entry(e) for e in page.logs],
        "next_cursor": encode_cursor("logs", page.next_key) if page.next_key else None,
    }
