"""The TypeScript SDK's own tests (sdk/js/test, node's test runner) against a real perfpulse they
start themselves on the session's Kafka: installed with ``npm ci`` (again only when package.json or
package-lock.json change), built, then run by ``node test/run.mjs``. Missing node or npm fails the
test with that reason; nothing is skipped."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SDK = Path(__file__).resolve().parents[2] / "sdk" / "js"
_TIMEOUT_S = 900


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"cannot run the TypeScript SDK tests: {name} is not installed (Node 20.19 or later is needed)")
    return path


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, cwd=SDK, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    output = f"{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}\n{output}"


def _install(npm: str) -> None:
    """``npm ci`` once per version of the package and lock files (a stamp in node_modules says which)."""
    digest = hashlib.sha256((SDK / "package.json").read_bytes() + (SDK / "package-lock.json").read_bytes())
    stamp = SDK / "node_modules" / f".installed-{digest.hexdigest()[:16]}"
    if not stamp.exists():
        _run([npm, "ci", "--no-audit", "--no-fund"])
        stamp.touch()
    _run([npm, "run", "build"])


def test_js_sdk(kafka_bootstrap: str, redis_url: str) -> None:
    node, npm = _tool("node"), _tool("npm")
    _install(npm)
    env = dict(os.environ)
    env.update(
        PERFPULSE_TEST_KAFKA=kafka_bootstrap,
        PERFPULSE_TEST_REDIS=redis_url,
        PERFPULSE_BIN=str(Path(sys.executable).parent / "perfpulse"),
    )
    _run([node, "test/run.mjs"], env)
