"""Log search on a real chDB store: filters, words of the message through the text index, keyset pages,
and redaction by the sink's column buffer."""

from __future__ import annotations

from schemas import LogLevel, Redactor
from storage import Store
from storage.logs import LogQuery, search_logs, text_tokens
from storage.rows import LogColumns
from tests.storage.builders import BASE_MS
from tests.storage.telemetry import BASE_NS, MS, insert_logs, log, trace_id

RANGE = (BASE_MS - 60_000, BASE_MS + 3_600_000)
ERROR, WARN = LogLevel.ERROR, LogLevel.WARN


def messages(store: Store, **filters: object) -> list[str]:
    return [e.message for e in search_logs(store, LogQuery(*RANGE, **filters)).logs]  # type: ignore[arg-type]


def seed(store: Store) -> None:
    insert_logs(store, [
        log(0, "started", service="frontend"),
        log(10, "Connect TIMEOUT to db-1 after 3s", level=ERROR, trace=7),
        log(20, "timeouts are configured", level=WARN),
        log(30, "user_id=42 checkout ok", service="frontend", trace=7),
        log(3_600_000 + 1, "after the range"),
    ])  # fmt: skip


def test_filters_combine_and_results_come_newest_first(store: Store) -> None:
    seed(store)
    assert messages(store) == [
        "user_id=42 checkout ok", "timeouts are configured", "Connect TIMEOUT to db-1 after 3s", "started",
    ]  # fmt: skip
    assert messages(store, services=["frontend"]) == ["user_id=42 checkout ok", "started"]
    assert messages(store, levels=["error", "warn"]) == ["timeouts are configured", "Connect TIMEOUT to db-1 after 3s"]
    assert messages(store, trace_id=trace_id(7)) == ["user_id=42 checkout ok", "Connect TIMEOUT to db-1 after 3s"]
    assert messages(store, trace_id=trace_id(7), services=["gateway"]) == ["Connect TIMEOUT to db-1 after 3s"]


def test_text_search_matches_whole_words_in_any_case(store: Store) -> None:
    seed(store)
    assert messages(store, words=text_tokens("timeout")) == ["Connect TIMEOUT to db-1 after 3s"]
    assert messages(store, words=text_tokens("DB-1 connect")) == ["Connect TIMEOUT to db-1 after 3s"]
    assert messages(store, words=text_tokens("timeout checkout")) == []  # every word must be there
    assert messages(store, words=text_tokens("user_id")) == ["user_id=42 checkout ok"]  # "user" and "id"
    assert messages(store, words=text_tokens("time")) == []  # words, not substrings


def test_text_tokens_split_as_the_index_does() -> None:
    assert text_tokens("Connect TIMEOUT, db-1!") == ["connect", "timeout", "db", "1"]
    assert text_tokens("  ...  ") == []
    assert text_tokens("Grüße aus Köln") == ["grüße", "aus", "köln"]


def test_the_text_index_is_used_for_words(store: Store) -> None:
    seed(store)
    plan = "\n".join(
        row[0]
        for row in store.rows("EXPLAIN indexes = 1 SELECT message FROM logs WHERE hasAllTokens(lower(message), ['x'])")
    )
    assert "idx_message" in plan


def test_pages_cover_every_record_once_even_at_equal_times(store: Store) -> None:
    # 5 Kafka records of 30 log records each, every 10 records at the same nanosecond
    for offset in range(5):
        insert_logs(
            store, [log(offset * 3 + i // 10, f"r{offset}-{i}") for i in range(30)], partition=offset % 2, offset=offset
        )
    everything = messages(store, limit=1_000)
    assert len(everything) == 150 == len(set(everything))
    seen: list[str] = []
    after = None
    while True:
        page = search_logs(store, LogQuery(*RANGE, limit=7, after=after))
        seen.extend(e.message for e in page.logs)
        if page.next_key is None:
            break
        after = page.next_key
    assert seen == everything
    assert [e.ts_ns for e in search_logs(store, LogQuery(*RANGE, limit=1_000)).logs] == sorted(
        (BASE_NS + (o * 3 + i // 10) * MS for o in range(5) for i in range(30)), reverse=True
    )


def test_messages_and_attributes_are_redacted_before_insert(store: Store) -> None:
    columns = LogColumns(Redactor.of(["session"]))
    columns.add(0, 0, [
        log(0, "login password=hunter2 with Bearer abcdefghijkl", attributes={"Session-Id": "s3cr3t", "user": "ann"}),
    ])  # fmt: skip
    store.insert(*columns.take())
    [entry] = search_logs(store, LogQuery(*RANGE)).logs
    assert entry.message == "login password=[REDACTED] with Bearer [REDACTED]"
    assert entry.attributes == {"Session-Id": "[REDACTED]", "user": "ann"}
    assert (entry.trace_id, entry.span_id, entry.key[1:]) == (None, None, (0, 0, 0))
