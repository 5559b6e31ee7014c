"""The ``perfpulse`` command: run the whole system or any one stage, manage local services.

Imports of the stages happen inside the commands: ``perfpulse up`` sets the Prometheus
multiprocess directory for its children before anything creates a metric.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

# `pip install perfpulse` installs the emitter SDK's dependencies only; the CLI, the stages and the API
# need the `server` extra. A module missing from outside these packages (perfpulse's own) is one of those.
_OWN_PACKAGES = frozenset({"schemas", "ingest", "stream", "storage", "alerting", "api", "perfpulse", "infra"})


def _server_missing(module: str | None) -> SystemExit:
    return SystemExit(
        f"cannot run perfpulse: module {module!r} is missing. This install has the emitter SDK only; "
        "the command needs perfpulse's server parts: install perfpulse[server] (pip install 'perfpulse[server]')"
    )


try:
    import typer
    from rich.console import Console
    from rich.table import Table

    from perfpulse.gctuning import tune_gc
    from perfpulse.settings import Settings
except ModuleNotFoundError as missing:
    raise _server_missing(missing.name) from None

if TYPE_CHECKING:
    import ssl

    from perfpulse.keyaccess import KeyAccess

__all__ = ["app", "main"]

app = typer.Typer(
    name="perfpulse",
    help="Streaming performance monitoring: metrics in, trustworthy percentiles out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
infra_app = typer.Typer(help="Local Kafka and Redis (real services, no Docker).", no_args_is_help=True)
app.add_typer(infra_app, name="infra")
rules_app = typer.Typer(help="Alert rules: check a rules file, run rule unit tests.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
keys_app = typer.Typer(help="API keys: create, list, revoke (whether perfpulse runs or not).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True, soft_wrap=True)
API_SHUTDOWN_S = 5  # longest the API waits for open connections when told to stop

Bootstrap = Annotated[str | None, typer.Option("--kafka-bootstrap", help="Kafka host:port [PERFPULSE_KAFKA_BOOTSTRAP]")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="local state directory [PERFPULSE_DATA_DIR]")]
Window = Annotated[str | None, typer.Option("--window", help="window length, e.g. 1s, 10s [PERFPULSE_WINDOW]")]
Grace = Annotated[str | None, typer.Option("--grace", help="grace after a window's end [PERFPULSE_GRACE]")]
Port = Annotated[int | None, typer.Option("--port", help="API port [PERFPULSE_API_PORT]")]
StoreUrl = Annotated[
    str | None,
    typer.Option("--clickhouse-url", help="chdb://path or http(s)://... [PERFPULSE_CLICKHOUSE_URL]"),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the command's flags on top."""
    renamed = {"port": "api_port", "bootstrap": "kafka_bootstrap"}
    values = {renamed.get(k, k): v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _logging(settings: Settings) -> None:
    from perfpulse.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@app.command()
def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="send synthetic traffic of three services")] = True,
    port: Port = None,
    bootstrap: Bootstrap = None,
    data_dir: DataDir = None,
    window: Window = None,
    grace: Grace = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="stream worker processes")] = 1,
) -> None:
    """Run everything in the foreground: local Kafka/Redis if needed, worker, sink, API (and demo)."""
    from perfpulse.runner import run_all

    settings = load_settings(port=port, bootstrap=bootstrap, data_dir=data_dir, window=window, grace=grace)
    raise typer.Exit(run_all(settings, demo=demo, workers=workers, console=console))


@app.command()
def worker(bootstrap: Bootstrap = None, window: Window = None, grace: Grace = None) -> None:
    """Run one stream worker (several share the partitions through the consumer group)."""
    from perfpulse.stages import run_worker
    from perfpulse.topics import TopicSetupError

    settings = load_settings(bootstrap=bootstrap, window=window, grace=grace)
    _logging(settings)
    tune_gc()
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    except TopicSetupError as exc:
        raise _fail(str(exc)) from None


@app.command()
def sink(bootstrap: Bootstrap = None, data_dir: DataDir = None, clickhouse_url: StoreUrl = None) -> None:
    """Run the sink alone (Kafka -> ClickHouse). With the embedded store, `perfpulse api` runs it instead."""
    from perfpulse.stages import run_stages, sink_config
    from storage.sink import Sink

    settings = load_settings(bootstrap=bootstrap, data_dir=data_dir, clickhouse_url=clickhouse_url)
    _logging(settings)
    tune_gc()
    try:
        asyncio.run(run_stages(settings, lambda store: [Sink(sink_config(settings), store)]))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def notifier(bootstrap: Bootstrap = None, data_dir: DataDir = None, clickhouse_url: StoreUrl = None) -> None:
    """Run the notifier alone (alerts topic -> notifications). With the embedded store, `perfpulse api`
    runs it instead; with a ClickHouse server, run exactly one per deployment."""
    from perfpulse.stages import notifier_stage, run_stages

    settings = load_settings(bootstrap=bootstrap, data_dir=data_dir, clickhouse_url=clickhouse_url)
    _logging(settings)
    tune_gc()
    try:
        asyncio.run(run_stages(settings, lambda store: [notifier_stage(settings, store)]))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        raise _fail(str(exc)) from None


