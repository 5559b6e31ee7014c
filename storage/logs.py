"""Read helpers over the logs table: search by service, level, text, trace id and time, newest first.

Text search matches words: the query is split where the table's text index splits messages (at every
character that is not an ASCII letter or digit), lowercased, and a record matches when its message
holds every word (``hasAllTokens``, which the index answers granule by granule). ``"Timeout db-1"``
finds "connect TIMEOUT to db-1 after 3s", not "timeouts" (words, not substrings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.client import API_QUERY_SETTINGS, Store
from storage.keyset import older_than

__all__ = ["LogEntry", "LogPage", "LogQuery", "search_logs", "text_tokens"]

# splitByNonAlpha: ASCII letters and digits make words; any other ASCII character separates them
# (bytes of non-ASCII characters belong to words).
_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")


def text_tokens(text: str) -> list[str]:
    """The lowercased words of ``text`` as the message index sees them (empty: no word at all)."""
    return list(dict.fromkeys(word for word in _SEPARATORS.split(text.lower()) if word))


LogKey = tuple[int, int, int, int]  # (ts_ns, src_partition, src_offset, src_index): unique per row


@dataclass(frozen=True)
class LogQuery:
    start_ms: int
    end_ms: int
    services: Sequence[str] = ()  # any of these services (empty: all)
    levels: Sequence[str] = ()  # any of these levels (empty: all)
    words: Sequence[str] = ()  # every one of these words in the message (see text_tokens)
    trace_id: str | None = None
    limit: int = 100
    after: LogKey | None = None  # keyset: the key of the previous page's last record


@dataclass(slots=True)
class LogEntry:
    ts_ns: int
    service: str
    level: str
    message: str
    attributes: dict[str, str]
    trace_id: str | None
    span_id: str | None
    key: LogKey


@dataclass(slots=True)
class LogPage:
    logs: list[LogEntry]  # newest first
    next_key: LogKey | None  # pass as LogQuery.after for the next page; None at the end


def search_logs(store: Store, query: LogQuery) -> LogPage:
    """One page of log records in ``[start_ms, end_ms)`` matching ``query``, newest first; ties in
    time are ordered by Kafka position, so the keyset neither repeats nor skips a record."""
    params: dict[str, Any] = {"start_ms": query.start_ms, "end_ms": query.end_ms, "limit": query.limit + 1}
    where = ["ts >= fromUnixTimestamp64Milli({start_ms:Int64})", "ts < fromUnixTimestamp64Milli({end_ms:Int64})"]
    if query.services:
        where.append("service IN {services:Array(String)}")
        params["services"] = list(query.services)
    if query.levels:
        where.append("level IN {levels:Array(String)}")
        params["levels"] = list(query.levels)
    if query.words:
        where.append("hasAllTokens(lower(message), {words:Array(String)})")
        params["words"] = [w.lower() for w in query.words]
    if query.trace_id is not None:
        where.append("trace_id = {trace_id:String}")
        params["trace_id"] = query.trace_id
    if query.after is not None:
        where += older_than("ts", "Nano", ("src_partition", "src_offset", "src_index"), query.after, params)
    rows = store.rows(
        f"""
        SELECT toUnixTimestamp64Nano(ts) AS t, service, level, message, attributes, trace_id, span_id,
               src_partition, src_offset, src_index
        FROM logs
        WHERE {" AND ".join(where)}
        ORDER BY ts DESC, src_partition DESC, src_offset DESC, src_index DESC
        LIMIT {{limit:UInt32}}
        """,
        params,
        API_QUERY_SETTINGS,
    )
    entries = [
        LogEntry(
            int(r[0]), r[1], r[2], r[3], r[4], r[5] or None, r[6] or None, (int(r[0]), int(r[7]), int(r[8]), int(r[9]))
        )
        for r in rows[: query.limit]
    ]
    more = len(rows) > query.limit
    return LogPage(entries, entries[-1].key if more and entries else None)
