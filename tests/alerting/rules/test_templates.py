from __future__ import annotations

import pytest

from alerting.rules.templates import TemplateError, compile_template, humanize


def render(source: str, value: float = 0.0531, labels: dict[str, str] | None = None) -> str:
    return compile_template(source).render(
        value=value, threshold=0.05, labels=labels or {"service": "gateway", "route": "/a"}
    )


def test_variables_and_functions() -> None:
    assert render("{{ $labels.service }}: {{$value}} > {{ $threshold }}") == "gateway: 0.0531 > 0.05"
    assert render("{{ $value | humanizePercentage }}") == "5.31%"
    assert render('{{ $value | printf "%.1f" }}', value=250.46) == "250.5"
    assert render("{{ $value | humanize }}", value=1_234_567) == "1.23M"
    assert render("{{ $labels }}") == "route=/a, service=gateway"
    assert render("{{ $labels.missing }}!") == "!"
    assert render("no actions") == "no actions"


def test_humanize() -> None:
    assert [humanize(v) for v in (0, 0.0042, 12.5, 1500, 2.5e9)] == ["0", "4.2m", "12.5", "1.5k", "2.5G"]


@pytest.mark.parametrize(
    ("source", "offset", "reason"),
    [
        ("x {{ $val }}", 2, "unknown template variable '$val'"),
        ("{{ $value.x }}", 0, "$value has no fields"),
        ("{{ $value | round }}", 0, "unknown template function 'round'"),
        ("{{ $labels | humanize }}", 0, "cannot apply 'humanize' to labels"),
        ('{{ $value | printf "%s" }}', 0, "unknown template function"),
        ("ok {{ $value }} {{ oops", 16, "unclosed '{{'"),
    ],
)
def test_errors_have_offsets(source: str, offset: int, reason: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(source)
    assert info.value.offset == offset and reason in info.value.reason
