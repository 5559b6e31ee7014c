"""Keyset pagination, newest first, for tables whose rows carry a time and their Kafka position.

A page ends at some row; the next page holds the rows that sort strictly after it in
``(time, partition, offset, index) DESC`` order. The position makes the key unique, so paging
neither repeats nor skips a row, even among rows with equal times.
"""

from __future__ import annotations

from typing import Any

__all__ = ["older_than"]


def older_than(time_column: str, unit: str, position: tuple[str, str, str], after: tuple[int, int, int, int],
               params: dict[str, Any]) -> list[str]:  # fmt: skip
    """The WHERE clauses selecting rows older than ``after`` = (time in ``unit``, partition, offset,
    index); ``time_column`` is a DateTime64 read as ``unit`` (``Milli``, ``Nano``), ``position`` names
    the partition (UInt16), offset (UInt64) and index (UInt32) columns. Adds its ``a0``..``a3`` to
    ``params``. The first clause lets ClickHouse prune by time before comparing whole keys."""
    params.update(a0=after[0], a1=after[1], a2=after[2], a3=after[3])
    partition, offset, index = position
    return [
        f"{time_column} <= fromUnixTimestamp64{unit}({{a0:Int64}})",
        f"(toUnixTimestamp64{unit}({time_column}), {partition}, {offset}, {index})"
        " < ({a0:Int64}, {a1:UInt16}, {a2:UInt64}, {a3:UInt32})",
    ]
