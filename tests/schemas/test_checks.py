"""Field checks shared by the HTTP envelope and the wire decoder: None when fine, else a reason."""

from __future__ import annotations

import pytest

from schemas.checks import check_labels, check_metric_name, check_service, check_timestamp
from schemas.limits import Limits

LIMITS = Limits()


def test_valid_fields_pass() -> None:
    assert check_service("gateway", LIMITS) is None
    assert check_metric_name("http.server.duration", LIMITS) is None
    assert check_labels({"route": "/api/x", "status_code": "200"}, LIMITS) is None
    assert check_labels({}, LIMITS) is None


@pytest.mark.parametrize(
    ("service", "fragment"),
    [("", "non-empty"), (None, "non-empty"), (7, "non-empty"), ("a b", "characters"), ("x" * 101, "101 characters")],
)
def test_bad_service_is_named_in_the_reason(service: object, fragment: str) -> None:
    problem = check_service(service, LIMITS)
    assert problem is not None and fragment in problem


def test_service_at_the_length_limit_passes() -> None:
    assert check_service("s" * LIMITS.max_service_length, LIMITS) is None


def test_metric_name_length_limit_is_inclusive() -> None:
    assert check_metric_name("n" * 200, LIMITS) is None
    problem = check_metric_name("n" * 201, LIMITS)
    assert problem is not None and "201 characters" in problem and "200" in problem


@pytest.mark.parametrize("name", ["", None, 3, "1abc", "a b", "a,b"])
def test_bad_metric_name_is_refused(name: object) -> None:
    assert check_metric_name(name, LIMITS) is not None


def test_label_count_limit_is_inclusive() -> None:
    assert check_labels({f"k{i}": "v" for i in range(32)}, LIMITS) is None
    problem = check_labels({f"k{i}": "v" for i in range(33)}, LIMITS)
    assert problem == "33 labels, the limit is 32"


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        ({"1a": "v"}, "label name '1a'"),
        ({"a b": "v"}, "label name 'a b'"),
        ({"service": "x"}, "reserved"),
        ({"k" * 101: "v"}, "longer than 100"),
        ({"k": 1}, "must be a string"),
        ({"k": "v" * 1025}, "longer than 1024"),
        ({1: "v"}, "label name 1"),
        (["k", "v"], "object of strings"),
        ("k=v", "object of strings"),
    ],
)
def test_bad_labels_are_named_in_the_reason(labels: object, fragment: str) -> None:
    problem = check_labels(labels, LIMITS)
    assert problem is not None and fragment in problem


def test_label_value_at_the_length_limit_passes() -> None:
    assert check_labels({"k": "v" * 1024, "n" * 100: ""}, LIMITS) is None


def test_limits_are_taken_from_the_argument() -> None:
    tight = Limits(max_labels=1, max_name_length=3)
    assert check_labels({"a": "1", "b": "2"}, tight) == "2 labels, the limit is 1"
    assert check_metric_name("abcd", tight) is not None


NOW = 1_800_000_000_000


def test_timestamps_within_the_skew_limits_pass_inclusively() -> None:
    for ts in (NOW, NOW - LIMITS.max_past_ms, NOW + LIMITS.max_future_ms):
        assert check_timestamp(ts, NOW, LIMITS) is None


def test_timestamp_too_old_gives_its_age_in_hours() -> None:
    problem = check_timestamp(NOW - 25 * 3_600_000, NOW, LIMITS)
    assert problem == f"timestamp {NOW - 25 * 3_600_000} is 25.0 h in the past; the limit is 24 h"


def test_timestamp_too_far_ahead_gives_its_distance_in_minutes() -> None:
    problem = check_timestamp(NOW + 11 * 60_000, NOW, LIMITS)
    assert problem == f"timestamp {NOW + 11 * 60_000} is 11.0 min in the future; the limit is 10 min"
    assert check_timestamp(NOW + LIMITS.max_future_ms + 1, NOW, LIMITS) is not None
