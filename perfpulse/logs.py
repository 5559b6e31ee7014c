"""Structured logs for every perfpulse process: JSON when not on a terminal, readable when on one.

Libraries log through the stdlib (Faust, aiokafka, uvicorn); their records go through the same
structlog processors, so one process writes one format.
"""

from __future__ import annotations

import logging
import sys
import time

import structlog

__all__ = ["RepeatFilter", "configure_logging"]


class RepeatFilter(logging.Filter):
    """Lets one record per (logger, message) through every ``interval_s``; counts the rest.

    Why: while Kafka is down, aiokafka logs the same connection error for every request, hundreds
    of lines a second; the operator needs one line saying so, and the count.
    """

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        seen, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - seen < self.interval_s:
            self._last[key] = (seen, suppressed + 1)
            return False
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it in the last {now - seen:.0f} s)"
        self._last[key] = (now, 0)
        if len(self._last) > 10_000:
            self._last.clear()
        return True


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Route stdlib and structlog records to stderr as JSON (``fmt="json"``) or console lines."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
