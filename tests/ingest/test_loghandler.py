"""LogHandler: Python ``logging`` records become structured log records of the emitter's service,
correlated with the current span, redacted, and delivered to Kafka."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import pytest

from ingest import Emitter, LogHandler
from ingest.sdk.loghandler import level_of
from schemas import LogLevel, LogRecord, Topics
from schemas.redact import REDACTED
from tests.ingest.helpers import read_logs

UNREACHABLE = "127.0.0.1:1"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of this test alone, passing everything."""
    named = logging.getLogger(f"app.{uuid.uuid4().hex[:8]}")
    named.setLevel(logging.DEBUG)
    named.propagate = False
    yield named
    for handler in list(named.handlers):
        named.removeHandler(handler)


def held(emitter: Emitter) -> list[LogRecord]:
    buffer = emitter._logs
    with buffer.lock:
        return [*(r for b in buffer._pending for r in b.items), *buffer._open]


@pytest.mark.parametrize(
    ("levelno", "level"),
    [
        (5, LogLevel.TRACE),
        (logging.DEBUG, LogLevel.DEBUG),
        (logging.INFO, LogLevel.INFO),
        (25, LogLevel.INFO),
        (logging.WARNING, LogLevel.WARN),
        (logging.ERROR, LogLevel.ERROR),
        (logging.CRITICAL, LogLevel.FATAL),
    ],
)
def test_levels_map_to_ours(levelno: int, level: LogLevel) -> None:
    assert level_of(levelno) is level


def test_records_carry_code_location_extras_and_the_current_span(logger: logging.Logger) -> None:
    emitter = Emitter("billing", UNREACHABLE, request_timeout_s=1, linger_ms=60_000)
    logger.addHandler(LogHandler(emitter))
    try:
        logger.info("outside %s", "any span")
        with emitter.span("charge") as span:
            logger.warning("card declined for order %d", 42, extra={"order_id": 42, "retry": True})
        records = held(emitter)
    finally:
        emitter.close(timeout=0.5)
    outside, inside = records
    assert outside.message == "outside any span" and outside.trace_id is None and outside.span_id is None
    assert inside.message == "card declined for order 42" and inside.level is LogLevel.WARN
    assert (inside.trace_id, inside.span_id) == (span.trace_id, span.span_id)
    assert inside.service == "billing"
    assert inside.attributes["logger.name"] == logger.name
    assert inside.attributes["code.function"] == "test_records_carry_code_location_extras_and_the_current_span"
    assert inside.attributes["code.filepath"].endswith("test_loghandler.py")
    assert int(inside.attributes["code.lineno"]) > 0
    assert inside.attributes["order_id"] == "42" and inside.attributes["retry"] == "true"
    assert abs(inside.ts_ns - time.time_ns()) < 10 * 1_000_000_000


def test_exceptions_are_attributes_and_the_formatter_is_used(logger: logging.Logger) -> None:
    emitter = Emitter("billing", UNREACHABLE, request_timeout_s=1, linger_ms=60_000)
    handler = LogHandler(emitter, logging.ERROR)
    logger.addHandler(handler)
    try:
        logger.info("below the handler's level")
        try:
            raise RuntimeError("ledger locked")
        except RuntimeError:
            logger.exception("cannot post")
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        logger.critical("disk full")
        plain, formatted = held(emitter)
    finally:
        emitter.close(timeout=0.5)
    assert plain.message == "cannot post" and plain.level is LogLevel.ERROR
    assert plain.attributes["exception.type"] == "RuntimeError"
    assert plain.attributes["exception.message"] == "ledger locked"
    assert "raise RuntimeError" in plain.attributes["exception.stacktrace"]
    assert formatted.message == "[CRITICAL] disk full" and formatted.level is LogLevel.FATAL


def test_the_sdks_own_loggers_are_not_shipped() -> None:
    emitter = Emitter("billing", UNREACHABLE, request_timeout_s=1, linger_ms=60_000)
    handler = LogHandler(emitter)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("aiokafka.conn").error("connection refused")
        logging.getLogger("perfpulse.ingest.sdk.emitter").warning("dropped 3 points")
        logging.getLogger("aiokafkaesque").error("a different library")  # a prefix, not a parent logger
        messages = [r.message for r in held(emitter)]
    finally:
        root.removeHandler(handler)
        emitter.close(timeout=0.5)
    assert messages == ["a different library"]


@pytest.mark.integration
def test_log_records_reach_kafka_redacted_and_correlated(
    kafka_bootstrap: str, topics: Topics, logger: logging.Logger
) -> None:
    emitter = Emitter("billing", kafka_bootstrap, topic_prefix=topics.prefix, linger_ms=20)
    logger.addHandler(LogHandler(emitter))
    try:
        with emitter.span("charge") as span:
            logger.error("login with password=hunter2 failed", extra={"api_key": "k-123"})
        for i in range(600):
            logger.debug("tick %d", i)
        emitter.log("direct", level="info", region="eu")
        assert emitter.flush(30)
        assert emitter.logs_sent == 602 and emitter.logs_dropped == 0
    finally:
        emitter.close()
    records = read_logs(kafka_bootstrap, topics.logs)
    assert {key for key, _ in records} == {b"billing"}
    assert max(len(batch) for _, batch in records) <= 500
    found = [r for _, batch in records for r in batch]
    assert len(found) == 602
    first = found[0]
    assert first.message == f"login with password={REDACTED} failed"
    assert first.attributes["api_key"] == REDACTED
    assert (first.trace_id, first.span_id) == (span.trace_id, span.span_id)
    assert found[-1].message == "direct" and found[-1].attributes == {"region": "eu"}
