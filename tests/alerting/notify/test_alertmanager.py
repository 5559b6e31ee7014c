"""Push to a real Prometheus Alertmanager (Debian's prometheus-alertmanager, started here).

Installed by ``infra/install-alertmanager.sh``. Skipped only when the binary is absent and
``PERFPULSE_REQUIRE_ALERTMANAGER`` is unset; CI sets the variable, so a missing binary fails there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerting.notify.delivery import wall_clock_ms
from alerting.notify.httpclient import HttpClient
from alerting.notify.notifier import Notifier
from alerting.notify.sender import AttemptLog, ChannelSender
from tests.alerting.conftest import FakeClock, Sleeps
from tests.alerting.notify.helpers import channels, fire, make_alert, resolve
from tests.alerting.receivers import free_port

BINARY = "prometheus-alertmanager"
CONFIG = """\
route:
  receiver: blackhole
  group_by: [alertname, service]
  group_wait: 1s
receivers:
  - name: blackhole
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A running Alertmanager on a free port; its base URL."""
    binary = shutil.which(BINARY)
    if binary is None:
        if os.environ.get("PERFPULSE_REQUIRE_ALERTMANAGER"):
            pytest.fail(
                f"{BINARY} is required (PERFPULSE_REQUIRE_ALERTMANAGER is set): run infra/install-alertmanager.sh"
            )
        pytest.skip(f"{BINARY} is not installed (infra/install-alertmanager.sh installs it)")
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    (tmp_path / "data").mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cannot start {BINARY}: {(tmp_path / 'alertmanager.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def listed(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v2/alerts", timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


async def test_alertmanager_lists_our_alert_then_sees_it_resolved(alertmanager: str, sleeps: Sleeps) -> None:
    clock = FakeClock(wall_clock_ms())  # Alertmanager judges startsAt/endsAt by its own clock
    chans = channels(f'am: {{type: alertmanager, url: "{alertmanager}"}}\n')
    firing = make_alert(rule="high_error_rate", severity="critical", value=0.12, channels=("am",), fired_at_ms=clock())
    async with HttpClient() as client:
        notifier = Notifier(
            chans, sender=ChannelSender(client, recorder=AttemptLog(), clock=clock, sleep=sleeps), clock=clock
        )
        notifier.receive([fire(firing)])
        (sent,) = await notifier.flush()
        assert sent.delivered
        (alert,) = listed(alertmanager)
        assert alert["labels"] == {"alertname": "high_error_rate", "severity": "critical", "service": "gateway"}
        assert alert["annotations"] == {"summary": "high_error_rate on gateway: 0.12"}
        assert alert["status"]["state"] == "active" and alert["fingerprint"]
        assert alert["endsAt"] > alert["startsAt"], "firing alerts stay valid for 4 resends"

        ended = wall_clock_ms()
        clock.advance(10_000)  # the group's next look (group_interval), without waiting for it
        notifier.receive([resolve(firing, ended)])
        (resolved,) = await notifier.flush()
        assert resolved.delivered and resolved.notification.status == "resolved"
    assert listed(alertmanager) == [], "a resolved alert leaves Alertmanager's active list"
