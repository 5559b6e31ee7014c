"""``perfpulse up``: every stage under one command, in the foreground.

Processes, not threads: on a 2-core machine the stream worker and the API+sink each want a core,
and Python's GIL would serialize them in one process. The API process owns the embedded store and
runs the sink beside the query API (chDB has one owner per path). Children that exit are restarted;
Ctrl-C stops them all. The local Kafka and Redis it started outlive it (`perfpulse infra down` stops them).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from perfpulse.processes import ProcessGroup, wait_http_ok
from perfpulse.settings import Settings, mask_url

__all__ = ["run_all", "settings_env"]

RESTART_DELAY_S = 2.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process the same settings (flags included)."""
    env = dict(os.environ)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if name == "data_dir":
            value = Path(value).resolve()
        if isinstance(value, SecretStr):  # its str() is masked; the child needs the secret itself
            value = value.get_secret_value()
        env[f"PERFPULSE_{name.upper()}"] = str(value)
    return env


def _prepare(settings: Settings, console: Console) -> str | None:
    """Start what is local, create topics, migrate; return a new admin key when no key was ever made
    (a fresh data dir): the demo's API is then closed from the start."""
    import asyncio

    from infra import InfraError
    from perfpulse.localinfra import start_local
    from perfpulse.stages import migration_params
    from perfpulse.topics import TopicSetupError, ensure_settings_topics
    from storage import StoreError, apply_migrations, open_store
    from storage.keys import Scope, create_key, key_table

    try:
        for name, state, where in start_local(settings, console):
            console.print(f"[green]✓[/green] {name}: {state} ({where})")
        asyncio.run(ensure_settings_topics(settings))
        console.print(f"[green]✓[/green] kafka topics: {settings.topic_prefix}* ({settings.partitions} partitions)")
        store = open_store(settings.store_url, pool_size=1)
        applied = apply_migrations(store, migration_params(settings))
        admin_key = None if key_table(store).made else create_key(store, Scope.ADMIN, "created by perfpulse up").key
        store.close()
        console.print(f"[green]✓[/green] storage: {mask_url(settings.store_url)} ({len(applied)} migrations applied)")
    except (InfraError, TopicSetupError, StoreError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from None
    return admin_key


def run_all(settings: Settings, *, demo: bool, workers: int, console: Console) -> int:
    """Run until Ctrl-C or SIGTERM; return the exit code."""
    from perfpulse.keyaccess import local_api_url, local_verify

    admin_key = _prepare(settings, console)
    metrics_dir = settings.data_dir.resolve() / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = settings_env(settings)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    env["PERFPULSE_HEALTH_PORT"] = "0"  # workers would share one port; the API serves /readyz
    group = ProcessGroup(env)
    group.start("api", "api")
    for i in range(workers):
        group.start(f"worker-{i + 1}", "worker")
    if demo:
        group.start("demo", "demo")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    health = f"{local_api_url(settings)}/healthz"
    if wait_http_ok(health, 60, alive=lambda: "api" not in group.exited(), verify=local_verify(settings)):
        example = f"{settings.api_url}/api/v1/query?metric=http.server.duration&stats=p50,p95,p99,count&step=10s"
        if admin_key:
            key_lines = f"  admin key (shown this once; perfpulse keeps only its hash): {admin_key}\n"
        else:
            key_lines = "  API keys: use one of yours, or make one with `perfpulse keys create --scope read`\n"
        bearer = admin_key or "<key>"
        console.print(
            f"\n[bold green]perfpulse is up[/bold green]: API {settings.api_url}  docs {settings.api_url}/docs\n"
            f"{key_lines}"
            f"  try: curl -H 'Authorization: Bearer {bearer}' '{example}'\n"
            f"  window {settings.window}, grace {settings.grace}\n"
            "  Ctrl-C stops perfpulse's processes; a local Kafka and Redis keep running\n"
            "  (`perfpulse infra down` stops them)\n"
        )
    else:
        console.print("[red]error:[/red] the API did not come up; see the log lines above")
        stopping = True
    restart_at: dict[str, float] = {}
    while not stopping:
        time.sleep(0.5)
        for name, code in group.exited().items():
            if name not in restart_at:
                console.print(f"[yellow]{name} exited with {code}; restarting in {RESTART_DELAY_S:.0f} s[/yellow]")
                restart_at[name] = time.monotonic() + RESTART_DELAY_S
            elif time.monotonic() >= restart_at[name]:
                del restart_at[name]
                group.start(name)
    console.print("stopping perfpulse ...")
    group.stop_all()
    console.print("perfpulse stopped (Kafka and Redis keep running: `perfpulse infra down` stops them)")
    return 0
