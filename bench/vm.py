"""VictoriaMetrics for ``python -m bench.compare``: the single-node binary on loopback, its
JSON-lines import bodies and the MetricsQL of the three compared queries.

Every query goes with ``nocache=1``: VictoriaMetrics would otherwise answer a repeated range query
from its rollup result cache (and align start and end to the step for it), and the comparison
times uncached answers. The import format is one JSON object per series and line, ``{"metric":
{"__name__": ..., labels}, "values": [...], "timestamps": [...]}`` (epoch ms)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import orjson

from infra.process import start_detached, stop_pid, wait_until

__all__ = [
    "METRIC",
    "VictoriaMetrics",
    "import_bodies",
    "pooled_query",
    "quantile_query",
    "selector",
    "total_query",
]

METRIC = "http_server_duration"  # MetricsQL names cannot hold dots without quoting
BINARY = "victoria-metrics"


def _quote(value: str) -> str:
    """A MetricsQL string literal of ``value``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(service: str, route: str | None = None) -> str:
    """``METRIC{service="...",route="..."}``; without ``route``, all routes of the service."""
    labels = [f"service={_quote(service)}"] + ([] if route is None else [f"route={_quote(route)}"])
    return f"{METRIC}{{{','.join(labels)}}}"


def quantile_query(q: float, service: str, route: str, range_ms: int) -> str:
    """The level-``q`` quantile of one series' raw samples in the ``range_ms`` before each
    evaluation time, ``(t - range_ms, t]``: (a) as an instant query over the whole span, (b) as a
    range query with the step as range."""
    return f"quantile_over_time({q}, {selector(service, route)}[{range_ms}ms])"


def pooled_query(q: float, service: str, span_ms: int) -> str:
    """(c) the level-``q`` quantile of a service pooled across its routes: VictoriaMetrics' own
    log-bucket histograms of each series' samples, summed per bucket (``vmrange``)."""
    histograms = f"histogram_over_time({selector(service)}[{span_ms}ms])"
    return f"histogram_quantile({q}, sum({histograms}) by (vmrange))"


def total_query(span_ms: int) -> str:
    """How many samples of every series lie in the ``span_ms`` before the query's time."""
    return f"sum(count_over_time({METRIC}[{span_ms}ms]))"


def import_bodies(
    ts_ms: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    labels: Sequence[dict[str, str]],
    series: npt.NDArray[np.int16],
    per_body: int,
) -> list[bytes]:
    """``/api/v1/import`` bodies of about ``per_body`` samples each: the samples cut into runs of
    ``per_body`` (in time order), each run one line per series present in it (``labels[k]`` for
    series ``k``)."""
    if per_body < 1:
        raise ValueError(f"samples per body must be at least 1, got {per_body}")
    bodies = []
    for start in range(0, len(values), per_body):
        chunk = slice(start, start + per_body)
        ts, vals, which = ts_ms[chunk], values[chunk], series[chunk]
        lines = []
        for k in np.unique(which).tolist():
            mask = which == k
            line = {"metric": {"__name__": METRIC, **labels[k]}, "values": vals[mask], "timestamps": ts[mask]}
            lines.append(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY))
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


@dataclass
class VictoriaMetrics:
    """One ``victoria-metrics`` process on ``127.0.0.1:port`` with its data under ``home``."""

    home: Path
    port: int
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("VictoriaMetrics is not started")
        return self.process.pid

    def start(self) -> None:
        """Start on an empty data dir and wait until ``/health`` answers."""
        binary = shutil.which(BINARY)
        if binary is None:
            raise RuntimeError(f"{BINARY} not found on PATH: run infra/install-victoria-metrics.sh")
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        argv = [binary, f"-storageDataPath={self.home / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=1", "-loggerLevel=ERROR"]  # fmt: skip
        self.process = start_detached(argv, self.home / "vm.log", self.home / "vm.pid")
        wait_until(self._healthy, 60, f"VictoriaMetrics on {self.url}", self.process, self.home / "vm.log")

    def _healthy(self) -> bool:
        try:
            return self.client.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; close the client."""
        stop_pid(self.home / "vm.pid", timeout_s=30)
        self.client.close()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        response = self.client.get(f"{self.url}{path}", params={**params, "nocache": "1"})
        if response.status_code != 200:
            raise RuntimeError(
                f"VictoriaMetrics {path} {params} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()["data"]["result"]

    def instant(self, query: str, at_ms: int) -> list[float]:
        """The values of an instant query at ``at_ms`` (one per resulting series)."""
        result = self._get("/api/v1/query", {"query": query, "time": f"{at_ms / 1000:.3f}"})
        return [float(r["value"][1]) for r in result]

    def range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[int, float]:
        """The one series of a range query: epoch ms -> value."""
        params = {"query": query, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}",
                  "step": f"{step_ms}ms"}  # fmt: skip
        result = self._get("/api/v1/query_range", params)
        if len(result) != 1:
            raise RuntimeError(f"VictoriaMetrics range query {query!r} gave {len(result)} series, expected 1")
        return {round(float(t) * 1000): float(v) for t, v in result[0]["values"]}
