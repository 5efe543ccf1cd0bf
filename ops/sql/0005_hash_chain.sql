-- The tamper-evident hash chain (kanjo_auth::chain) beside every record:
--   hash = SHA-256(prev_hash || seq as 8 bytes big-endian || the record's canonical bytes),
-- where the canonical bytes are the packed encoding whose xxh3 is `checksum` (store/src/codec.rs),
-- and prev_hash is the previous record's hash (32 zero bytes for seq 1).
-- New records get both in their append transaction. Records written before this migration get
-- them from `kanjo migrate` itself, in the same transaction, right after this file (a Rust
-- backfill: SQL alone can't rebuild the canonical bytes); the store refuses to open while any
-- record lacks them. The partial index finds those records, and is empty ever after.
ALTER TABLE kanjo_log_record
    ADD COLUMN prev_hash bytea CHECK (octet_length(prev_hash) = 32),
    ADD COLUMN hash      bytea CHECK (octet_length(hash) = 32);

CREATE INDEX kanjo_log_record_unchained ON kanjo_log_record (seq) WHERE hash IS NULL;
