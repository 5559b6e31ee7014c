"""Lint: nothing outside ``schemas/`` encodes or decodes a Kafka topic record.

Every topic carries records defined in ``schemas`` with one encoder and one decoder each. A module
of a stage that talks to Kafka (it imports aiokafka, faust or the ingest producer) must therefore
never serialize or parse bytes itself: any call of a codec (orjson, json, pickle, marshal, base64,
struct, msgpack, protobuf ``SerializeToString``/``ParseFromString``) there is reported, unless its
line says why it is not a topic record with a ``# codec: <reason>`` comment (an HTTP body, a
state document stored in ClickHouse). Run by ``make lint``; exits 1 when something is reported.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

__all__ = ["problems"]

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "stream", "storage", "alerting", "api", "perfpulse")
KAFKA_MODULES = ("aiokafka", "faust", "ingest.producer")
CODEC_MODULES = frozenset({"orjson", "json", "pickle", "marshal", "base64", "struct", "msgpack"})
CODEC_METHODS = frozenset({"SerializeToString", "ParseFromString", "FromString"})
PRAGMA = "# codec:"


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _talks_to_kafka(imports: set[str]) -> bool:
    return any(name == k or name.startswith(f"{k}.") for name in imports for k in KAFKA_MODULES)


def _codec_calls(tree: ast.Module) -> list[tuple[int, str]]:
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id in CODEC_MODULES:
            calls.append((node.lineno, f"{owner.id}.{node.func.attr}"))
        elif node.func.attr in CODEC_METHODS:
            calls.append((node.lineno, node.func.attr))
    return calls


def problems(root: Path = ROOT) -> list[str]:
    """``path:line: message`` for each codec call in a Kafka-facing stage module without a pragma."""
    found = []
    for stage in STAGES:
        for path in sorted((root / stage).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
            if not _talks_to_kafka(_imports(tree)):
                continue
            lines = text.splitlines()
            for line, call in _codec_calls(tree):
                if PRAGMA not in lines[line - 1]:
                    where = path.relative_to(root)
                    found.append(
                        f"{where}:{line}: {call}() in a module that talks to Kafka: encode and decode topic "
                        f"records with schemas/, or say why this is no topic record with '{PRAGMA} <reason>'"
                    )
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(problem)
    print(f"records check: {len(found)} problem(s)" if found else "records check: ok", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
