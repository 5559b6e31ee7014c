"""A body worked on in a worker process goes there and its records come back through a spool file:
the same records as worked on in the API process, the file removed whatever the outcome; small
bodies keep the thread and no file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.receivers import spool
from ingest.receivers.encode import Encoded, Refusal
from ingest.receivers.inflate import RawBody
from ingest.receivers.offload import IngestWorkers, WorkerDied
from ingest.receivers.spool import Spool, Spooled, encoded_by
from schemas import RecordType


def records_of(raw: RawBody, copies: int) -> Encoded | Refusal:
    """Records of several sizes (one empty), where the work ran in the last one's description."""
    if raw.data == b"refuse":
        return Refusal(400, "refused", [{"loc": "body", "msg": "asked to"}], 1)
    if raw.data == b"die":
        os._exit(3)
    values = [raw.data * i for i in range(copies)]
    records = [(f"key{i}".encode(), value, f"{len(value)} bytes") for i, value in enumerate(values)]
    records.append((b"pid", b"", str(os.getpid())))
    return Encoded(RecordType.LOGS, records, accepted=copies, rejected=2, reason="two were not")


def _files(directory: Path) -> list[Path]:
    return list(directory.iterdir())


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(spool, "_DIR", str(tmp_path))
    return tmp_path


async def test_a_worker_s_records_come_back_through_the_file_as_they_were_made(spool_dir: Path) -> None:
    workers = IngestWorkers(inline_bytes=16)
    raw = RawBody(b"0123456789abcdef-" * 400, gzip=False)  # in a worker process
    try:
        encoded = await encoded_by(workers, records_of, raw, 40)
    finally:
        workers.processes.close()
    assert isinstance(encoded, Encoded)
    *records, (_, _, pid) = encoded.records
    expected = records_of(raw, 40)
    assert isinstance(expected, Encoded)
    assert records == expected.records[:-1] and int(pid) != os.getpid()
    assert (encoded.kind, encoded.accepted, encoded.rejected, encoded.reason) == (
        RecordType.LOGS,
        40,
        2,
        "two were not",
    )
    assert all(type(value) is bytes for _, value, _ in encoded.records)  # what the producer takes
    assert _files(spool_dir) == []


def test_the_work_reads_the_body_and_writes_its_values_in_its_place(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    path.write_bytes(b"ab")
    spooled = Spool(str(path)).work(records_of)(False, 3)
    assert isinstance(spooled, Spooled)
    assert spooled.heads == [
        (b"key0", 0, "0 bytes"),
        (b"key1", 2, "2 bytes"),
        (b"key2", 4, "4 bytes"),
        (b"pid", 0, str(os.getpid())),
    ]
    assert path.read_bytes() == b"ab" + b"abab"  # the values, in order
    path.write_bytes(b"a longer body")
    assert isinstance(Spool(str(path)).work(records_of)(False, 1), Spooled)
    assert path.read_bytes() == b""  # nothing of the body is left after the values


async def test_the_file_is_removed_when_the_body_is_refused_or_its_worker_dies(spool_dir: Path) -> None:
    workers = IngestWorkers(inline_bytes=1)
    try:
        refused = await encoded_by(workers, records_of, RawBody(b"refuse", gzip=False), 1)
        assert isinstance(refused, Refusal) and refused.status == 400
        with pytest.raises(WorkerDied):
            await encoded_by(workers, records_of, RawBody(b"die", gzip=False), 1)
    finally:
        workers.processes.close()
    assert _files(spool_dir) == []


async def test_a_small_body_s_records_stay_in_the_process_without_a_file(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_file() -> None:
        raise AssertionError("a spool file was made for a body worked on a thread")

    monkeypatch.setattr(Spool, "made", no_file)
    workers = IngestWorkers(inline_bytes=1_024)
    encoded = await encoded_by(workers, records_of, RawBody(b"small", gzip=False), 2)
    assert isinstance(encoded, Encoded) and encoded.records[-1] == (b"pid", b"", str(os.getpid()))


async def test_with_no_room_for_the_file_the_body_goes_through_the_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool, "_DIR", str(tmp_path / "missing"))  # mkstemp fails: no such directory
    workers = IngestWorkers(inline_bytes=16)
    raw = RawBody(b"0123456789abcdef-" * 400, gzip=False)
    try:
        encoded = await encoded_by(workers, records_of, raw, 3)
    finally:
        workers.processes.close()
    expected = records_of(raw, 3)
    assert isinstance(encoded, Encoded) and isinstance(expected, Encoded)
    assert encoded.records[:-1] == expected.records[:-1] and int(encoded.records[-1][2]) != os.getpid()
