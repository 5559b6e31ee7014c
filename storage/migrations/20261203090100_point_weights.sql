-- A raw point may stand for several observations (an OTLP histogram bucket is one value with its
-- count): weight is how many. Points stored before it count once.
-- mutation: no
-- idempotent: yes
ALTER TABLE points {on_cluster}
    ADD COLUMN IF NOT EXISTS weight UInt32 DEFAULT 1 CODEC(T64, ZSTD(1)) AFTER value
