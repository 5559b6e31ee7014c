"""Durations and timestamps as the API and settings accept them, and the errors for what they refuse."""

from __future__ import annotations

import pytest

from schemas.timeparse import parse_duration_ms, parse_timestamp_ms, parse_timestamp_ns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", 10_000),
        ("500ms", 500),
        ("1m", 60_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("1.5s", 1_500),
        ("3", 3_000),  # a bare number counts as seconds
        (" 10 s ", 10_000),
        (2, 2_000),
        (0.25, 250),
    ],
)
def test_duration_is_read_in_milliseconds(text: str | int | float, expected: int) -> None:
    assert parse_duration_ms(text) == expected


@pytest.mark.parametrize("text", ["0s", "0", 0, "-1s", "abc", "10x", "", "s", "1e3s", "0.0001ms"])
def test_duration_that_is_unreadable_or_not_positive_is_refused_naming_the_value(text: str | int) -> None:
    with pytest.raises(ValueError, match="duration") as caught:
        parse_duration_ms(text)
    assert repr(text) in str(caught.value)


def test_boolean_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="True"):
        parse_duration_ms(True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000_123, 1_700_000_000_123),
        ("1700000000123", 1_700_000_000_123),
        (" 1700000000123 ", 1_700_000_000_123),
        ("-5", -5),
        ("2024-01-01T00:00:00Z", 1_704_067_200_000),
        ("2024-01-01T00:00:00z", 1_704_067_200_000),
        ("2024-01-01T00:00:00.123Z", 1_704_067_200_123),
        ("2024-01-01T02:00:00+02:00", 1_704_067_200_000),
        ("2023-12-31T19:00:00-05:00", 1_704_067_200_000),
        ("2024-01-01T00:00:00", 1_704_067_200_000),  # naive: UTC
    ],
)
def test_timestamp_is_read_as_epoch_milliseconds(value: int | str, expected: int) -> None:
    assert parse_timestamp_ms(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", "1e3", "2024-13-01T00:00:00Z", "12:00", "2024-01-01T25:00:00Z"])
def test_unreadable_timestamp_is_refused_naming_the_value(value: str) -> None:
    with pytest.raises(ValueError, match="cannot read timestamp") as caught:
        parse_timestamp_ms(value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", [True, 1.5, None, [1]])
def test_timestamp_of_another_type_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="cannot read timestamp"):
        parse_timestamp_ms(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_800_000_000_000, 1_800_000_000_000_000_000),
        (1_800_000_000_000.5, 1_800_000_000_000_500_000),
        ("1800000000000.123456", 1_800_000_000_000_123_456),
        ("-1.5", -1_500_000),
        ("2027-01-15T08:00:00Z", 1_800_000_000_000_000_000),
        ("2027-01-15T08:00:00.000000001Z", 1_800_000_000_000_000_001),
        ("2027-01-15T09:00:00.5+01:00", 1_800_000_000_500_000_000),
        ("2027-01-15 08:00:00", 1_800_000_000_000_000_000),  # no offset: UTC
        ("2027-01-15t08:00:00.123456789123z", 1_800_000_000_123_456_789),  # digits past ns are cut
    ],
)
def test_timestamp_in_nanoseconds(value: int | float | str, expected: int) -> None:
    assert parse_timestamp_ns(value) == expected


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), "soon", "2027-13-01T00:00:00Z", "", "1e3"])
def test_unreadable_timestamp_in_nanoseconds_is_refused_naming_it(value: object) -> None:
    with pytest.raises(ValueError, match="cannot read timestamp"):
        parse_timestamp_ns(value)  # type: ignore[arg-type]
