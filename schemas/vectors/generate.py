"""Write the shared test vectors (``metrics.json``, ``spans.json``, ``logs.json`` beside this file)
from the inputs below and perfpulse's encoders. Run by hand when a record format changes
(``.venv/bin/python -m schemas.vectors.generate``) and commit the output: the files, not this
script, are what both SDKs' tests check.

The inputs cover what encoders disagree on: floats (integral, -0.0, tiny and huge magnitudes, the
shortest digits of 0.1), non-ASCII and control characters, label order, optional fields (weights,
parent span, trace ids of a log record) and nanosecond times beyond 2^53.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.vectors import KINDS, VECTORS_DIR, Kind, encode

_T0 = 1_796_284_214_534  # epoch ms
_NS0 = "1796284214534123456"  # epoch ns, beyond 2^53
_NS1 = "1796284214546789012"

INPUTS: dict[Kind, list[tuple[str, dict[str, Any]]]] = {
    "metrics": [
        (
            "one distribution",
            {
                "service": "checkout",
                "series": [
                    {
                        "name": "http.server.duration",
                        "kind": "distribution",
                        "labels": {"route": "/cart/:id", "method": "GET", "status_code": "200"},
                        "ts": [_T0, _T0 + 1, _T0 + 1],
                        "values": [12.5, 3.0, 0.1],
                    }
                ],
            },
        ),
        (
            "floats orjson writes differently from JSON.stringify",
            {
                "service": "float-edges",
                "series": [
                    {
                        "name": "edge",
                        "kind": "gauge",
                        "labels": {},
                        "ts": [_T0] * 16,
                        "values": [
                            0.0,
                            -0.0,
                            1.0,
                            -7.0,
                            1e-5,
                            9.99e-6,
                            1.5e-7,
                            5e-324,
                            123456789.0,
                            9999999999999998.0,
                            1e16,
                            1.2345e17,
                            1e18,
                            -1e18,
                            0.3333333333333333,
                            2.5e-10,
                        ],
                    }
                ],
            },
        ),
        (
            "several series, counter and weights, labels not in key order",
            {
                "service": "gateway:4110",
                "series": [
                    {
                        "name": "orders.created",
                        "kind": "counter",
                        "labels": {"zone": "b", "app": "shop"},
                        "ts": [_T0, _T0 + 1000],
                        "values": [1.0, 2.0],
                    },
                    {
                        "name": "otlp.histogram",
                        "kind": "distribution",
                        "labels": {"le": "+Inf"},
                        "ts": [_T0, _T0, _T0],
                        "values": [5.0, 50.0, 500.0],
                        "weights": [3, 1, 4294967295],
                    },
                ],
            },
        ),
        (
            "text that needs escaping",
            {
                "service": "svc/text_escapes",
                "series": [
                    {
                        "name": "text_labels",
                        "kind": "distribution",
                        "labels": {"quote": 'say "hi"\\', "ctl": "a\nb\tc\u0001\u001f\u007f", "uni": "é😀\u2028"},
                        "ts": [_T0],
                        "values": [42.0],
                    }
                ],
            },
        ),
    ],
    "spans": [
        (
            "a root and a child with events",
            {
                "spans": [
                    {
                        "trace_id": "0af7651916cd43dd8448eb211c80319c",
                        "span_id": "b7ad6b7169203331",
                        "parent_span_id": None,
                        "service": "checkout",
                        "operation": "POST /orders",
                        "start_ns": _NS0,
                        "end_ns": _NS1,
                        "kind": "server",
                        "status": "ok",
                        "status_message": "",
                        "tags": {"http.route": "/orders", "http.status_code": "201"},
                        "events": [],
                    },
                    {
                        "trace_id": "0af7651916cd43dd8448eb211c80319c",
                        "span_id": "00f067aa0ba902b7",
                        "parent_span_id": "b7ad6b7169203331",
                        "service": "checkout",
                        "operation": "db.query",
                        "start_ns": "1796284214535000001",
                        "end_ns": "1796284214545999999",
                        "kind": "client",
                        "status": "error",
                        "status_message": 'Error: deadlock "orders"',
                        "tags": {"db.table": "orders", "password": "[REDACTED]"},
                        "events": [
                            {
                                "ts_ns": "1796284214540000000",
                                "message": "retrying ✓",
                                "level": "warn",
                                "attributes": {"attempt": "2"},
                            },
                            {"ts_ns": "1796284214545000000", "message": "gave up", "level": "error", "attributes": {}},
                        ],
                    },
                ]
            },
        ),
        (
            "an internal span, unset status",
            {
                "spans": [
                    {
                        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                        "span_id": "53995c3f42cd8ad8",
                        "parent_span_id": "1111111111111111",
                        "service": "orchestrator",
                        "operation": "render\u2028template",
                        "start_ns": _NS0,
                        "end_ns": _NS0,
                        "kind": "internal",
                        "status": "unset",
                        "status_message": "",
                        "tags": {},
                        "events": [],
                    }
                ]
            },
        ),
    ],
    "logs": [
        (
            "logs in and out of a span",
            {
                "logs": [
                    {
                        "ts_ns": _NS0,
                        "service": "checkout",
                        "level": "info",
                        "message": "order placed",
                        "attributes": {"items": "3", "user": "zoë"},
                        "trace_id": "0af7651916cd43dd8448eb211c80319c",
                        "span_id": "b7ad6b7169203331",
                    },
                    {
                        "ts_ns": _NS1,
                        "service": "checkout",
                        "level": "fatal",
                        "message": 'line one\nline two "quoted" \\ tab\t',
                        "attributes": {},
                        "trace_id": None,
                        "span_id": None,
                    },
                ]
            },
        ),
    ],
}


def main() -> None:
    for kind in KINDS:
        cases = [{"name": name, "input": data, "expected": encode(kind, data)} for name, data in INPUTS[kind]]
        text = json.dumps(cases, indent=2, ensure_ascii=False) + "\n"
        (VECTORS_DIR / f"{kind}.json").write_text(text, encoding="utf-8")
        print(f"{kind}.json: {len(cases)} cases")


if __name__ == "__main__":
    main()
