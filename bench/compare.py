"""``make bench-compare`` (``python -m bench.compare``): perfpulse side by side with VictoriaMetrics
(Debian's ``victoria-metrics``, single node) on the same seeded samples, one system after the other
on this machine.

Both get ``--samples`` (10M) samples of 12 series over the 50 minutes ending a minute ago
(:mod:`bench.compare_data`), each from a sender process of its own with prebuilt bodies
(:mod:`bench.compare_send`). Measured per system:

- ingest samples/s, from the first send until a count query sees every sample;
- CPU seconds over that time and peak RSS (ingest and queries) of the system's processes: the
  VictoriaMetrics process; perfpulse's API (which runs the sink) and stream worker, and apart from
  them the Kafka broker (shared by whatever else uses it while this runs, when it was not started
  here);
- p50/p99 latency over ``--repeat`` runs (after one unmeasured run) of (a) the p99 of one series over
  the 50 minutes, (b) the p95 of that series per 10 s step, (c) the p95 of one service pooled across
  its routes, uncached (VictoriaMetrics ``nocache=1``; perfpulse with its caches off), and each
  answer's relative error against numpy's exact value on the same samples (for (b): the median and
  largest over the steps). The exact value follows each system's definition: the nearest rank for
  perfpulse, linear interpolation for VictoriaMetrics' ``quantile_over_time`` and, for its
  ``histogram_quantile``, the same.

Prints a table, writes a PNG chart (``--chart``) and ends with ``RESULT vm_ingest_ratio=...
vm_query_ratio_a=... vm_query_ratio_b=... vm_query_ratio_c=... pooled_p95_err_pct=...
vm_pooled_p95_err_pct=...``: ingest as perfpulse / VictoriaMetrics, queries as VictoriaMetrics'
p50 / perfpulse's p50 (above 1: perfpulse is faster), errors in percent."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import psutil
from rich.console import Console
from rich.table import Table

from bench.__main__ import HOME, KAFKA_PORT, METRIC, REPO, Deployment, deployed, uncached_env
from bench.compare_chart import draw
from bench.compare_data import (
    INTERPOLATED,
    NEAREST_RANK,
    SPAN_MS,
    STEP_MS,
    Method,
    Samples,
    data_start,
    exact_quantile,
    exact_steps,
    generate,
    relative_error,
)
from bench.procstats import ProcessStats
from bench.vm import VictoriaMetrics, pooled_query, quantile_query, total_query
from infra import LocalKafka
from perfpulse.logs import configure_logging

__all__ = ["Outcome", "main", "step_errors"]

SERVICE, ROUTE = "gateway", "/api/quotes"  # (a) and (b) read this series, (c) this service
QUERIES = ("a", "b", "c")
console = Console(stderr=True)


@dataclass
class Outcome:
    """One system's figures: ingest, resources (per process group) and per query its timings (ms)
    and errors (fractions; for (b) the median and the largest over the steps)."""

    samples_per_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)

    def p(self, query: str, level: float) -> float:
        """The ``level`` percentile (0-100) of ``query``'s timings, ms."""
        return float(np.percentile(self.timings_ms[query], level))


