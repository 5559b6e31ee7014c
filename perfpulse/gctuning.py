"""Garbage-collector settings of perfpulse's long-running processes (API, its ingest worker
processes, stream worker, sink, notifier).

Their hot paths allocate many short-lived objects per record (decoded spans, points, rows) that
reference counting frees at once; CPython's default first-generation threshold (700 allocations)
still runs a collection every few hundred of them, each walking every young object. Measured on the
span path (``python -m bench.otlp_spans --stages``, 100,352 spans): with the collector off, one run
gave the stream worker 6.4 instead of 8.3 µs per span and the sink 9.5 instead of 15.0. Turning it
off would never free reference cycles; instead the objects made while starting (modules, settings,
app) are frozen out of every collection and the first generation collects every
:data:`GEN0_THRESHOLD` allocations. With this, two runs alternating with two default ones on a loaded
machine: worker 8.2-12.0 µs per span (default 9.1-16.5), sink 13.7-17.1 (17.5-22.3), receiver
26.3-36.1 (30.2-37.7). The API's ingest worker processes (ingest/receivers/offload.py), which
parse and encode OTLP bodies, took 17.9-18.4 µs per span with it against 19.2-20.0 (2 alternated
pairs of 400,000 spans).
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GEN0_THRESHOLD", "tune_gc"]

GEN0_THRESHOLD: Final = 50_000  # allocations between first-generation collections (CPython: 700)


def tune_gc() -> None:
    """Freeze what exists now out of collection and collect the first generation less often; call
    once, after imports and before serving."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)
