-- api_keys: the API keys, one row per key and change. The key itself is never stored: only its
-- SHA-256 (a key is 32 random bytes, so a plain hash cannot be reversed or guessed; no salt or slow
-- hash is needed as it would be for a password). Revoking a key writes its row again with revoked_at
-- set and a higher version; readers take the newest row per id (FINAL).
-- ORDER BY id: keys are listed and revoked by id; the API reads the whole (small) table into memory.
-- mutation: no
-- idempotent: yes
CREATE TABLE IF NOT EXISTS api_keys {on_cluster}
(
    id String,
    name String,
    scope LowCardinality(String),
    sha256 String,
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = {replicated}ReplacingMergeTree(version)
ORDER BY id