def step_errors(answers: dict[int, float], exact: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Median and largest relative error of per-step answers (step index -> value) against the
    exact values per step; a step with samples but no answer is an error of the harness."""
    expected = {k for k, value in enumerate(exact.tolist()) if not np.isnan(value)}
    if missing := sorted(expected - set(answers)):
        raise RuntimeError(f"{len(missing)} steps with samples were not answered, the first at step {missing[0]}")
    errors = [relative_error(answers[k], float(exact[k])) for k in sorted(expected)]
    return float(np.median(errors)), max(errors)


def timed(calls: dict[str, Callable[[], Any]], repeat: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run each call once unmeasured, then ``repeat`` times in turn; timings (ms) and last answers."""
    answers = {name: call() for name, call in calls.items()}
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(repeat):
        for name, call in calls.items():
            began = time.perf_counter()
            answers[name] = call()
            timings[name].append((time.perf_counter() - began) * 1000)
        if round_ % 5 == 4:
            console.print(f"  queries: {round_ + 1} of {repeat} rounds")
    return timings, answers


def wait_all(
    count: Callable[[], int], expected: int, timeout_s: float, what: str, answered: Callable[[], bool] = lambda: True
) -> float:
    """Poll ``count`` until it reaches ``expected`` and ``answered()`` holds too (the percentiles are
    there); the time it happened, with progress every 5 s."""
    began = time.time()
    told = began
    while (now := time.time()) < began + timeout_s:
        seen = count()
        if seen >= expected and answered():
            return time.time()
        if now - told >= 5:
            console.print(f"  {what}: {seen:,} of {expected:,} samples counted")
            told = now
        time.sleep(0.1)
    raise RuntimeError(f"{what}: {expected:,} samples not all queryable after {timeout_s:.0f} s")


def send(args: argparse.Namespace, t0_ms: int, system: str, *extra: str) -> dict[str, Any]:
    """Run ``bench.compare_send SYSTEM EXTRA...`` on the samples; its JSON line."""
    argv = [sys.executable, "-m", "bench.compare_send", system, "--samples", str(args.samples),
            "--seed", str(args.seed), "--t0", str(t0_ms), *extra]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"the {system} sender failed: {result.stderr[-3000:]}")
    out: dict[str, Any] = orjson.loads(result.stdout.strip().splitlines()[-1])
    if out.get("dropped") or out["sent"] != args.samples:
        raise RuntimeError(f"the {system} sender delivered {out['sent']} of {args.samples} samples: {out}")
    return out


