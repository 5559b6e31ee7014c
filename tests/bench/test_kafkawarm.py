"""The bench's Kafka warm-up: records really go through the broker, at the rate it is bounded to."""

from __future__ import annotations

import re

from bench.kafkawarm import warm_kafka


def test_records_are_produced_and_consumed_at_the_bounded_rate(kafka_bootstrap: str) -> None:
    said = warm_kafka(kafka_bootstrap, seconds=2.0)
    found = re.fullmatch(r"([\d,]+) records of 30 KB produced and ([\d,]+) consumed in 2 s", said)
    assert found, said
    sent, received = (int(group.replace(",", "")) for group in found.groups())
    assert 16 <= sent <= 16e6 * 2 / 30_000 + 16  # at least one round, at most 16 MB/s over 2 s and a round
    assert 0 < received <= sent
