"""bench/procstats.py: CPU seconds and peak RSS of a group of real processes (this one)."""

from __future__ import annotations

import os
import time

import psutil

from bench.procstats import ProcessStats


def test_cpu_since_mark_and_peak_rss_of_this_process() -> None:
    with ProcessStats({"me": [os.getpid()]}, every_s=0.01) as stats:
        stats.mark()
        total = 0
        while stats.cpu_since_mark()["me"] <= 0.05:  # work until the kernel has counted some CPU
            total += sum(range(10_000))
        for _ in range(1_000):  # the sampling thread's first pass, within 10 s
            if stats.peak_rss_mb["me"] > 0:
                break
            time.sleep(0.01)
    rss_mb = psutil.Process().memory_info().rss / 2**20
    assert total > 0
    assert 0.5 * rss_mb < stats.peak_rss_mb["me"] < 2 * rss_mb


def test_a_group_of_gone_processes_counts_nothing() -> None:
    child = psutil.Popen(["true"])
    child.wait()
    with ProcessStats({"gone": [child.pid]}) as stats:
        assert stats.cpu_seconds("gone") == 0.0
