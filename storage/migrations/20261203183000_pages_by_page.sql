-- Percentile queries read only the pages that hold their ranks (storage/queries.py): first every
-- page's total, then the slot counts of the one page per level that holds the rank.
-- 1. rollups.page_totals: each page's total, beside pages/page_counts, so the first step reads a
--    few numbers per window row instead of decoding its slot counts.
-- 2. rollup_pages_1m_by_page / rollup_pages_1h_by_page: the tiers' pages ordered by page before
--    time, with granules of 256 rows, so the second step reads the granules of the pages it needs
--    (rollup_pages_1m kept a series' pages side by side in granules of ~2,700 rows: every query
--    decoded every page of its range, 6,590 page states of 10M points in ~32 ms). total is the
--    page's observations, summed by the merges as counts are. The sink fills these from now on;
--    rollup_pages_1m / rollup_pages_1h stay as they were, no longer filled, and their rows are
--    copied here once (skipped when the new table already holds rows: a second run copies nothing).
-- mutation: yes
-- idempotent: yes
ALTER TABLE rollups {on_cluster}
    ADD COLUMN IF NOT EXISTS page_totals Array(UInt64) MATERIALIZED arrayMap(c -> arraySum(c), page_counts)
    CODEC(T64, LZ4) AFTER page_counts;
ALTER TABLE rollups {on_cluster} MATERIALIZE COLUMN page_totals;

CREATE TABLE IF NOT EXISTS rollup_pages_1m_by_page {on_cluster} AS rollup_pages_1m
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (name, page, service, window_start, toString(labels), src_partition)
TTL toDateTime(window_start) + INTERVAL {tier_1m_ttl_days} DAY
SETTINGS index_granularity = 256;

ALTER TABLE rollup_pages_1m_by_page {on_cluster}
    ADD COLUMN IF NOT EXISTS total SimpleAggregateFunction(sum, UInt64) AFTER page;

CREATE TABLE IF NOT EXISTS rollup_pages_1h_by_page {on_cluster} AS rollup_pages_1m_by_page
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYear(window_start)
ORDER BY (name, page, service, window_start, toString(labels), src_partition)
TTL toDateTime(window_start) + INTERVAL {tier_1h_ttl_days} DAY
SETTINGS index_granularity = 256;

INSERT INTO rollup_pages_1m_by_page (name, service, labels, window_start, src_partition, page, total, counts, kafka_offset)
SELECT name, service, labels, window_start, src_partition, page, arraySum(finalizeAggregation(counts)), counts,
       kafka_offset
FROM rollup_pages_1m
WHERE (SELECT count() FROM rollup_pages_1m_by_page) = 0;

INSERT INTO rollup_pages_1h_by_page (name, service, labels, window_start, src_partition, page, total, counts, kafka_offset)
SELECT name, service, labels, window_start, src_partition, page, arraySum(finalizeAggregation(counts)), counts,
       kafka_offset
FROM rollup_pages_1h
WHERE (SELECT count() FROM rollup_pages_1h_by_page) = 0
