"""bench/vm.py: the MetricsQL of the compared queries and the JSON-lines import bodies."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from bench.vm import METRIC, import_bodies, pooled_query, quantile_query, selector, total_query


def test_selector_quotes_label_values() -> None:
    assert selector("gateway", "/api/quotes") == f'{METRIC}{{service="gateway",route="/api/quotes"}}'
    assert selector('a"b\\c') == f'{METRIC}{{service="a\\"b\\\\c"}}'


def test_queries() -> None:
    assert quantile_query(0.99, "gateway", "/r", 3_000_000) == (
        f'quantile_over_time(0.99, {METRIC}{{service="gateway",route="/r"}}[3000000ms])'
    )
    assert pooled_query(0.95, "gateway", 3_000_000) == (
        f'histogram_quantile(0.95, sum(histogram_over_time({METRIC}{{service="gateway"}}[3000000ms])) by (vmrange))'
    )
    assert total_query(60_000) == f"sum(count_over_time({METRIC}[60000ms]))"


def test_import_bodies_carry_every_sample_once_under_its_series() -> None:
    ts = np.arange(1_000, 1_010, dtype=np.int64)
    values = np.arange(10, dtype=np.float64) + 0.5
    series = np.array([0, 1] * 5, dtype=np.int16)
    labels = [{"service": "a", "route": "/x"}, {"service": "b", "route": "/y"}]
    bodies = import_bodies(ts, values, labels, series, per_body=4)
    assert len(bodies) == 3
    seen: list[tuple[str, int, float]] = []
    for body in bodies:
        assert body.endswith(b"\n")
        for line in body.splitlines():
            row = orjson.loads(line)
            assert row["metric"]["__name__"] == METRIC
            seen.extend((row["metric"]["service"], t, v) for t, v in zip(row["timestamps"], row["values"], strict=True))
    expected = [("a" if i % 2 == 0 else "b", 1_000 + i, i + 0.5) for i in range(10)]
    assert sorted(seen) == sorted(expected)


def test_import_bodies_refuse_empty_bodies() -> None:
    one = np.zeros(1)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        import_bodies(one.astype(np.int64), one, [{}], one.astype(np.int16), per_body=0)
