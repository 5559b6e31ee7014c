"""The ingest stage's own health, in Prometheus form."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["POINTS_ACCEPTED", "POINTS_REJECTED", "RECORDS_ACCEPTED", "RECORDS_REJECTED", "REQUESTS_REJECTED"]

POINTS_ACCEPTED = Counter("perfpulse_ingest_points_accepted_total", "Points acknowledged by Kafka", ["source"])
POINTS_REJECTED = Counter(
    "perfpulse_ingest_points_rejected_total", "Points in requests rejected with a 4xx", ["source"]
)
REQUESTS_REJECTED = Counter(
    "perfpulse_ingest_requests_rejected_total", "Ingest requests answered 4xx or 503", ["source", "status"]
)
# signal: "spans" or "logs" (metric points have the counters above); source: "http" or "otlp".
RECORDS_ACCEPTED = Counter(
    "perfpulse_ingest_records_accepted_total", "Spans and log records acknowledged by Kafka", ["source", "signal"]
)
RECORDS_REJECTED = Counter(
    "perfpulse_ingest_records_rejected_total",
    "Spans and log records refused: in requests rejected with a 4xx, or rejected one by one (OTLP partial success)",
    ["source", "signal"],
)
