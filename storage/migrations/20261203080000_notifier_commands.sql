-- notifier_commands: what the API asks of the notifier stage (create or expire a silence, redeliver a
-- dead letter), one row each. The notifier may run in another process: it polls this table and
-- applies each seq once, in order, recording what it applied in its saved state. seq is chosen by
-- the API (epoch microseconds plus a random part), so API processes never collide.
-- ORDER BY at: the notifier reads the commands queued since its newest applied one.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS notifier_commands {on_cluster}
(
    seq UInt64,
    kind LowCardinality(String),
    body String CODEC(ZSTD(1)),
    at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = {replicated}MergeTree
ORDER BY (at, seq)
TTL toDateTime(at) + INTERVAL 7 DAY
