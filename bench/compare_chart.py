"""The PNG chart of ``python -m bench.compare`` (matplotlib, no display): one panel per figure,
perfpulse beside VictoriaMetrics: ingest samples/s, CPU seconds during ingest and peak RSS (perfpulse
split into its own processes and Kafka), query latency p50 and p99 of (a), (b), (c) on a log scale,
and the answers' relative errors in percent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display here
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bench.compare import Outcome

__all__ = ["draw"]

PERFPULSE, VM = "#1f77b4", "#d62728"
KAFKA = "#aec7e8"


def _resources(ax: Axes, pp: dict[str, float], vm: dict[str, float], title: str) -> None:
    """perfpulse's own processes with Kafka stacked on top, beside VictoriaMetrics."""
    ax.bar(["perfpulse"], [pp["perfpulse"]], color=PERFPULSE, label="perfpulse processes")
    ax.bar(["perfpulse"], [pp["kafka"]], bottom=[pp["perfpulse"]], color=KAFKA, label="Kafka")
    ax.bar(["VictoriaMetrics"], [vm["victoria-metrics"]], color=VM)
    ax.set_title(title)
    ax.legend(fontsize=7)


def draw(path: Path, pp: Outcome, vm: Outcome) -> None:
    """Write the chart of the two outcomes to ``path`` (its directory is created)."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    ingest, cpu, rss, latency, errors, blank = axes.flat
    ingest.bar(["perfpulse", "VictoriaMetrics"], [pp.samples_per_s, vm.samples_per_s], color=[PERFPULSE, VM])
    ingest.set_title("ingest samples/s (first send to all queryable)")
    _resources(cpu, pp.cpu_s, vm.cpu_s, "CPU seconds during ingest")
    _resources(rss, pp.peak_rss_mb, vm.peak_rss_mb, "peak RSS MB")
    queries = sorted(pp.timings_ms)
    width = 0.2
    for i, q in enumerate(queries):
        for j, (outcome, color, name) in enumerate(((pp, PERFPULSE, "perfpulse"), (vm, VM, "VictoriaMetrics"))):
            for k, level in enumerate((50, 99)):
                x = i + (2 * j + k - 1.5) * width
                label = f"{name} p{level}" if i == 0 else None
                latency.bar(
                    [x], [outcome.p(q, level)], width, color=color, alpha=1.0 if level == 50 else 0.5, label=label
                )
    latency.set_xticks(range(len(queries)), [f"({q})" for q in queries])
    latency.set_yscale("log")
    latency.set_title("query latency ms: (a) p99 of a series, (b) p95 per 10 s, (c) pooled p95")
    latency.title.set_fontsize(9)
    latency.legend(fontsize=7)
    keys = list(pp.errors)
    for j, (outcome, color, name) in enumerate(((pp, PERFPULSE, "perfpulse"), (vm, VM, "VictoriaMetrics"))):
        xs = [i + (j - 0.5) * 0.35 for i in range(len(keys))]
        errors.bar(xs, [outcome.errors[key] * 100 for key in keys], 0.35, color=color, label=name)
    errors.set_xticks(range(len(keys)), [f"({key})" for key in keys], fontsize=8)
    errors.set_title("relative error % against numpy's exact value")
    errors.legend(fontsize=7)
    blank.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
