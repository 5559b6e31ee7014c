"""The bench's Kafka warm-up: records really go through the broker, at the rate it is bounded to;
a round the broker refuses for now is tried again, any other error ends it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, NodeNotReadyError

from bench.kafkawarm import warm_kafka


def test_records_are_produced_and_consumed_at_the_bounded_rate(kafka_bootstrap: str) -> None:
    said = warm_kafka(kafka_bootstrap, seconds=2.0)
    found = re.fullmatch(r"([\d,]+) records of 30 KB produced and ([\d,]+) consumed in 2 s", said)
    assert found, said
    sent, received = (int(group.replace(",", "")) for group in found.groups())
    assert 16 <= sent <= 16e6 * 2 / 30_000 + 16  # at least one round, at most 16 MB/s over 2 s and a round
    assert 0 < received <= sent


def _failing_first(monkeypatch: pytest.MonkeyPatch, error: KafkaError, sends: int) -> None:
    """The producer's first ``sends`` sends come back failed with ``error``, as the broker answers
    them; the ones after go through."""
    real_send = AIOKafkaProducer.send
    calls = 0

    async def send(self: AIOKafkaProducer, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        nonlocal calls
        calls += 1
        if calls > sends:
            return await real_send(self, *args, **kwargs)
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(error)
        return failed

    monkeypatch.setattr(AIOKafkaProducer, "send", send)


def test_a_round_refused_while_the_broker_settles_is_tried_again_and_said(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_first(monkeypatch, NodeNotReadyError("node 1 not ready"), sends=16)
    said = warm_kafka(kafka_bootstrap, seconds=2.0)
    found = re.fullmatch(r"([\d,]+) records .* in 2 s; 1 rounds tried again, the last after: (.*)", said)
    assert found, said
    assert int(found.group(1).replace(",", "")) >= 16  # the rounds after went through
    assert "node 1 not ready" in found.group(2)


def test_an_error_not_worth_retrying_ends_the_warm_up(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_first(monkeypatch, MessageSizeTooLargeError("record of 30 KB refused"), sends=1)
    with pytest.raises(MessageSizeTooLargeError, match="record of 30 KB refused"):
        warm_kafka(kafka_bootstrap, seconds=2.0)
