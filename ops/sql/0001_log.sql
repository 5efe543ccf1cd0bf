-- kanjo command log: one header row per group-committed batch, one row per entry.
-- Applied by `kanjo migrate` (embedded in the binary), recorded in kanjo_schema_migrations.
-- Entries are written only by binary COPY in the same transaction as their header, so there is
-- no foreign key: a per-row FK trigger would cost more than the COPY itself.

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
    idx   integer  NOT NULL CHECK (idx BETWEEN 0 AND 8189),
    kind  smallint NOT NULL CHECK (kind IN (1, 2)), -- 1 event, 2 rider
    id    text     NOT NULL CHECK (octet_length(id) BETWEEN 1 AND 128),
    body  bytea    NOT NULL CHECK (octet_length(body) <= 16384), -- canonical JSON
    PRIMARY KEY (seq, idx)
);

CREATE TABLE kanjo_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
