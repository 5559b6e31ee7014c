"""older_than: the keyset clauses and their parameters."""

from __future__ import annotations

from typing import Any

from storage.keyset import older_than


def test_clauses_bound_the_time_then_compare_the_whole_key() -> None:
    params: dict[str, Any] = {"limit": 5}
    clauses = older_than("ts", "Nano", ("src_partition", "src_offset", "src_index"), (7, 1, 2, 3), params)
    assert clauses == [
        "ts <= fromUnixTimestamp64Nano({a0:Int64})",
        "(toUnixTimestamp64Nano(ts), src_partition, src_offset, src_index)"
        " < ({a0:Int64}, {a1:UInt16}, {a2:UInt64}, {a3:UInt32})",
    ]
    assert params == {"limit": 5, "a0": 7, "a1": 1, "a2": 2, "a3": 3}
