-- Log records, as the sink reads them from the logs topic (redacted), after the OpenTelemetry
-- exporter's otel_logs (HyperDX) and SigNoz's logs table. The API's questions decide the layout:
-- 1. a service's logs over time, newest first: ORDER BY (service, ts) (DESC reads in order);
-- 2. logs of a trace: a bloom filter on trace_id per granule ('' when logged outside a span);
-- 3. text search: a `text` index (ClickHouse's inverted index, 26.x) over lower(message) split at
--    non-alphanumeric characters; queries ask hasAllTokens(lower(message), [...]), which the index
--    answers per granule and which gives the same answer without it (case-insensitive either way;
--    the index's own `preprocessor` option did not: without the index the function is case-sensitive).
--    On a ClickHouse without `text` indexes, tokenbf_v1 over lower(message) serves the same queries;
-- 4. ranges without a service: daily partitions and a minmax index on ts.
-- (src_partition, src_offset, src_index) is the Kafka position of the row (src_index: its place in
-- the record's batch): the sink resumes after the highest stored offset, and the position, unique
-- per row, is the tiebreaker of the newest-first keyset pagination.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS logs {on_cluster}
(
    ts DateTime64(9, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    service LowCardinality(String),
    level Enum8('trace' = 1, 'debug' = 2, 'info' = 3, 'warn' = 4, 'error' = 5, 'fatal' = 6),
    message String CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    src_partition UInt16,
    src_offset UInt64 CODEC(DoubleDelta, ZSTD(1)),
    src_index UInt32 CODEC(T64, ZSTD(1)),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_message lower(message) TYPE text(tokenizer = splitByNonAlpha),
    INDEX idx_ts ts TYPE minmax GRANULARITY 1
)
ENGINE = {replicated}MergeTree
PARTITION BY toDate(ts)
ORDER BY (service, ts)
TTL toDateTime(ts) + INTERVAL {logs_ttl_days} DAY
SETTINGS ttl_only_drop_parts = 1
