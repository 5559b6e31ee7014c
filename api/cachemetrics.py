"""The query cache's health, in Prometheus form (served on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["CACHE_BYTES", "CACHE_COALESCED", "CACHE_EVICTIONS", "CACHE_HITS", "CACHE_INVALIDATIONS", "CACHE_MISSES"]

CACHE_HITS = Counter(
    "perfpulse_cache_hits_total",
    "Answer parts served from a cache layer (stale: a dropped part standing in while it is read again)",
    ["layer"],
)
CACHE_MISSES = Counter("perfpulse_cache_misses_total", "Cacheable answer parts a cache layer did not hold", ["layer"])
CACHE_EVICTIONS = Counter("perfpulse_cache_evictions_total", "L1 entries pushed out by its byte bound or expired")
CACHE_INVALIDATIONS = Counter(
    "perfpulse_cache_invalidations_total",
    "Cached answers dropped because stored windows or spans changed them",
    ["layer"],
)
CACHE_BYTES = Gauge("perfpulse_cache_bytes", "Bytes the L1 cache holds", multiprocess_mode="livesum")
CACHE_COALESCED = Counter(
    "perfpulse_cache_coalesced_total", "ClickHouse reads saved by joining an identical read already running"
)
