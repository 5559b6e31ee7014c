"""The bench's wait for the workers' consumer group (``bench/__main__.py``): against a real group on
the session's broker, with the broker's answers that a just-started broker gives put in front."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from bench.__main__ import wait_group_stable
from perfpulse.settings import Settings
from schemas import Topics


def _coordinator_missing_first(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The admin client's first ``times`` group descriptions fail as before a coordinator is elected."""
    real = AIOKafkaAdminClient.describe_consumer_groups
    calls = 0

    async def describe(self: AIOKafkaAdminClient, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise GroupCoordinatorNotAvailableError("no coordinator for the group yet")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaAdminClient, "describe_consumer_groups", describe)


async def _with_member(settings: Settings, topics: Topics, members: int, timeout_s: float) -> None:
    """One consumer in the group the bench waits for, while it waits."""
    consumer = AIOKafkaConsumer(
        topics.metrics, bootstrap_servers=settings.kafka_bootstrap, group_id=f"{settings.consumer_group}-stream"
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=100)  # joins the group
        await wait_group_stable(settings, members, timeout_s=timeout_s)
    finally:
        await consumer.stop()


def test_a_group_is_found_stable_after_its_coordinator_was_missing(
    settings: Settings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"consumer_group": f"wait-{uuid.uuid4().hex[:8]}"})
    _coordinator_missing_first(monkeypatch, times=2)
    asyncio.run(_with_member(settings, topics, members=1, timeout_s=60))


def test_a_group_never_stable_is_told_with_the_last_error(
    settings: Settings, topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"consumer_group": f"wait-{uuid.uuid4().hex[:8]}"})
    _coordinator_missing_first(monkeypatch, times=1_000)
    with pytest.raises(
        RuntimeError, match=r"not stable with 1 members in 3 s \(last: .*no coordinator for the group yet"
    ):
        asyncio.run(_with_member(settings, topics, members=1, timeout_s=3))