def errors_of(answers: dict[str, Any], exact: dict[str, Any], t0_ms: int) -> dict[str, float]:
    """Relative errors of (a), (b) (median, max) and (c); ``answers["b"]``: step start ms -> value."""
    median, largest = step_errors({(t - t0_ms) // STEP_MS: v for t, v in answers["b"].items()}, exact["b"])
    return {
        "a": relative_error(answers["a"], exact["a"]),
        "b median": median,
        "b max": largest,
        "c": relative_error(answers["c"], exact["c"]),
    }


def exact_answers(samples: Samples, t0_ms: int, method: Method) -> dict[str, Any]:
    """numpy's exact (a), (b) (per step) and (c) on the samples, by ``method``."""
    one = samples.of(SERVICE, ROUTE)
    return {
        "a": exact_quantile(samples.values[one], 0.99, method),
        "b": exact_steps(samples, one, t0_ms, 0.95, method),
        "c": exact_quantile(samples.values[samples.of(SERVICE)], 0.95, method),
    }


def vm_calls(vm: VictoriaMetrics, t0_ms: int) -> dict[str, Callable[[], Any]]:
    """VictoriaMetrics' (a), (c) (a value each) and (b) (step start ms -> value)."""
    end_ms = t0_ms + SPAN_MS

    def steps() -> dict[int, float]:
        # Evaluated at each step's last ms: VictoriaMetrics' window (t - 10 s, t] is then the step.
        query = quantile_query(0.95, SERVICE, ROUTE, STEP_MS)
        return {t + 1 - STEP_MS: v for t, v in vm.range(query, t0_ms + STEP_MS - 1, end_ms - 1, STEP_MS).items()}

    return {
        "a": lambda: vm.instant(quantile_query(0.99, SERVICE, ROUTE, SPAN_MS), end_ms - 1)[0],
        "b": steps,
        "c": lambda: vm.instant(pooled_query(0.95, SERVICE, SPAN_MS), end_ms - 1)[0],
    }


@dataclass(frozen=True)
class System:
    """How to feed and ask one system: its sender (``bench.compare_send`` SYSTEM ARGS...), its count
    of queryable samples (``answered``: whether its percentiles are there too), its queries and
    the definition of a quantile its exact answers follow."""

    name: str
    sender: list[str]
    how: str
    groups: dict[str, list[int]]
    count: Callable[[], int]
    calls: dict[str, Callable[[], Any]]
    method: Method
    answered: Callable[[], bool] = lambda: True


def measure(system: System, args: argparse.Namespace, samples: Samples, t0_ms: int) -> Outcome:
    """Feed, wait until queryable, time the queries; CPU over the ingest, peak RSS over it all."""
    with ProcessStats(system.groups) as stats:
        stats.mark()
        console.print(f"{system.name}: {args.samples:,} samples {system.how} from a separate process ...")
        sent = send(args, t0_ms, *system.sender)
        done = wait_all(system.count, args.samples, 1800, system.name, system.answered)
        outcome = Outcome(samples_per_s=args.samples / (done - sent["first_send"]), cpu_s=stats.cpu_since_mark())
        console.print(f"{system.name}: queries (a), (b), (c), {args.repeat} rounds ...")
        outcome.timings_ms, answers = timed(system.calls, args.repeat)
    outcome.peak_rss_mb = stats.peak_rss_mb
    outcome.errors = errors_of(answers, exact_answers(samples, t0_ms, system.method), t0_ms)
    return outcome


def run_vm(args: argparse.Namespace, samples: Samples, t0_ms: int) -> Outcome:
    """Start VictoriaMetrics on an empty data dir, measure it, stop it."""
    vm = VictoriaMetrics(HOME / "compare-vm", args.vm_port)
    vm.start()
    total = total_query(SPAN_MS)
    try:
        return measure(
            System(
                name="VictoriaMetrics",
                sender=["vm", "--url", vm.url, "--connections", str(args.connections)],
                how="through /api/v1/import",
                groups={"victoria-metrics": [vm.pid]},
                count=lambda: int(sum(vm.instant(total, t0_ms + SPAN_MS - 1))),
                calls=vm_calls(vm, t0_ms),
                method=INTERPOLATED,
            ),
            args,
            samples,
            t0_ms,
        )
    finally:
        vm.stop()


def _kafka_pid(kafka: LocalKafka) -> int:
    """The broker's pid: ours from its pid file, or whoever listens on its port."""
    if (pid := kafka.running_pid()) is not None:
        return pid
    for connection in psutil.net_connections("tcp"):
        port = getattr(connection.laddr, "port", None)  # an unbound socket's laddr is ()
        if connection.status == psutil.CONN_LISTEN and port == kafka.port and connection.pid:
            return connection.pid
    raise RuntimeError(f"no process listens on Kafka's port {kafka.port}")


def perfpulse_calls(d: Deployment, t0_ms: int) -> dict[str, Callable[[], Any]]:
    """perfpulse's (a), (c) (a value each; no answer is an error) and (b) (step start ms -> value)."""
    whole: dict[str, Any] = {
        "metric": METRIC,
        "start": t0_ms,
        "end": t0_ms + SPAN_MS,
        "group_by": "",
        "service": SERVICE,
    }
    route = {"label.route": ROUTE}

    def one(stat: str, **params: Any) -> float:
        [series] = d.get("/api/v1/query", **whole, stats=stat, **params)["series"]
        if (value := series["points"][0][stat]) is None:
            raise RuntimeError(f"perfpulse answered no {stat} for {params or SERVICE}: {series}")
        return float(value)

    def steps() -> dict[int, float]:
        [series] = d.get("/api/v1/query", **whole, stats="p95", step="10s", **route)["series"]
        return {p["t"]: p["p95"] for p in series["points"] if p["p95"] is not None}

    return {"a": lambda: one("p99", **route), "b": steps, "c": lambda: one("p95")}


def run_perfpulse(args: argparse.Namespace, samples: Samples, t0_ms: int) -> Outcome:
    """Deploy perfpulse on a fresh store (and Kafka unless one answers), measure it, stop it."""
    kafka = LocalKafka(HOME / "kafka", port=KAFKA_PORT)
    state = kafka.start()
    console.print(f"perfpulse: Kafka on {kafka.bootstrap}: {state}")
    shutil.rmtree(HOME / "compare", ignore_errors=True)  # a store filled from other topics is refused
    try:
        with uncached_env(), deployed("compare", "10s", "2s") as d:
            # Points older than the window and grace are late: the stream folds them into correction
            # rows of their windows (stream/partition.py), so only ingest's age bound could refuse them.
            oldest_ms = int(time.time() * 1000) - t0_ms + 10 * 60_000  # 10 min to spare for the run
            if d.settings.limits.max_past_ms < oldest_ms:
                raise RuntimeError(
                    f"PERFPULSE_MAX_PAST={d.settings.max_past} refuses the samples: at least {oldest_ms} ms"
                )
            pooled = {"metric": METRIC, "start": t0_ms, "end": t0_ms + SPAN_MS, "group_by": "", "stats": "p95"}
            return measure(
                System(
                    name="perfpulse",
                    sender=[
                        "perfpulse",
                        "--bootstrap",
                        d.settings.kafka_bootstrap,
                        "--prefix",
                        d.settings.topic_prefix,
                    ],
                    how="through the SDK (observe_many)",
                    groups={"perfpulse": [p.pid for p in d.group.processes.values()], "kafka": [_kafka_pid(kafka)]},
                    count=lambda: d.count(METRIC, t0_ms, t0_ms + SPAN_MS),
                    calls=perfpulse_calls(d, t0_ms),
                    method=NEAREST_RANK,
                    answered=lambda: d.get("/api/v1/query", **pooled)["series"][0]["points"][0]["p95"] is not None,
                ),
                args,
                samples,
                t0_ms,
            )
    finally:
        if state == "started":
            kafka.stop()


def report(pp: Outcome, vm: Outcome, chart: Path) -> dict[str, float]:
    """Print the table, draw the chart; the RESULT figures."""
    table = Table("figure", "perfpulse", "VictoriaMetrics", "ratio")
    table.add_row("ingest samples/s", f"{pp.samples_per_s:,.0f}", f"{vm.samples_per_s:,.0f}",
                  f"{pp.samples_per_s / vm.samples_per_s:.3f} (perfpulse / VM)")  # fmt: skip
    for name, seconds in {**pp.cpu_s, **vm.cpu_s}.items():
        side = ("", f"{seconds:,.1f}") if name == "victoria-metrics" else (f"{seconds:,.1f}", "")
        table.add_row(f"CPU s during ingest ({name})", *side, "")
    for name, mb in {**pp.peak_rss_mb, **vm.peak_rss_mb}.items():
        side = ("", f"{mb:,.0f}") if name == "victoria-metrics" else (f"{mb:,.0f}", "")
        table.add_row(f"peak RSS MB ({name})", *side, "")
    ratios = {}
    for q in QUERIES:
        ratios[q] = vm.p(q, 50) / pp.p(q, 50)
        times = [f"{o.p(q, 50):,.1f} / {o.p(q, 99):,.1f}" for o in (pp, vm)]
        table.add_row(f"({q}) p50 / p99 ms", *times, f"{ratios[q]:.2f} (VM p50 / perfpulse p50)")
    for key in pp.errors:
        table.add_row(f"({key}) relative error %", f"{pp.errors[key] * 100:.3f}", f"{vm.errors[key] * 100:.3f}", "")
    Console(width=130).print(table)
    draw(chart, pp, vm)
    console.print(f"chart: {chart}")
    return {
        "vm_ingest_ratio": pp.samples_per_s / vm.samples_per_s,
        **{f"vm_query_ratio_{q}": ratios[q] for q in QUERIES},
        "pooled_p95_err_pct": pp.errors["c"] * 100,
        "vm_pooled_p95_err_pct": vm.errors["c"] * 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="perfpulse side by side with VictoriaMetrics on the same samples")
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20, help="measured runs of each query")
    parser.add_argument("--connections", type=int, default=4, help="VictoriaMetrics import connections")
    parser.add_argument("--vm-port", type=int, default=28428)
    parser.add_argument("--chart", type=Path, default=HOME / "compare.png")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    configure_logging("error", "console")
    HOME.mkdir(parents=True, exist_ok=True)
    t0_ms = data_start(int(time.time() * 1000))
    console.print(f"compare: {args.samples:,} samples (seed {args.seed}), 12 series, from {t0_ms} for 50 min; "
                  f"{os.cpu_count()} cores")  # fmt: skip
    samples = generate(args.samples, args.seed, t0_ms)
    vm = run_vm(args, samples, t0_ms)
    pp = run_perfpulse(args, samples, t0_ms)
    figures = report(pp, vm, args.chart)
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
