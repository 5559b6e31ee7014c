"""The ingest stage: the emitter SDK services embed (``ingest.sdk``), the HTTP and OTLP receivers
(``ingest.receivers``) and the Kafka producer both share (``ingest.producer``).

``from ingest import Emitter`` is all a service needs to send metrics, spans and logs; ``inject`` /
``extract`` / ``continue_trace`` carry a trace across HTTP calls (W3C ``traceparent``); ``LogHandler``
ships ``logging`` records. Importing this package loads the SDK only (no server dependency);
``ingest.demo`` generates synthetic traffic.
"""

from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.sdk.emitter import Emitter
from ingest.sdk.loghandler import LogHandler
from ingest.sdk.timer import Timer
from ingest.sdk.traceparent import continue_trace, extract, inject
from ingest.sdk.tracing import ActiveSpan, SpanContext, current_context, current_span, use_context

__all__ = [
    "ActiveSpan",
    "Emitter",
    "KafkaUnavailable",
    "LogHandler",
    "RecordProducer",
    "RecordRejected",
    "SpanContext",
    "Timer",
    "continue_trace",
    "current_context",
    "current_span",
    "extract",
    "inject",
    "use_context",
]