@app.command()
def api(
    port: Port = None,
    bootstrap: Bootstrap = None,
    data_dir: DataDir = None,
    clickhouse_url: StoreUrl = None,
    window: Window = None,
    with_sink: Annotated[
        bool | None,
        typer.Option("--with-sink/--no-sink", help="run the sink in-process (default: when embedded)"),
    ] = None,
    with_notifier: Annotated[
        bool | None,
        typer.Option("--with-notifier/--no-notifier", help="run the notifier in-process (default: when embedded)"),
    ] = None,
) -> None:
    """Run the HTTP API (query, ingest, alerts, rules, silences, health), with the sink and the
    notifier in-process when the store is embedded."""
    import uvicorn

    from api.wsframes import SharedFrameProtocol
    from perfpulse.app import create_app
    from storage import StoreLocked, open_store

    settings = load_settings(
        port=port, bootstrap=bootstrap, data_dir=data_dir, clickhouse_url=clickhouse_url, window=window
    )
    _logging(settings)
    try:
        store = open_store(settings.store_url)
    except StoreLocked as exc:
        raise _fail(str(exc)) from None
    console.print(f"perfpulse API on [bold]{settings.api_url}[/bold] (OpenAPI at {settings.api_url}/docs)")
    tune_gc()
    uvicorn.run(
        create_app(settings, with_sink=with_sink, with_notifier=with_notifier, store=store),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        # Open WebSockets, SSE streams and slow reads are cut after this on shutdown: uvicorn's
        # default waits for them forever, and `perfpulse up` then needed a second Ctrl-C.
        timeout_graceful_shutdown=API_SHUTDOWN_S,
        ws=SharedFrameProtocol,  # a live-feed frame to many clients is compressed once
        **settings.tls_options,
    )


@app.command()
def migrate(data_dir: DataDir = None, clickhouse_url: StoreUrl = None) -> None:
    """Apply pending ClickHouse migrations and create the Kafka topics."""
    from perfpulse.stages import migration_params
    from perfpulse.topics import TopicSetupError, ensure_settings_topics
    from storage import StoreError, apply_migrations, open_store

    settings = load_settings(data_dir=data_dir, clickhouse_url=clickhouse_url)
    try:
        store = open_store(settings.store_url, pool_size=1)
        applied = apply_migrations(store, migration_params(settings))
        store.close()
    except StoreError as exc:
        raise _fail(str(exc)) from None
    for migration in applied:
        console.print(f"applied {migration.version}_{migration.name}")
    console.print(f"storage: {len(applied)} migration(s) applied, schema up to date")
    try:
        asyncio.run(ensure_settings_topics(settings))
        console.print(f"kafka: topics {settings.topic_prefix}* present on {settings.kafka_bootstrap}")
    except TopicSetupError as exc:
        raise _fail(str(exc)) from None


@app.command()
def demo(
    rate: Annotated[float, typer.Option("--rate", help="requests per second across the three services")] = 300.0,
    bootstrap: Bootstrap = None,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="stop after this long (default: run until Ctrl-C)")
    ] = None,
) -> None:
    """Send synthetic traffic of the spec's gateway, orchestrator and frontend services."""
    from perfpulse.stages import run_demo_for

    settings = load_settings(bootstrap=bootstrap)
    _logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo_for(settings, rate, seconds))


@infra_app.command("up")
def infra_up(bootstrap: Bootstrap = None, data_dir: DataDir = None) -> None:
    """Start the local Kafka broker and Redis (idempotent; waits until they answer)."""
    from infra import InfraError
    from perfpulse.localinfra import start_local

    settings = load_settings(bootstrap=bootstrap, data_dir=data_dir)
    try:
        for name, state, where in start_local(settings, console):
            console.print(f"{name}: {state} ({where})")
    except InfraError as exc:
        raise _fail(str(exc)) from None


@infra_app.command("down")
def infra_down(data_dir: DataDir = None) -> None:
    """Stop the Kafka broker and Redis this data dir started."""
    from perfpulse.localinfra import stop_local

    settings = load_settings(data_dir=data_dir)
    for name, stopped in stop_local(settings):
        console.print(f"{name}: {'stopped' if stopped else 'was not running'}")


