"""``GET /api/v1/resources`` over the real app: the API process reports itself to the process board
(the shared Redis) and the answer lists it with its figures; other processes' reports appear beside
it; with Redis unreachable the answer says so and shows this process alone, never Redis's address."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fastapi.testclient import TestClient

from api.procboard import ProcessBoard
from api.resources import Resources
from api.selfstats import SelfSampler
from perfpulse.settings import Settings
from tests.api.apps import app_settings, running_app


def resources(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/resources")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = Resources.model_validate(response.json()).model_dump()
    assert body == response.json()
    return body


def wait_for_processes(client: TestClient, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body = resources(client)
        if len(body["processes"]) >= count or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_the_api_process_and_another_process_are_listed_with_their_figures(
    client: TestClient, module_settings: Settings
) -> None:
    body = wait_for_processes(client, 1)
    assert body["board"] == "ok"
    [api] = [p for p in body["processes"] if p["pid"] == os.getpid()]
    assert api["role"] == "api+sink+notifier"  # the sink and notifier run in the API's process here
    assert api["rss_bytes"] > 10 * 1024 * 1024 and api["cpu_percent"] is not None
    assert api["http_connections"] is not None and api["live_connections"] == 0

    # a stream worker elsewhere reports to the same board; the API lists it within one read
    async def report_a_worker() -> None:
        async with ProcessBoard(module_settings.redis_url, module_settings.topic_prefix) as board:
            worker = SelfSampler("stream").sample()
            await board.put(worker.__class__(**{**worker.__dict__, "host": "worker-host", "pid": 7}))

    asyncio.run(report_a_worker())
    roles = {(p["role"], p["host"], p["pid"]) for p in resources(client)["processes"]}
    assert ("stream", "worker-host", 7) in roles


def test_with_redis_unreachable_only_this_process_is_shown_and_redis_is_not_named(module_settings: Settings) -> None:
    secret_url = "redis://:hunter2@127.0.0.1:1/0"
    # the module's store (one chDB path per process), without the sink and notifier the module's app runs
    cut = app_settings(module_settings.kafka_bootstrap, secret_url, module_settings.data_dir, module_settings.topics)
    with running_app(cut, with_sink=False, with_notifier=False) as client:
        deadline = time.monotonic() + 30
        body = resources(client)
        while not body["processes"] and time.monotonic() < deadline:  # the first sample is being taken
            time.sleep(0.2)
            body = resources(client)
        text = client.get("/api/v1/resources").text
    assert body["board"] == "unreachable"
    assert [(p["role"], p["pid"]) for p in body["processes"]] == [("api", os.getpid())]
    assert "hunter2" not in text and ":1/" not in text
