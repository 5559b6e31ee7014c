"""The live feed's own health on ``/metrics``: connections, what goes out, how late it goes out."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CLOSED",
    "CONNECTIONS",
    "EVENTS_SENT",
    "FRAMES_SENT",
    "RESULT_QUERIES",
    "RESULT_SECONDS",
    "SEND_LAG",
    "STORED_MESSAGES",
]

CONNECTIONS = Gauge(
    "perfpulse_live_connections", "Open live-feed connections", ["transport"], multiprocess_mode="livesum"
)
FRAMES_SENT = Counter("perfpulse_live_frames_sent_total", "Frames sent to live-feed clients", ["transport", "format"])
EVENTS_SENT = Counter(
    "perfpulse_live_events_sent_total", "Subscription results sent to live-feed clients", ["transport"]
)
SEND_LAG = Histogram(
    "perfpulse_live_send_lag_seconds",
    "From a result computed to its frame sent to a client (queueing, batching, a slow client's socket)",
    ["transport"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
CLOSED = Counter("perfpulse_live_closed_total", "Live-feed connections closed by the server, by why", ["reason"])
STORED_MESSAGES = Counter(
    "perfpulse_live_stored_messages_total", "Stored-windows messages heard on Redis, by outcome", ["outcome"]
)
RESULT_QUERIES = Counter(
    "perfpulse_live_result_queries_total",
    "Queries run for live results (a round: one per shape of query subscriptions, up to 50 metrics, and run of "
    "adjacent buckets; one per services subscription and bucket)",
    ["kind"],
)
RESULT_SECONDS = Histogram(
    "perfpulse_live_result_seconds",
    "From a stored-windows message heard to its result computed (waiting for a query slot included)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
