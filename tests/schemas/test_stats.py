from __future__ import annotations

import math

import pytest

from schemas.stats import Stat, exact_stats, window_stats


def test_exact_stats_of_observations() -> None:
    stats = exact_stats([10.0, 20.0, 30.0, 40.0, 100.0], counter=False, window_ms=10_000)
    assert stats[Stat.COUNT] == 5 and stats[Stat.SUM] == 200 and stats[Stat.AVG] == 40
    assert (stats[Stat.MIN], stats[Stat.MAX], stats[Stat.P50]) == (10, 100, 30)
    assert stats[Stat.P95] == pytest.approx(88.0)
    assert stats[Stat.RATE] == 0.5, "observations per second"


def test_counter_rate_is_the_sum_per_second() -> None:
    assert exact_stats([3.0, 7.0], counter=True, window_ms=10_000, wanted=[Stat.RATE]) == {Stat.RATE: 1.0}


def test_no_data_has_only_count_sum_rate() -> None:
    assert exact_stats([], counter=False, window_ms=10_000) == {Stat.COUNT: 0, Stat.SUM: 0, Stat.RATE: 0}


def test_window_stats_uses_the_given_quantile_function() -> None:
    asked = []

    def quantile(q: float) -> float:
        asked.append(q)
        return q * 1000

    stats = window_stats(
        count=4,
        total=8,
        minimum=1,
        maximum=3,
        quantile=quantile,
        counter=False,
        window_ms=1000,
        wanted=[Stat.P99, Stat.P999, Stat.AVG],
    )
    assert stats == {Stat.P99: 990.0, Stat.P999: 999.0, Stat.AVG: 2.0}
    assert asked == [0.99, 0.999]
    assert math.isclose(
        window_stats(count=1, total=5, minimum=5, maximum=5, quantile=quantile, counter=True, window_ms=2000)[
            Stat.RATE
        ],
        2.5,
    )
