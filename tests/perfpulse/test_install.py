"""What people install: the wheel holds every package, the image installs every one with the server
parts, and the base install is the emitter SDK alone, which sends to a real Kafka in a fresh venv."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from schemas import Topics
from tests.ingest.helpers import read_batches

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("schemas", "ingest", "stream", "storage", "alerting", "api", "perfpulse", "infra")
DEVELOPMENT_ONLY = ("tests", "bench", "tools")  # packages of the repository that no install needs
SERVER_MODULES = ("chdb", "faust", "fastapi", "clickhouse_connect", "uvicorn", "typer", "redis")

# Runs in the fresh venv: argv = bootstrap, topic prefix, server modules (comma-separated).
SDK_CHECK = """
import importlib.util, sys
import ingest
from ingest import Emitter
present = [m for m in sys.argv[3].split(",") if importlib.util.find_spec(m) is not None]
if present:
    raise SystemExit(f"server modules importable in the SDK-only install: {present}")
with Emitter("sdk-only", sys.argv[1], topic_prefix=sys.argv[2]) as emitter:
    emitter.observe("checkout.latency_ms", 12.5, route="/pay")
    if not emitter.flush(30):
        raise SystemExit("the point was not sent within 30 s")
print(ingest.__file__)
"""


def _packages_in_tree() -> set[str]:
    return {path.name for path in REPO.iterdir() if (path / "__init__.py").is_file()}


def _files_of(package: str) -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _run(argv: list[str | Path], timeout_s: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout_s, cwd=cwd)
    assert result.returncode == 0, f"{argv[:3]} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """perfpulse's wheel, built once from a copy of the sources (an in-tree build would reuse build/,
    whose leftovers end up in the wheel)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for package in _packages_in_tree():
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source], 300, cwd=source)
    [built] = out.glob("perfpulse-*.whl")
    return built


def test_every_package_of_the_repository_is_shipped_or_development_only() -> None:
    assert _packages_in_tree() - set(DEVELOPMENT_ONLY) == set(SHIPPED)


def test_the_wheel_holds_every_package_with_its_sub_packages_and_data_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    shipped = {name for name in names if ".dist-info/" not in name}
    assert {name.split("/")[0] for name in shipped} == set(SHIPPED)
    expected = set().union(*(_files_of(package) for package in SHIPPED))
    assert sorted(expected - shipped) == []
    assert {"storage/migrations", "infra/files", "alerting/notify", "ingest/sdk", "ingest/receivers"} <= {
        name.rsplit("/", 1)[0] for name in shipped
    }
    assert "perfpulse = perfpulse.cli:main" in entry_points


def test_the_image_copies_every_shipped_package_and_installs_the_server_parts() -> None:
    """No Docker engine here: the Dockerfile's COPY sources must cover what the wheel is built from."""
    lines = (REPO / "Dockerfile").read_text().splitlines()
    copied = {source.rstrip("/") for line in lines if line.startswith("COPY ") for source in line.split()[1:-1]}
    assert "." in copied or {*SHIPPED, "pyproject.toml", "README.md"} <= copied, sorted(copied)
    installs = [line for line in lines if line.startswith("RUN ") and "pip install" in line]
    assert installs and all("'.[server]'" in line for line in installs), installs


@pytest.mark.integration
def test_the_sdk_alone_installs_without_the_server_and_sends_to_kafka(
    wheel: Path, tmp_path: Path, kafka_bootstrap: str, topics: Topics
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], 120, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], 300, cwd=tmp_path)

    sent = _run([python, "-c", SDK_CHECK, kafka_bootstrap, topics.prefix, ",".join(SERVER_MODULES)], 120, tmp_path)
    assert sent.stdout.strip().startswith(str(venv))  # the installed SDK, not this checkout's
    [(key, batch)] = asyncio.run(read_batches(kafka_bootstrap, topics.metrics))
    assert key == b"sdk-only" and batch.service == "sdk-only"
    [series] = batch.series
    assert (series.name, series.labels, list(series.values)) == ("checkout.latency_ms", {"route": "/pay"}, [12.5])

    cli = subprocess.run([venv / "bin" / "perfpulse", "up"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert cli.returncode == 1
    assert "module 'typer' is missing" in cli.stderr and "install perfpulse[server]" in cli.stderr
    assert "Traceback" not in cli.stderr
