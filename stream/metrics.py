"""The stream stage's own health, in Prometheus form."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "ALERT_TRANSITIONS",
    "CONSUMER_LAG",
    "DEADLETTERS",
    "LATE_POINTS",
    "OPEN_WINDOWS",
    "OVERFLOW_POINTS",
    "POINTS_PROCESSED",
    "ROLLUP_ROWS",
    "WINDOWS_EMITTED",
]

POINTS_PROCESSED = Counter("perfpulse_stream_points_total", "Metric points folded into windows")
LATE_POINTS = Counter("perfpulse_stream_late_points_total", "Points that arrived after their window closed")
OVERFLOW_POINTS = Counter(
    "perfpulse_stream_overflow_points_total", "Points of new series past a series cap, folded into overflow series"
)
WINDOWS_EMITTED = Counter("perfpulse_stream_windows_emitted_total", "Windows closed on time and emitted")
ROLLUP_ROWS = Counter("perfpulse_stream_rollup_rows_total", "Rollup rows sent (main and corrections)")
DEADLETTERS = Counter("perfpulse_deadletters_total", "Records sent to the dead-letter topic", ["stage"])
OPEN_WINDOWS = Gauge("perfpulse_stream_open_windows", "Windows held open", ["partition"], multiprocess_mode="liveall")
CONSUMER_LAG = Gauge(
    "perfpulse_stream_consumer_lag_records",
    "Records between a consumer's position and the end of its partition",
    ["group", "topic", "partition"],
    multiprocess_mode="liveall",
)
ALERT_TRANSITIONS = Counter("perfpulse_stream_alert_transitions_total", "Alert state transitions emitted")
