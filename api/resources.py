"""``GET /api/v1/resources``: memory, CPU and connections of every perfpulse process of the
deployment, as each reported itself to the process board (api/procboard.py): the dashboard's
resource monitor of perfpulse's own processes. Read scope; the answer holds at most
:data:`~api.procboard.MAX_PROCESSES` processes, and only figures, roles, host names and pids.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.procboard import REPORT_EVERY_S, STALE_AFTER_S, BoardUnreachable, ProcessBoard
from api.selfstats import ProcessSample

__all__ = ["ProcessResources", "Resources", "ResourcesState", "router"]

router = APIRouter(prefix="/api/v1", tags=["health"])


@dataclass
class ResourcesState:
    """Set on ``app.state.resources`` by the composition root: the board, and this process's latest
    sample (shown alone when Redis cannot be read)."""

    board: ProcessBoard
    latest: list[ProcessSample]


class ProcessResources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(
        description='what runs in the process: "api", "stream", "sink", "notifier" or several joined by +'
    )
    host: str
    pid: int
    started_at: int = Field(description="when the process began reporting, epoch ms")
    at: int = Field(description="when this sample was taken, epoch ms")
    rss_bytes: int | None = Field(description="resident memory; null where /proc is not available")
    cpu_percent: float | None = Field(description="CPU time over wall time since its previous sample; 100 is one core")
    tcp_connections: int | None = Field(description="established TCP connections (Kafka, Redis, ClickHouse, clients)")
    http_connections: int | None = Field(description="connections on its HTTP port (null: it serves none)")
    live_connections: int | None = Field(description="open live-feed WebSockets (null: it serves no live feed)")


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: int = Field(description="when this answer was made, epoch ms")
    report_every_s: float = Field(description="how often each process reports")
    stale_after_s: float = Field(description="a process silent this long is left out (stopped, or cut from Redis)")
    board: Literal["ok", "unreachable"] = Field(
        description="unreachable: Redis could not be read, only this process is shown"
    )
    processes: list[ProcessResources]


def _out(sample: ProcessSample) -> ProcessResources:
    body = asdict(sample)
    body["started_at"], body["at"] = body.pop("started_ms"), body.pop("at_ms")
    return ProcessResources(**body)


async def resources_state(request: Request) -> ResourcesState:
    state: ResourcesState = request.app.state.resources
    return state


@router.get("/resources", summary="perfpulse's own processes: memory, CPU, connections", response_model=Resources)
async def resources(state: Annotated[ResourcesState, Depends(resources_state)]) -> Resources:
    """Every process of the deployment that reported within ``stale_after_s``, sorted by role, host
    and pid. Each samples itself every ``report_every_s``, so figures are up to that old."""
    now_ms = time.time_ns() // 1_000_000
    board: Literal["ok", "unreachable"] = "ok"
    try:
        samples = await state.board.read(now_ms)
    except BoardUnreachable:
        samples, board = list(state.latest), "unreachable"
    processes = [_out(s) for s in samples]
    return Resources(
        at=now_ms, report_every_s=REPORT_EVERY_S, stale_after_s=STALE_AFTER_S, board=board, processes=processes
    )