@infra_app.command("status")
def infra_status(bootstrap: Bootstrap = None, data_dir: DataDir = None) -> None:
    """Show whether Kafka and Redis are up."""
    from perfpulse.localinfra import status_local

    settings = load_settings(bootstrap=bootstrap, data_dir=data_dir)
    table = Table("service", "address", "state", "pid")
    healthy = True
    for row in status_local(settings):
        table.add_row(row.name, row.address, row.state, str(row.pid or "-"))
        healthy = healthy and row.state == "up"
    Console().print(table)
    raise typer.Exit(0 if healthy else 1)


RulesFile = Annotated[Path, typer.Argument(help="the rules file, e.g. infra/alerts.yaml")]


@rules_app.command("validate")
def rules_validate(file: RulesFile, window: Window = None) -> None:
    """Check a rules file: every error as file:line:column: reason (exit 1), warnings too (exit 0)."""
    import os

    from rich.text import Text

    from alerting.notify import FileCheck, parse_channels
    from alerting.rules import parse_rules

    settings = load_settings(window=window)
    out = Console(soft_wrap=True, highlight=False)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read the rules file {file}: {exc}") from None
    # ${VAR} in channels resolve from this environment, as the processes that send will see it.
    check = FileCheck.of(
        parse_rules(text, file=str(file), window_ms=settings.window_ms),
        parse_channels(text, file=str(file), env=os.environ),
    )
    for error in check.errors:
        out.print(Text(str(error), style="red"))
    for warning in check.warnings:
        out.print(Text(str(warning), style="yellow"))
    if check.rules is None or check.channels is None:
        console.print(f"[red]✗[/red] {file}: {len(check.errors)} error(s)", highlight=False)
        raise typer.Exit(1)
    channels = check.channels.values()
    enabled = sum(1 for c in channels if c.enabled)
    console.print(
        f"[green]✓[/green] {file}: {len(check.rules.rules)} rule(s), {len(channels)} channel(s) ({enabled} enabled)",
        highlight=False,
    )


@rules_app.command("test")
def rules_test(
    file: RulesFile,
    cases: Annotated[Path, typer.Argument(help="the rule unit tests (promtool-like cases file)")],
) -> None:
    """Run rule unit tests against a rules file; exit 1 when a case fails or a file is unusable."""
    from rich.text import Text

    from alerting.rules.testing import run_rule_tests

    out = Console(soft_wrap=True, highlight=False)
    report = run_rule_tests(file, cases)
    for error in report.errors:
        out.print(Text(str(error), style="red"))
    for failure in report.failures:
        out.print(Text(f"FAIL {failure}", style="red"))
    if report.errors:
        console.print(f"[red]✗[/red] cannot run the tests: {len(report.errors)} error(s)", highlight=False)
        raise typer.Exit(1)
    failed = len({f.test for f in report.failures})
    if failed:
        console.print(f"[red]✗[/red] {failed} of {report.tests} test(s) failed", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {report.tests} test(s) passed", highlight=False)


@contextlib.contextmanager
def _keys(data_dir: Path | None, clickhouse_url: str | None) -> Iterator[KeyAccess]:
    """The keys of the data dir's store (or the running API's), failing the command on errors."""
    from perfpulse.keyaccess import KeyAccessError, key_access
    from storage import StoreError

    settings = load_settings(data_dir=data_dir, clickhouse_url=clickhouse_url)
    try:
        with key_access(settings) as keys:
            yield keys
    except (KeyAccessError, StoreError) as exc:
        raise _fail(str(exc)) from None


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option("--scope", help="ingest (send data), read (read all) or admin (everything)")],
    name: Annotated[str, typer.Option("--name", help="what the key is for")] = "",
    data_dir: DataDir = None,
    clickhouse_url: StoreUrl = None,
) -> None:
    """Create an API key and print it once, as the last line: perfpulse keeps only its hash."""
    from storage.keys import check_name, parse_scope

    try:
        chosen = parse_scope(scope)
        check_name(name)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    with _keys(data_dir, clickhouse_url) as keys:
        record, key = keys.create(chosen, name)
    named = f", name {name!r}" if name else ""
    typer.echo(f"created API key {record['id']} (scope {chosen.value}{named}); it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, clickhouse_url: StoreUrl = None) -> None:
    """List the API keys (never the keys themselves: perfpulse does not have them)."""
    from datetime import UTC, datetime

    with _keys(data_dir, clickhouse_url) as keys:
        found = keys.list()

    def when(ms: int | None) -> str:
        return "-" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    table = Table("id", "name", "scope", "created", "revoked")
    for key in found:
        table.add_row(key["id"], key["name"], key["scope"], when(key["created"]), when(key["revoked"]))
    Console(soft_wrap=True).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (perfpulse keys list)")],
    data_dir: DataDir = None,
    clickhouse_url: StoreUrl = None,
) -> None:
    """Revoke an API key: within a few seconds every perfpulse process refuses it."""
    with _keys(data_dir, clickhouse_url) as keys:
        revoked = keys.revoke(key_id)
    if revoked is None:
        raise _fail(f"cannot revoke API key {key_id!r}: no key has this id")
    typer.echo(f"revoked API key {key_id}")


