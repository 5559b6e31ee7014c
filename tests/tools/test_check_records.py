"""tools/check_records.py: codec calls in Kafka-facing stage modules are reported unless they say why."""

from __future__ import annotations

from pathlib import Path

from tools.check_records import problems


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_codec_call_beside_kafka_is_reported_with_its_place(tmp_path: Path) -> None:
    write(tmp_path, "stream/emit.py", "import orjson\nfrom aiokafka import AIOKafkaProducer\n\nx = orjson.dumps({})\n")
    [problem] = problems(tmp_path)
    assert problem.startswith("stream/emit.py:4: orjson.dumps()")


def test_protobuf_parsing_beside_faust_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "storage/read.py", "import faust\n\n\ndef f(m, b):\n    return m.ParseFromString(b)\n")
    assert [p.split(":")[:2] for p in problems(tmp_path)] == [["storage/read.py", "5"]]


def test_a_pragma_or_a_module_without_kafka_is_not_reported(tmp_path: Path) -> None:
    body = "import orjson\nfrom ingest.producer import X\n\ny = orjson.loads(b)  # codec: HTTP body\n"
    write(tmp_path, "api/body.py", body)
    write(tmp_path, "api/cursor.py", "import base64\n\nz = base64.b64encode(b'')\n")
    assert problems(tmp_path) == []


def test_the_tree_encodes_topic_records_only_in_schemas() -> None:
    assert problems() == []
