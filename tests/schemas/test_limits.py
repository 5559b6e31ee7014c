"""The validation limits match the documented contract (architecture sections 3 and 5)."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.limits import (
    LABEL_KEY_PATTERN,
    MAX_TIME_MS,
    METRIC_NAME_PATTERN,
    RESERVED_LABELS,
    SERVICE_PATTERN,
    Limits,
    check_epoch_ms,
    check_epoch_ns,
)


def test_default_limits_are_the_documented_ones() -> None:
    limits = Limits()
    assert limits.max_past_ms == 24 * 3_600_000
    assert limits.max_future_ms == 10 * 60_000
    assert limits.max_points_per_batch == 50_000
    assert limits.max_labels == 32
    assert limits.max_name_length == 200


def test_limits_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Limits().max_labels = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", ["http.server.duration", "_x", "a:b/c-d_e.f", "A9"])
def test_metric_name_pattern_accepts_dotted_names(name: str) -> None:
    assert METRIC_NAME_PATTERN.match(name)


@pytest.mark.parametrize("name", ["9lives", ".x", "a b", "a\nb", "é", ""])
def test_metric_name_pattern_refuses_leading_digit_space_and_non_ascii(name: str) -> None:
    assert not METRIC_NAME_PATTERN.match(name)


def test_service_may_start_with_a_digit_but_label_names_may_not() -> None:
    assert SERVICE_PATTERN.match("4110-gateway")
    assert not LABEL_KEY_PATTERN.match("4110")
    assert not LABEL_KEY_PATTERN.match("a/b")  # '/' is for names and services, not label keys


def test_service_is_a_reserved_label() -> None:
    assert "service" in RESERVED_LABELS


def test_the_last_storable_time_is_the_last_millisecond_whose_nanoseconds_fit_int64() -> None:
    assert MAX_TIME_MS * 1_000_000 <= 2**63 - 1 < (MAX_TIME_MS + 1) * 1_000_000
    assert check_epoch_ms(0) is None and check_epoch_ms(MAX_TIME_MS) is None
    assert check_epoch_ns(MAX_TIME_MS * 1_000_000) is None


@pytest.mark.parametrize("ms", [-1, MAX_TIME_MS + 1, 2**63, -(2**64), 10**4000])
def test_a_time_past_the_store_is_refused_naming_it(ms: int) -> None:
    reason = check_epoch_ms(ms, "start")
    assert reason is not None and reason.startswith("start ") and str(MAX_TIME_MS) in reason
    assert len(reason) < 200  # a 4,000-digit number is described, not printed
    assert check_epoch_ns(ms * 1_000_000) is not None
