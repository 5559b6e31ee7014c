-- Raw metric points, as the sink reads them from the metrics topic. Short TTL: queries use rollups;
-- raw points are for SQL drill-down. src_partition/src_offset are the Kafka position of the record
-- a row came from: the sink resumes after the highest stored one (exactly-once without a second store).
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS points {on_cluster}
(
    service LowCardinality(String),
    name LowCardinality(String),
    kind Enum8('distribution' = 1, 'counter' = 2, 'gauge' = 3),
    labels Map(LowCardinality(String), String),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    value Float64 CODEC(Gorilla, ZSTD(1)),
    src_partition UInt16,
    src_offset UInt64 CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = {replicated}MergeTree
PARTITION BY toDate(ts)
ORDER BY (service, name, ts)
TTL toDateTime(ts) + INTERVAL {raw_ttl_days} DAY