@app.command()
def canary(
    baseline: Annotated[
        str, typer.Option("--baseline", help="labels of the baseline's series: version=1.4[,name=value]")
    ],
    candidate: Annotated[str, typer.Option("--candidate", help="labels of the candidate's series: version=1.5")],
    metric: Annotated[str, typer.Option("--metric", help="a distribution metric")] = "http.server.duration",
    service: Annotated[str | None, typer.Option("--service", help="only this service's series")] = None,
    window: Annotated[str, typer.Option("--window", help="how far back from now (at most 24h)")] = "15m",
    threshold: Annotated[float, typer.Option("--threshold", help="relative p95 rise that fails")] = 0.10,
    min_samples: Annotated[int, typer.Option("--min-samples", help="observations each side needs")] = 100,
    url: Annotated[
        str | None, typer.Option("--url", envvar="PERFPULSE_URL", help="the perfpulse API (default: this machine's)")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar="PERFPULSE_API_KEY", help="a read key", show_default=False)
    ] = None,
) -> None:
    """Canary verdict from the running API: exit 0 pass, 1 fail, 2 not-enough-data, 3 no verdict."""
    from perfpulse.canary import EXIT_CODES, NO_VERDICT, CanaryError, ask_verdict, parse_labels, render

    try:
        body = {
            "metric": metric,
            "baseline": parse_labels("--baseline", baseline),
            "candidate": parse_labels("--candidate", candidate),
            "service": service,
            "window": window,
            "p95_threshold": threshold,
            "min_samples": min_samples,
        }
        target, verify = _canary_target(url)
        answer = ask_verdict(target, body, key, verify)
    except (CanaryError, ValueError) as exc:  # ValueError: invalid settings (exit 2 is not-enough-data here)
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(NO_VERDICT) from None
    typer.echo("\n".join(render(answer)))
    raise typer.Exit(EXIT_CODES[answer["verdict"]])


def _canary_target(url: str | None) -> tuple[str, ssl.SSLContext | bool]:
    """Where the canary command asks, and how it trusts HTTPS: ``url`` with the system's CAs, or this
    machine's API (from the settings) trusting its configured certificate."""
    from perfpulse.keyaccess import local_api_url, local_verify

    if url:
        return url, True
    settings = Settings()
    return local_api_url(settings), local_verify(settings)


REPORT_RANGE = Annotated[str, typer.Option("--range", help="the last N minutes, hours or days: 24h, 7d (up to 30d)")]


@app.command()
def report(
    range_: REPORT_RANGE = "7d",
    out: Annotated[Path, typer.Option("--out", help="the PDF to write")] = Path("report.pdf"),
    url: Annotated[str | None, typer.Option("--url", help="the API (default this machine's) [PERFPULSE_URL]")] = None,
    chromium: Annotated[Path, typer.Option("--chromium", help="headless Chromium")] = Path("/usr/bin/chromium"),
) -> None:
    """Print the dashboard's performance report of the last RANGE (per service: the spec's targets
    against what was measured, and the change from the period before) to a PDF with headless Chromium.
    The API must answer without a key (Chromium cannot send one)."""
    import os

    from perfpulse.report import ReportError, print_report

    base = (url or os.environ.get("PERFPULSE_URL") or _canary_target(None)[0]).rstrip("/")
    try:
        size = print_report(base, range_, out, chromium)
    except ReportError as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {out} ({size // 1024} KB): the last {range_} of {base}")


def main() -> None:
    """The console script. A command whose server parts this install lacks (a module the commands import
    when they run) says what to install instead of a traceback."""
    try:
        app()
    except ModuleNotFoundError as missing:
        if missing.name is None or missing.name.partition(".")[0] in _OWN_PACKAGES:
            raise  # a module of perfpulse's own: a broken install or a bug, not a missing extra
        raise _server_missing(missing.name) from None
