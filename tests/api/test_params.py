"""Query parameters: time ranges, durations and lists; errors name the parameter and the value."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from api.errors import ApiError
from api.params import MAX_RANGE_MS, Utf8, csv_param, duration_param, now_ms, time_range
from schemas.limits import MAX_TIME_MS


def test_time_range_reads_epoch_ms_and_rfc3339() -> None:
    assert time_range("1704000000000", "2024-01-01T00:00:00Z", 60_000) == (1_704_000_000_000, 1_704_067_200_000)


def test_time_range_is_bounded_in_length_and_in_the_store() -> None:
    assert time_range("0", str(MAX_RANGE_MS), 60_000) == (0, MAX_RANGE_MS)
    with pytest.raises(ApiError, match="'start'") as caught:
        time_range("0", str(MAX_RANGE_MS + 1), 60_000)
    assert caught.value.details[0]["msg"].endswith("the limit is 400 days (range bound)")
    with pytest.raises(ApiError, match="'end'") as caught:
        time_range(None, str(MAX_TIME_MS + 1), 60_000)
    assert "outside what the store holds" in caught.value.details[0]["msg"]


def test_utf8_text_refuses_a_lone_surrogate_naming_where() -> None:
    class Body(BaseModel):
        text: Utf8

    assert Body(text="héllo ✓").text == "héllo ✓"
    with pytest.raises(ValidationError, match=r"character 2 is a lone surrogate \(U\+D800\)"):
        Body(text="ab\ud800")


def test_time_range_defaults_to_a_span_ending_now() -> None:
    before = now_ms()
    start, end = time_range(None, None, 60_000)
    assert before <= end <= now_ms() and end - start == 60_000


def test_start_defaults_to_end_minus_the_span() -> None:
    assert time_range(None, "5000", 1_000) == (4_000, 5_000)


@pytest.mark.parametrize(("start", "end"), [("5000", "5000"), ("6000", "5000")])
def test_start_must_be_before_end(start: str, end: str) -> None:
    with pytest.raises(ApiError) as caught:
        time_range(start, end, 1_000)
    assert caught.value.status == 400
    assert caught.value.details == [{"loc": "query.start", "msg": f"start {start} must be before end {end}"}]


@pytest.mark.parametrize("name", ["start", "end"])
def test_unreadable_time_names_its_parameter(name: str) -> None:
    values = {"start": "1000", "end": "2000", name: "noon"}
    with pytest.raises(ApiError) as caught:
        time_range(values["start"], values["end"], 1_000)
    assert caught.value.error == f"invalid query parameter {name!r}"
    assert "'noon'" in caught.value.details[0]["msg"]


def test_duration_param_reads_units_and_names_itself_on_error() -> None:
    assert duration_param("step", "10s") == 10_000
    with pytest.raises(ApiError) as caught:
        duration_param("step", "-1s")
    assert caught.value.details[0]["loc"] == "query.step"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a,b , c", ["a", "b", "c"]), ("", []), (None, []), (" , ,", []), ("p99", ["p99"])],
)
def test_csv_param_splits_and_trims(value: str | None, expected: list[str]) -> None:
    assert csv_param(value) == expected


@pytest.mark.timeout(120)  # a hang guard: a quadratic pattern would need about an hour here
def test_a_duration_padded_with_a_million_spaces_is_refused_at_once() -> None:
    with pytest.raises(ApiError) as caught:
        duration_param("step", "1" + " " * 1_000_000 + "x")
    assert caught.value.details[0]["loc"] == "query.step"
