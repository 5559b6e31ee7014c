"""``POST /api/v1/query/batch``: many queries in one round trip (a whole dashboard), run at once,
each answered (or refused) on its own and cached like a single query."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.bodies import Rendered, etag_of
from api.cache import Answer, QueryCache, QuerySpec, query_cache
from api.context import ApiContext, api_context
from api.errors import ApiError, error_responses
from api.httpcache import answer_headers
from api.models import BatchResult
from api.params import time_range
from api.query import (
    DEFAULT_RANGE_MS,
    LABEL_PREFIX,
    label_filters,
    query_spec,
    render_query,
    rendered_at_hand,
    run_query,
)
from api.responses import FastJSONResponse, RenderedResponse, render_json
from schemas import error_body

__all__ = ["MAX_QUERIES", "BatchBody", "BatchQuery", "router"]

router = APIRouter(prefix="/api/v1", tags=["query"])

MAX_QUERIES = 50  # queries per batch: a dashboard's worth; each may cost a ClickHouse read
_MAX_LIST = 100  # services, stats, group_by entries and label filters per query
_Name = Annotated[str, Field(min_length=1, max_length=256)]


class BatchQuery(BaseModel):
    """The parameters of ``GET /api/v1/query`` as JSON: lists for ``service``, ``stats`` and
    ``group_by``, label filters in ``labels``."""

    model_config = ConfigDict(extra="forbid")

    metric: _Name
    service: list[_Name] = Field(default_factory=list, max_length=_MAX_LIST, description="only these services")
    start: int | Annotated[str, Field(max_length=64)] | None = Field(None, description="epoch ms or RFC 3339")
    end: int | Annotated[str, Field(max_length=64)] | None = Field(None, description="epoch ms or RFC 3339")
    step: Annotated[str, Field(max_length=32)] | None = Field(None, description="bucket size, e.g. 10s")
    stats: list[_Name] = Field(default_factory=lambda: ["p50", "p95", "p99", "count"], max_length=_MAX_LIST)
    group_by: list[_Name] = Field(default_factory=lambda: ["service"], max_length=_MAX_LIST)
    labels: dict[_Name, Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict, max_length=_MAX_LIST, description="label name -> value"
    )


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[BatchQuery] = Field(min_length=1, max_length=MAX_QUERIES)


_Item = tuple[Rendered, Answer | None]  # a batch item's body and ETag, and its answer (None: refused)
_Planned = tuple[QuerySpec, int, int]  # a query validated: what it asks, over [start_ms, end_ms)


def _plan(context: ApiContext, query: BatchQuery) -> _Planned:
    """``query`` validated as ``GET /api/v1/query`` validates its parameters (an ApiError otherwise)."""
    start = str(query.start) if query.start is not None else None
    end = str(query.end) if query.end is not None else None
    start_ms, end_ms = time_range(start, end, DEFAULT_RANGE_MS)
    labels = label_filters((LABEL_PREFIX + name, value) for name, value in query.labels.items())
    spec = query_spec(
        query.metric, query.service, query.stats, query.group_by, labels, query.step, end_ms - start_ms,
        context.window_ms,
    )  # fmt: skip
    return spec, start_ms, end_ms


def _answered(rendered: Rendered, answer: Answer) -> _Item:
    return Rendered(b'{"status":200,"result":' + rendered.body + b"}", rendered.etag), answer


def _refused(exc: ApiError) -> _Item:
    """A query's own error: the status ``GET /api/v1/query`` would give, and its error body."""
    refused = render_json({"status": exc.status, "error": error_body(exc.error, exc.details)})
    return Rendered(refused, etag_of(refused)), None


async def _one(context: ApiContext, cache: QueryCache, planned: _Planned) -> _Item:
    """One query's batch item, read through the cache; an answer's body is the one ``GET
    /api/v1/query`` renders and keeps (api/bodies.py)."""
    spec, start_ms, end_ms = planned
    try:
        body, answer = await run_query(context, cache, spec, start_ms, end_ms)
        return _answered(await render_query(cache, spec, body, answer), answer)
    except ApiError as exc:
        return _refused(exc)


async def _items(context: ApiContext, cache: QueryCache, queries: list[BatchQuery]) -> list[_Item]:
    """Each query's item, in order. A query refused, or answered whole from the cache, is an item at
    once; only the others run, concurrently. Not a task for every query: under load each task costs
    the batch a turn behind every other request queued on the event loop (task start, then
    ``gather``'s wake-up), which tripled a batch's latency against a single query's."""
    items: list[_Item | None] = []
    waiting: dict[int, _Planned] = {}
    for i, query in enumerate(queries):
        try:
            planned = _plan(context, query)
        except ApiError as exc:
            items.append(_refused(exc))
            continue
        at_hand = rendered_at_hand(context, cache, *planned)
        items.append(None if at_hand is None else _answered(*at_hand))
        if at_hand is None:
            waiting[i] = planned
    if waiting:
        read = await asyncio.gather(*(_one(context, cache, planned) for planned in waiting.values()))
        for i, item in zip(waiting, read, strict=True):
            items[i] = item
    return [item for item in items if item is not None]


@router.post(
    "/query/batch",
    summary="Run many queries at once: each answered in order, with its own result or error",
    response_class=FastJSONResponse,  # what the docs say; the route sends a RenderedResponse
    response_model=BatchResult,
    responses=error_responses({400: "the body is not a list of 1 to 50 queries (named in details)"}),
)
async def query_batch(
    body: BatchBody,
    context: Annotated[ApiContext, Depends(api_context)],
    cache: Annotated[QueryCache, Depends(query_cache)],
) -> RenderedResponse:
    """Each query as ``GET /api/v1/query`` answers it; an invalid query is an item with its status
    and error, the others are answered all the same. The answer's ``ETag`` is a hash of its items'
    (each the hash of its body): a batch of unchanged answers is not rendered or hashed whole again."""
    done = await _items(context, cache, body.queries)
    items = [item for item, _ in done]
    etag = etag_of("\n".join(item.etag for item in items).encode())
    response = RenderedResponse(Rendered(b'{"results":[' + b",".join(item.body for item in items) + b"]}", etag))
    answers = [answer for _, answer in done if answer is not None]
    timing: dict[str, float] = {}
    for answer in answers:
        for name, ms in answer.timing_ms.items():
            timing[name] = max(timing.get(name, 0.0), ms)  # they ran at once: the longest of each
    settled = len(answers) == len(done) and all(a.settled for a in answers)
    answer_headers(response, Answer([], False, settled, timing))
    return response
