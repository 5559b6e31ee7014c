"""The ingest stage: the emitter SDK services embed, and the Kafka producer the receivers share.

``from ingest import Emitter`` is all a service needs to send metrics, spans and logs; ``inject`` /
``extract`` / ``continue_trace`` carry a trace across HTTP calls (W3C ``traceparent``); ``LogHandler``
ships ``logging`` records. ``ingest.demo`` generates synthetic traffic; ``ingest.http`` and
``ingest.otlp`` are the HTTP receivers.
"""

from ingest.emitter import Emitter
from ingest.loghandler import LogHandler
from ingest.producer import KafkaUnavailable, RecordProducer, RecordRejected
from ingest.timer import Timer
from ingest.traceparent import continue_trace, extract, inject
from ingest.tracing import ActiveSpan, SpanContext, current_context, current_span, use_context

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
