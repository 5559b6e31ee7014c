"""The storage stage's own health, in Prometheus form."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ALERT_REPLAYS_SKIPPED",
    "CONSUMER_LAG",
    "HELD_SECONDS",
    "INSERT_SECONDS",
    "REPLAYS_SKIPPED",
    "ROWS_INSERTED",
    "UNREADABLE_RECORDS",
]

ROWS_INSERTED = Counter("perfpulse_sink_rows_inserted_total", "Rows written to ClickHouse", ["table"])
INSERT_SECONDS = Histogram(
    "perfpulse_sink_insert_seconds",
    "Duration of one ClickHouse insert",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REPLAYS_SKIPPED = Counter(
    "perfpulse_sink_replayed_rollups_skipped_total", "Rollup records skipped as re-emissions of stored ones"
)
ALERT_REPLAYS_SKIPPED = Counter(
    "perfpulse_sink_replayed_alerts_skipped_total", "Alert records skipped as re-emissions of stored ones"
)
UNREADABLE_RECORDS = Counter(
    "perfpulse_sink_unreadable_records_total",
    "Records the sink could not decode (the stream stage dead-letters them)",
    ["topic"],
)
HELD_SECONDS = Gauge(
    "perfpulse_sink_partition_held_seconds",
    "How long a partition's last stable offset has stayed behind its end, once past the limit a "
    "transaction timeout explains (README: Guarantees); 0 otherwise",
    ["topic", "partition"],
    multiprocess_mode="liveall",
)
CONSUMER_LAG = Gauge(
    "perfpulse_sink_consumer_lag_records",
    "Records between the sink's position and the end of a partition",
    ["topic", "partition"],
    multiprocess_mode="liveall",
)
