-- Records a stage rejected, kept for inspection with the reason. A replaying stage may send the
-- same letter twice: ReplacingMergeTree on the source position keeps one.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS deadletters {on_cluster}
(
    source_topic LowCardinality(String),
    source_partition UInt16,
    source_offset UInt64,
    stage LowCardinality(String),
    reason String,
    payload String CODEC(ZSTD(3)),
    at DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset UInt64
)
ENGINE = {replicated}ReplacingMergeTree
ORDER BY (source_topic, source_partition, source_offset, stage)
TTL toDateTime(at) + INTERVAL 30 DAY
