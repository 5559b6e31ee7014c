-- Coarser tiers of the rollups: per minute and per hour, as ClickHouse t-digest states merged in
-- the background (AggregatingMergeTree). A long range is answered from a few tier rows instead of
-- thousands of window rows (storage/tiers.py plans which tier serves which part of a range).
-- The sink fills them from the rows it just inserted into rollups; kafka_offset (max per series
-- and partition) lets it catch a tier up after a crash between the two inserts.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS rollups_1m {on_cluster}
(
    name LowCardinality(String),
    service LowCardinality(String),
    kind Enum8('distribution' = 1, 'counter' = 2, 'gauge' = 3),
    labels Map(LowCardinality(String), String),
    window_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    src_partition UInt16,
    count SimpleAggregateFunction(sum, UInt64),
    sum SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    digest AggregateFunction(quantilesTDigestWeighted(0.5), Float64, UInt32),
    kafka_offset SimpleAggregateFunction(max, UInt64)
)
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (name, service, window_start, toString(labels), kind, src_partition)
TTL toDateTime(window_start) + INTERVAL {tier_1m_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS rollups_1h {on_cluster} AS rollups_1m
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYear(window_start)
ORDER BY (name, service, window_start, toString(labels), kind, src_partition)
TTL toDateTime(window_start) + INTERVAL {tier_1h_ttl_days} DAY
