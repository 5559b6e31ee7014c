"""``python -m bench.traces``: trace reads over ~2M spans in an embedded store (chDB), as migrated.

Not a unit test: it loads 100,000 traces of 20 spans (7 services, 31 operations, 2 tags and one span
log per span) spread over the last two days, in 100 inserts as the sink writes them (so the table
has the parts and daily partitions it has in use), then times the API's storage calls:
trace by id (:func:`storage.traces.fetch_trace`, tree, self times and critical path included), a
trace search over the last hour, and the service graph over the last hour.

Prints ``RESULT trace_by_id_p50_ms=... p95_ms=... p99_ms=... search_p50_ms=... dependencies_p50_ms=...``.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from storage import apply_migrations, open_store
from storage.client import Store
from storage.traces import TraceQuery, dependencies, fetch_trace, search_traces

SPANS = 2_000_000
PER_TRACE = 20
INSERTS = 100


def load(store: Store, now_s: int) -> None:
    traces = SPANS // PER_TRACE
    gap_s = 2 * 86_400 / traces
    per_insert = SPANS // INSERTS
    for i in range(INSERTS):
        store.command(
            f"""
            INSERT INTO spans (trace_id, span_id, parent_span_id, service, operation, kind, status, start,
                               duration_ns, tags, events.ts, events.message, events.level, events.attributes,
                               src_partition, src_offset)
            SELECT lower(hex(MD5(toString(intDiv(number, {PER_TRACE}))))),
                   lower(hex(substring(MD5(toString(number)), 1, 8))),
                   if(number % {PER_TRACE} = 0, '', lower(hex(substring(MD5(toString(number - 1)), 1, 8)))),
                   concat('service-', toString(number % 7)), concat('operation-', toString(number % 31)),
                   if(number % {PER_TRACE} = 0, 'server', 'internal'), if(number % 97 = 0, 'error', 'ok'),
                   fromUnixTimestamp64Nano(toInt64(({now_s - 2 * 86_400} + intDiv(number, {PER_TRACE}) * {gap_s})
                                                   * 1e9) + (number % {PER_TRACE}) * 1000000),
                   (({PER_TRACE} - number % {PER_TRACE}) * 1000000) + rand() % 1000000,
                   map('http.route', concat('/r', toString(number % 13)), 'user', toString(number % 1000)),
                   [now64(9)], ['cache miss'], ['info'], [map('key', toString(number % 50))],
                   number % 4, intDiv(number, 500)
            FROM numbers({i * per_insert}, {per_insert})
            """
        )


def timed(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"chdb://{directory}/ch", pool_size=1)
        apply_migrations(store)
        now_s = int(time.time())
        started = time.perf_counter()
        load(store, now_s)
        [(count, parts, partitions)] = store.rows(
            "SELECT count(), uniqExact(_part), uniqExact(_partition_id) FROM spans"
        )
        print(
            f"loaded {count:,} spans in {time.perf_counter() - started:.1f} s: {parts} parts, {partitions} partitions"
        )
        rng = random.Random(1)
        ids = [
            row[0] for row in store.rows(f"SELECT lower(hex(MD5(toString(number)))) FROM numbers({SPANS // PER_TRACE})")
        ]

        def by_id() -> None:
            tree, _ = fetch_trace(store, rng.choice(ids))
            assert tree is not None and tree.size == PER_TRACE

        by_id_ms = timed(by_id, 300)
        hour = (now_s * 1000 - 3_600_000, now_s * 1000)
        search_ms = timed(lambda: search_traces(store, TraceQuery(*hour, service="service-3")), 20)
        graph_ms = timed(lambda: dependencies(store, *hour), 5)
        store.close()
    p50, p95, p99 = (by_id_ms[int(q * (len(by_id_ms) - 1))] for q in (0.5, 0.95, 0.99))
    print(f"trace by id over {count:,} spans: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
    print(f"search (1 h, one service): p50 {statistics.median(search_ms):.1f} ms")
    print(f"dependencies (1 h): p50 {statistics.median(graph_ms):.1f} ms")
    print(
        f"RESULT trace_by_id_p50_ms={p50:.1f} p95_ms={p95:.1f} p99_ms={p99:.1f} "
        f"search_p50_ms={statistics.median(search_ms):.1f} dependencies_p50_ms={statistics.median(graph_ms):.1f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
