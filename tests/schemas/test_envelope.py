"""The HTTP metrics envelope: a valid body becomes columnar batches; a bad one is rejected whole, with
every offending field named (``loc``) and explained (``msg``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from schemas import EnvelopeError, Limits, MetricBatch, MetricKind, parse_metrics_envelope

NOW = 1_800_000_000_000
LIMITS = Limits()


def point(**overrides: Any) -> dict[str, Any]:
    return {"name": "http.server.duration", "value": 12.5, "ts": NOW, **overrides}


def body(*points: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {"service": "gateway", **envelope, "points": list(points)}


def rejected(raw: Any, limits: Limits = LIMITS) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        parse_metrics_envelope(raw, NOW, limits)
    return caught.value


def locs(error: EnvelopeError) -> list[str]:
    return [d.loc for d in error.details]


def only_series(batches: list[MetricBatch]) -> tuple[str, MetricKind, dict[str, str], list[int], list[float]]:
    [batch] = batches
    [series] = batch.series
    return series.name, series.kind, series.labels, series.ts.tolist(), series.values.tolist()


def test_valid_points_become_one_series_per_name_kind_and_labels() -> None:
    batches = parse_metrics_envelope(
        body(point(value=1.0), point(value=2), point(name="queue.depth", kind="gauge", value=7.0), point(value=3.0)),
        NOW,
        LIMITS,
    )
    [batch] = batches
    assert batch.service == "gateway" and batch.n_points == 4
    by_name = {s.name: s for s in batch.series}
    assert by_name["http.server.duration"].values.tolist() == [1.0, 2.0, 3.0]
    assert by_name["http.server.duration"].kind is MetricKind.DISTRIBUTION  # the default kind
    assert by_name["queue.depth"].kind is MetricKind.GAUGE
    assert by_name["http.server.duration"].ts.dtype == np.int64
    assert by_name["http.server.duration"].values.dtype == np.float64


def test_point_labels_extend_and_override_envelope_labels() -> None:
    batches = parse_metrics_envelope(
        body(point(labels={"route": "/b", "status_code": "500"}), labels={"route": "/a", "region": "eu"}),
        NOW,
        LIMITS,
    )
    assert only_series(batches)[2] == {"route": "/b", "region": "eu", "status_code": "500"}


def test_same_name_with_different_labels_gives_separate_series() -> None:
    batches = parse_metrics_envelope(
        body(point(labels={"route": "/a"}), point(labels={"route": "/b"}), point(labels={"route": "/a"})), NOW, LIMITS
    )
    counts = {s.labels["route"]: len(s.values) for s in batches[0].series}
    assert counts == {"/a": 2, "/b": 1}


def test_timestamp_defaults_to_now_and_accepts_rfc3339() -> None:
    no_ts = {"name": "x", "value": 1.0}
    batches = parse_metrics_envelope(body(no_ts, point(name="x", ts="2027-01-15T07:59:00.250Z")), NOW, LIMITS)
    assert only_series(batches)[3] == [NOW, NOW - 59_750]


def test_timestamps_at_the_skew_limits_are_accepted() -> None:
    oldest, newest = NOW - LIMITS.max_past_ms, NOW + LIMITS.max_future_ms
    batches = parse_metrics_envelope(body(point(ts=oldest), point(ts=newest)), NOW, LIMITS)
    assert only_series(batches)[3] == [oldest, newest]


def test_timestamp_more_than_24_hours_old_is_rejected_with_its_age() -> None:
    error = rejected(body(point(), point(ts=NOW - LIMITS.max_past_ms - 1)))
    assert locs(error) == ["points[1].ts"]
    assert "in the past" in error.details[0].msg and "24 h" in error.details[0].msg


def test_timestamp_more_than_10_minutes_ahead_is_rejected() -> None:
    error = rejected(body(point(ts=NOW + LIMITS.max_future_ms + 1)))
    assert locs(error) == ["points[0].ts"]
    assert "in the future" in error.details[0].msg and "10 min" in error.details[0].msg


def test_skew_limits_come_from_the_limits_argument() -> None:
    tight = Limits(max_past_ms=1_000, max_future_ms=1_000)
    error = rejected(body(point(ts=NOW - 2_000), point(ts=NOW + 2_000)), tight)
    assert locs(error) == ["points[0].ts", "points[1].ts"]


def test_unreadable_timestamp_string_is_rejected() -> None:
    error = rejected(body(point(ts="last tuesday")))
    assert locs(error) == ["points[0].ts"] and "last tuesday" in error.details[0].msg


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_value_is_rejected(value: float) -> None:
    error = rejected(body(point(), point(value=value)))
    assert locs(error) == ["points[1].value"] and "finite" in error.details[0].msg


def test_missing_name_is_rejected() -> None:
    raw = body(point())
    del raw["points"][0]["name"]
    error = rejected(raw)
    assert locs(error) == ["points[0].name"] and "required" in error.details[0].msg.lower()


@pytest.mark.parametrize(
    ("field", "value"),
    [("value", "12.5"), ("value", True), ("value", None), ("ts", 1.5), ("name", 5), ("kind", "histogram")],
)
def test_wrongly_typed_field_is_rejected_at_its_location(field: str, value: object) -> None:
    error = rejected(body(point(**{field: value})))
    assert error.details and all(loc.startswith(f"points[0].{field}") for loc in locs(error))


def test_unknown_field_is_rejected() -> None:
    error = rejected(body(point(unit="ms")))
    assert locs(error) == ["points[0].unit"]


def test_label_value_must_be_a_string() -> None:
    error = rejected(body(point(labels={"status_code": 500})))
    assert locs(error) == ["points[0].labels.status_code"]


def test_too_many_labels_counts_envelope_and_point_labels_together() -> None:
    envelope_labels = {f"e{i}": "v" for i in range(20)}
    point_labels = {f"p{i}": "v" for i in range(13)}
    error = rejected(body(point(labels=point_labels), labels=envelope_labels))
    assert locs(error) == ["points[0].labels"] and "33 labels, the limit is 32" in error.details[0].msg


def test_name_too_long_is_rejected() -> None:
    error = rejected(body(point(name="n" * 201)))
    assert locs(error) == ["points[0].name"] and "201 characters" in error.details[0].msg


def test_service_label_is_reserved() -> None:
    error = rejected(body(point(labels={"service": "other"})))
    assert locs(error) == ["points[0].labels"] and "reserved" in error.details[0].msg


def test_bad_service_is_rejected() -> None:
    error = rejected(body(point(), service="has space"))
    assert locs(error) == ["service"]


def test_every_bad_field_is_reported_not_just_the_first() -> None:
    error = rejected(body(point(name="9x"), point(value=float("nan")), point(ts=NOW + 10**9), service="a b"))
    assert locs(error) == ["service", "points[0].name", "points[1].value", "points[2].ts"]


def test_reasons_are_capped_at_one_hundred() -> None:
    error = rejected(body(*[point(value=float("inf"))] * 500))
    assert len(error.details) == 100


def test_empty_batch_is_rejected() -> None:
    error = rejected(body())
    assert str(error) == "empty batch" and locs(error) == ["points"]


def test_oversized_batch_is_rejected_before_validation() -> None:
    error = rejected(body(*[point()] * 11), Limits(max_points_per_batch=10))
    assert str(error) == "oversized batch"
    assert error.details[0].msg == "11 points, the limit is 10 per request"


def test_batch_at_the_default_point_limit_is_accepted() -> None:
    batches = parse_metrics_envelope(body(*[point()] * LIMITS.max_points_per_batch), NOW, LIMITS)
    assert sum(b.n_points for b in batches) == LIMITS.max_points_per_batch
    error = rejected(body(*[point()] * (LIMITS.max_points_per_batch + 1)))
    assert str(error) == "oversized batch"


@pytest.mark.parametrize("raw", [[], "points", None, 3, {"service": "gateway"}, {"points": [point()]}])
def test_body_that_is_not_an_envelope_is_rejected(raw: Any) -> None:
    error = rejected(raw)
    assert error.details


def test_records_hold_at_most_max_points_per_record_by_default_2000() -> None:
    assert LIMITS.max_points_per_record == 2_000


def test_one_series_is_split_into_records_of_at_most_max_points_per_record() -> None:
    batches = parse_metrics_envelope(body(*[point(value=float(i)) for i in range(5_000)]), NOW, LIMITS)
    assert [b.n_points for b in batches] == [2_000, 2_000, 1_000]
    values = np.concatenate([s.values for b in batches for s in b.series])
    assert values.tolist() == [float(i) for i in range(5_000)]  # order kept, nothing lost


def test_several_series_never_exceed_max_points_per_record() -> None:
    points = [point(name="a")] * 1_500 + [point(name="b")] * 1_500
    batches = parse_metrics_envelope(body(*points), NOW, LIMITS)
    assert sum(b.n_points for b in batches) == 3_000
    assert max(b.n_points for b in batches) <= LIMITS.max_points_per_record


def test_integer_value_beyond_float_range_is_a_field_error() -> None:
    error = rejected(body(point(value=10**400)))
    assert locs(error) == ["points[0].value"]
