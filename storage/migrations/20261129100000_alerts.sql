-- Alerting: the history of alert transitions (written by the sink from the alerts topic), the
-- notifier's delivery attempts, and the notifier's saved state (both written by the notifier in the
-- API process).
--
-- alert_history: one row per transition. The API's questions decide the layout:
-- 1. the history of a rule, or of one alert of it, newest first: ORDER BY (rule, fingerprint, at)
--    (a fingerprint belongs to one rule: it hashes the labels, alertname included), read in reverse;
-- 2. one alert without its rule (the attempts page links to it): a bloom filter on fingerprint;
-- 3. everything in a time range: monthly partitions and a minmax index on at.
-- (src_partition, tick_offset, seq) is the stream stage's identity of the emission: the sink skips
-- replayed ones (at or below the highest identity stored per partition) and resumes after the
-- highest kafka_offset stored per partition; unique per row, it breaks ties in the newest-first
-- keyset pagination.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS alert_history {on_cluster}
(
    at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    rule LowCardinality(String),
    fingerprint String CODEC(ZSTD(1)),
    labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    group Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    severity LowCardinality(String),
    state LowCardinality(String),
    previous LowCardinality(String),
    value Nullable(Float64) CODEC(Gorilla, ZSTD(1)),
    annotations Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    active_at Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    fired_at Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    resolved_at Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    channels Array(LowCardinality(String)),
    src_partition UInt16,
    tick_offset UInt64 CODEC(DoubleDelta, ZSTD(1)),
    seq UInt32 CODEC(T64, ZSTD(1)),
    kafka_offset UInt64 CODEC(DoubleDelta, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1)),
    INDEX idx_fingerprint fingerprint TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_at at TYPE minmax GRANULARITY 1
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (rule, fingerprint, at)
TTL toDateTime(at) + INTERVAL {alert_history_ttl_days} DAY;

-- notification_attempts: one row per delivery attempt per alert of the notification (a
-- notification carries a group of alerts; the API asks "what became of this alert's
-- notifications"). target is redacted to scheme://host:port and error is free of secrets (the
-- notifier masks them before anything is recorded). dead_lettered: the attempt ended its
-- notification undelivered (a permanent failure, or the last attempt failed).
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS notification_attempts {on_cluster}
(
    at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    fingerprint String CODEC(ZSTD(1)),
    rule LowCardinality(String),
    channel LowCardinality(String),
    notification_id String CODEC(ZSTD(1)),
    group_key String CODEC(ZSTD(1)),
    target LowCardinality(String),
    number UInt16,
    duration_ms UInt32 CODEC(T64, ZSTD(1)),
    outcome LowCardinality(String),
    status_code Nullable(UInt16),
    error String CODEC(ZSTD(3)),
    next_delay_ms Nullable(UInt32),
    dead_lettered Bool
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (fingerprint, at)
TTL toDateTime(at) + INTERVAL {alert_history_ttl_days} DAY;

-- notifier_state: the notifier's state (alerts, aggregation groups, notification log, silences,
-- dead letters) with the alerts-topic frontier and position per partition it reflects, as one JSON
-- document per save. One row per save; the newest version of a name wins (ReplacingMergeTree
-- folds the older ones away; readers take max(version), so correctness never waits for a merge).
-- No TTL: the newest row must outlive any quiet period.
-- On a cluster the engine is ReplicatedReplacingMergeTree(version): without a ZooKeeper path and replica
-- name it takes the server's default_replica_path and default_replica_name (storage/migrate.py).
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS notifier_state {on_cluster}
(
    name String,
    version UInt64,
    saved_at DateTime64(3, 'UTC') DEFAULT now64(3),
    state String CODEC(ZSTD(3))
)
ENGINE = {replicated}ReplacingMergeTree(version)
ORDER BY name
