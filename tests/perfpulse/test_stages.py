"""The composition root turns settings into stage configs: TTLs into migration params, the redaction
keys into the sink's redactor."""

from __future__ import annotations

import pytest

from perfpulse.settings import Settings
from perfpulse.stages import migration_params, sink_config
from schemas.redact import DEFAULT_SENSITIVE_KEYS, REDACTED


def test_spans_and_logs_ttls_reach_the_migrations() -> None:
    params = migration_params(Settings(spans_ttl_days=2, logs_ttl_days=9))
    assert (params.spans_ttl_days, params.logs_ttl_days) == (2, 9)
    assert (migration_params(Settings()).spans_ttl_days, migration_params(Settings()).logs_ttl_days) == (7, 7)


def test_the_sink_redacts_the_default_keys_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sink_config(Settings()).redactor.keys == frozenset(DEFAULT_SENSITIVE_KEYS)
    monkeypatch.setenv("PERFPULSE_REDACT_KEYS", " Session , ssn,,")
    redactor = sink_config(Settings()).redactor
    assert redactor.keys == {"session", "ssn"}
    assert redactor.attributes({"x-session-id": "a", "password": "b"}) == {"x-session-id": REDACTED, "password": "b"}
