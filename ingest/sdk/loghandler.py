"""A ``logging.Handler`` that ships Python log records to perfpulse as structured logs.

Each record becomes a :class:`~schemas.logs.LogRecord` of the emitter's service, correlated with the
span current where it was logged (trace and span ids from the contextvar of :mod:`ingest.sdk.tracing`),
and is buffered by the emitter like any log record: logging never waits for Kafka.

Attributes carried: ``logger.name``, ``code.function``, ``code.filepath``, ``code.lineno``,
``thread.name``, the ``exception.*`` triple when the record has ``exc_info``, and every ``extra=``
field (as text). Records of the loggers in ``exclude`` (by default the SDK's own and aiokafka's,
which the emitter's sending thread writes) are not shipped: shipping them would feed the sender its
own log lines.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

from ingest.sdk.emitter import Emitter
from ingest.sdk.tracing import current_context, fit_attributes
from schemas import LogLevel, LogRecord

__all__ = ["DEFAULT_EXCLUDE", "LogHandler", "level_of"]

DEFAULT_EXCLUDE = ("perfpulse.ingest", "aiokafka", "kafka")
# The attributes every logging.LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def level_of(levelno: int) -> LogLevel:
    """Our level of a ``logging`` level number (custom levels fall in the range below them)."""
    if levelno >= logging.CRITICAL:
        return LogLevel.FATAL
    if levelno >= logging.ERROR:
        return LogLevel.ERROR
    if levelno >= logging.WARNING:
        return LogLevel.WARN
    if levelno >= logging.INFO:
        return LogLevel.INFO
    if levelno >= logging.DEBUG:
        return LogLevel.DEBUG
    return LogLevel.TRACE


class LogHandler(logging.Handler):
    """Sends the records it handles through ``emitter`` (attach it to a logger, or the root logger).

    ``exclude``: logger names (and their children) whose records are ignored. The handler's formatter,
    if one is set, formats the message; otherwise the message is ``record.getMessage()`` and the
    traceback goes to the ``exception.stacktrace`` attribute.
    """

    def __init__(
        self, emitter: Emitter, level: int | str = logging.NOTSET, *, exclude: Iterable[str] = DEFAULT_EXCLUDE
    ) -> None:
        super().__init__(level)
        self.emitter = emitter
        self.exclude = tuple(exclude)

    def _excluded(self, name: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self.exclude)

    def emit(self, record: logging.LogRecord) -> None:
        if self._excluded(record.name):
            return
        try:
            self.emitter.add_log(self.to_log_record(record))
        except Exception:
            self.handleError(record)

    def to_log_record(self, record: logging.LogRecord) -> LogRecord:
        """The structured log record of a ``logging`` record (service: the emitter's)."""
        message = self.format(record) if self.formatter is not None else record.getMessage()
        attributes: dict[str, object] = {
            "logger.name": record.name,
            "code.function": record.funcName,
            "code.filepath": record.pathname,
            "code.lineno": record.lineno,
            "thread.name": record.threadName,
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            attributes["exception.type"] = type(exc).__qualname__
            attributes["exception.message"] = str(exc)
            attributes["exception.stacktrace"] = "".join(traceback.format_exception(exc))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                attributes[key] = value
        context = current_context()
        return LogRecord(
            ts_ns=int(record.created * 1e9),
            service=self.emitter.service,
            level=level_of(record.levelno),
            message=message,
            attributes=fit_attributes(attributes, self.emitter.limits),
            trace_id=None if context is None else context.trace_id,
            span_id=None if context is None else context.span_id,
        )
