-- One row per series per window (plus correction rows for late points), as the stream stage emits
-- them. Percentiles come from merging the stored t-digest centroids (a weighted quantile over the
-- union of every row's centroids, computed by ClickHouse), never from stored percentiles.
-- Centroid weights are whole counts, hence UInt32.
-- ORDER BY fits /api/v1/query: a metric name, optionally a service, a time range.
-- (src_partition, src_tick, src_chunk) identifies the emission; the sink skips replayed ones.
-- kafka_offset is the rollups-topic position the sink resumes after.
-- Granules of at most 1 MiB (ClickHouse's default is 10 MiB): a row carries its histogram's pages
-- (~12-18 KB uncompressed), so the default's ~600-row granules made a read of a few windows decode
-- hundreds of rows per service. ClickHouse fixes granularity at a table's creation: a store created
-- before this setting keeps 10 MiB granules (README, Percentiles: how to convert one by hand).
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS rollups {on_cluster}
(
    name LowCardinality(String),
    service LowCardinality(String),
    kind Enum8('distribution' = 1, 'counter' = 2, 'gauge' = 3),
    labels Map(LowCardinality(String), String),
    window_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    window_ms UInt32 CODEC(ZSTD(1)),
    count UInt64 CODEC(T64, ZSTD(1)),
    sum Float64 CODEC(Gorilla, ZSTD(1)),
    min Float64 CODEC(Gorilla, ZSTD(1)),
    max Float64 CODEC(Gorilla, ZSTD(1)),
    centroid_means Array(Float64) CODEC(ZSTD(3)),
    centroid_weights Array(UInt32) CODEC(ZSTD(3)),
    late Bool,
    src_partition UInt16,
    src_tick UInt64 CODEC(DoubleDelta, ZSTD(1)),
    src_chunk UInt32,
    kafka_offset UInt64 CODEC(DoubleDelta, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (name, service, window_start)
TTL toDateTime(window_start) + INTERVAL {rollup_ttl_days} DAY
SETTINGS index_granularity_bytes = 1048576
