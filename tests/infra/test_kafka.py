"""The local Kafka broker: its storage formats with any cluster id, and a failed format says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import infra.kafka
from infra import InfraError, LocalKafka
from tests.ports import free_broker_port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own (its own ports and data dir), stopped after the test."""
    kafka = LocalKafka(tmp_path / "kafka", port=free_broker_port())
    yield kafka
    kafka.stop()


@pytest.mark.integration
def test_a_cluster_id_starting_with_a_dash_formats_and_starts(
    broker: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One random id in 64 starts with "-": the storage tool took it for an option and failed."""
    monkeypatch.setattr(infra.kafka, "new_cluster_id", lambda: "-" + "A" * 21)
    assert broker.start() == "started"
    assert "cluster.id=-AAAAAAAAAAAAAAAAAAAAA" in (broker.home / "data" / "meta.properties").read_text()
    assert broker.is_ready()


@pytest.mark.integration
def test_a_log_dir_that_cannot_be_written_fails_the_format_with_the_tool_s_reason(broker: LocalKafka) -> None:
    broker.home.mkdir(parents=True)
    (broker.home / "data").write_text("a file where the log dir should be")
    with pytest.raises(InfraError) as failed:
        broker.start()
    message = str(failed.value)
    assert message.startswith(f"cannot format Kafka storage in {broker.home / 'data'}: java exited with code 1:")
    assert "Not a directory" in message and message.endswith("No available log directories to format.")
    assert broker.running_pid() is None


@pytest.mark.integration
def test_the_broker_compiles_with_the_first_jit_compiler_only(kafka_broker: LocalKafka) -> None:
    """C2's compiler threads took more of a small machine's CPU than the broker's requests (infra/kafka.py)."""
    pid = kafka_broker.running_pid()
    if pid is None:
        pytest.skip("the session's broker was started by someone else")
    # The command line of the running JVM (which refuses to start on a flag it does not take); not
    # jcmd, which a JRE alone (infra/install-deps.sh installs one) does not have.
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-XX:TieredStopAtLevel=1" in argv and b"kafka.Kafka" in argv
