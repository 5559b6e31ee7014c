-- Centroid weights are whole counts: stores created before 20261127120100 declared them UInt32
-- kept them as Array(Float64); ClickHouse's weighted quantiles need unsigned integers. On a store
-- that already has UInt32 this is a no-op.
-- mutation: yes
-- idempotent: yes
ALTER TABLE rollups {on_cluster} MODIFY COLUMN centroid_weights Array(UInt32) CODEC(ZSTD(3))
