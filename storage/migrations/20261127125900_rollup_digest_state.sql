-- Each window row also carries its digest as a ClickHouse t-digest state, computed at insert from
-- the centroids. Queries merge states (quantilesTDigestWeightedMerge) at ~14 us per row, where
-- folding ~1,000 centroid pairs per row into a digest costs ~20 us, and the tiers copy states
-- without re-reading centroids. Adding a MATERIALIZED column is a metadata change (old parts
-- compute it when read); no mutation runs.
-- mutation: no
-- idempotent: yes
ALTER TABLE rollups {on_cluster} ADD COLUMN IF NOT EXISTS digest AggregateFunction(quantilesTDigestWeighted(0.5), Float64, UInt32)
    MATERIALIZED arrayReduce('quantilesTDigestWeightedState(0.5)', centroid_means, centroid_weights)
