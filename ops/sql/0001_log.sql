-- kanjo command log: one header row per group-committed batch, one row per entry.
-- Applied by `kanjo migrate` (embedded in the binary), recorded in kanjo_schema_migrations.
-- Entries are written only by binary COPY in the same transaction as their header, so there is
-- no foreign key, and entry limits are checked by the store before writing (a checksum in the
-- header catches any later edit): per-row FK triggers and CHECKs cost ~25% of COPY throughput.

CREATE TABLE kanjo_log_record (
    seq         bigint      PRIMARY KEY CHECK (seq >= 1),
    clock_ns    bigint      NOT NULL CHECK (clock_ns >= 0),
    entry_count integer     NOT NULL CHECK (entry_count BETWEEN 0 AND 8190),
    -- xxh3_64 (seed = seq) of the record's packed encoding, as i64 bits; verified on read.
    checksum    bigint      NOT NULL,
    -- For clerks only; not part of the record's content.
    appended_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kanjo_log_entry (
    seq   bigint   NOT NULL,
    idx   integer  NOT NULL, -- 0-based position in the record
    kind  smallint NOT NULL, -- 1 event, 2 rider
    id    text     NOT NULL, -- idempotency id, 1..=128 bytes
    body  bytea    NOT NULL, -- canonical JSON, at most 16 KiB
    PRIMARY KEY (seq, idx)
);

CREATE TABLE kanjo_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
