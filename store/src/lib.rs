//! Durable command log: one trait, SQLite and PostgreSQL implementations.
//!
//! The engine keeps its whole state in memory and persists only its inputs: each group-committed
//! batch is one [`LogRecord`], appended in one database transaction before any client is answered.
//! Restart replays every record in `seq` order. So a store must be durable on return, atomic per
//! record, ordered and gap-free. See `ARCHITECTURE-store.md` in this crate.

mod codec;
mod error;
mod migrations;
mod postgres;
mod record;
mod sqlite;
mod sqlite_checkpoint;
pub mod testdb;

use std::path::PathBuf;

pub use error::{ErrorClass, RecordError, StoreError};
pub use kanjo_auth::{
    ChainBreak, ChainError, ChainHead, ChainLink, ChainVerifier, chain_hash, verify_chain,
};
pub use kanjo_core::limits::{
    EntryError, LOG_ENTRIES_PER_RECORD_MAX, LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX,
    check_entry, check_entry_id,
};
pub use migrations::{PG_MIGRATIONS, PgMigration};
pub use postgres::PgStore;
pub use record::{EntryKind, LogEntry, LogRecord, StoredLink};
pub use sqlite::{SQLITE_FILE_NAME, SqliteStore};

// The log's limits are the engine's input limits: parsers check every one of them with
// `check_entry_id` / `check_entry` before an input can reach a batch, and compile-time asserts
// beside each parser's own limit keep the two sets from drifting apart.

/// Decodes a log record's payload (its content without the seq) as both stores read it back: a
/// damaged payload is an error, never a panic. Public for the fuzz target and its corpus replay.
pub fn decode_payload(seq: u64, payload: &[u8]) -> Result<LogRecord, String> {
    codec::decode(seq, payload)
}

/// The payload bytes of a valid record: what SQLite stores and the hash chain hashes.
pub fn encode_payload(record: &LogRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(codec::encoded_len(record));
    codec::encode(record, &mut out);
    out
}

/// Longest meta key, in UTF-8 bytes.
pub const META_KEY_BYTES_MAX: usize = 128;
/// Largest meta value, in UTF-8 bytes.
pub const META_VALUE_BYTES_MAX: usize = 64 * 1024;

/// A durable, ordered, gap-free command log plus a small key/value meta table.
///
/// All methods are blocking: call them from a dedicated thread or `tokio::task::spawn_blocking`,
/// never from an async task. The PostgreSQL store drives its own tokio runtime internally.
pub trait Store: Send {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Highest stored seq; 0 when the log is empty.
    fn last_seq(&mut self) -> Result<u64, StoreError>;
    /// One transaction; durable when it returns Ok. `record.seq` must be `last_seq()+1`, else
    /// `StoreError::OutOfOrder`. Re-appending a seq that exists with identical content is Ok (a
    /// retry after an unknown commit outcome); with different content it is `StoreError::Conflict`.
    /// An invalid record (`StoreError::InvalidRecord`) is rejected before anything is written.
    fn append(&mut self, record: &LogRecord) -> Result<(), StoreError>;
    /// Consecutive records, durable on return: what the commit thread uses when several records
    /// wait, so they can share one commit (SQLite: one transaction for all). The default appends
    /// them one by one; each record is atomic either way, and a retry is idempotent.
    fn append_many(&mut self, records: &[LogRecord]) -> Result<(), StoreError> {
        records.iter().try_for_each(|record| self.append(record))
    }
    /// Records with seq >= from_seq, ascending, at most max_records (replay pages through this
    /// until it gets an empty page). The caller bounds memory with `max_records`.
    fn read(&mut self, from_seq: u64, max_records: usize) -> Result<Vec<LogRecord>, StoreError>;
    /// The stored links (seq, hashes, canonical bytes) with seq >= from_seq, ascending, at most
    /// max_records, for `kanjo verify`. Unlike `read`, this checks nothing (no checksum, no gaps),
    /// so that the chain verifier, not the store, names a damaged, missing or moved record.
    fn read_links(
        &mut self,
        from_seq: u64,
        max_records: usize,
    ) -> Result<Vec<StoredLink>, StoreError>;
    /// The last record's seq and hash ([`ChainHead::GENESIS`] for an empty log), for a town to
    /// publish. Reads the stored hash; `kanjo verify` checks that the chain reaches it.
    fn chain_head(&mut self) -> Result<ChainHead, StoreError> {
        let last = self.last_seq()?;
        if last == 0 {
            return Ok(ChainHead::GENESIS);
        }
        self.chain_head_at(last)
    }
    /// Record `seq`'s hash as stored: the head of the log as it was when `seq` was the last.
    fn chain_head_at(&mut self, seq: u64) -> Result<ChainHead, StoreError> {
        if seq == 0 {
            return Ok(ChainHead::GENESIS);
        }
        let links = self.read_links(seq, 1)?;
        match links.first() {
            Some(link) if link.seq == seq => match link.hash {
                Some(hash) => Ok(ChainHead { seq, hash }),
                None => Err(StoreError::Corrupt {
                    backend: self.backend(),
                    seq,
                    reason: "its stored hash is missing or not 32 bytes".into(),
                }),
            },
            _ => Err(StoreError::Corrupt {
                backend: self.backend(),
                seq,
                reason: "missing".into(),
            }),
        }
    }
    /// The value stored under `key`, if any.
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key` (insert or replace); durable when it returns Ok.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Keeps a programme version's source under its digest (32 hex digits), durable on return,
    /// before any log entry names it. The same digest again with the same bytes is Ok; with
    /// other bytes it is `StoreError::Conflict`-like `Corrupt` (two sources can't share a digest).
    fn put_source(&mut self, digest: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// The source stored under `digest`, if any.
    fn source(&mut self, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// For correctness checks (load test, crash test): how many entries of this kind are stored.
    fn count_entries(&mut self, kind: EntryKind) -> Result<u64, StoreError>;
    /// Makes this store the log's only writer until it is dropped, or fails with `InUse`. Two
    /// writers would race for the next seq, and the loser would have to stop.
    fn claim_writer(&mut self) -> Result<(), StoreError>;
    /// After a transient failure (`StoreError::class`): drops broken connections, connects
    /// again, and takes the writer claim again if this store held it and lost it. `InUse` here
    /// may be the old session still ending, or another writer: the caller decides by the log.
    fn reconnect(&mut self) -> Result<(), StoreError>;
}

/// Where the log lives.
#[derive(Clone, Debug)]
pub enum StoreTarget {
    /// `<data_dir>/kanjo.sqlite`, created on open.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database with the migrations of `ops/sql` applied (`kanjo migrate`).
    Postgres { url: String },
}

/// Opens the log. SQLite creates the directory, file and schema; PostgreSQL requires the
/// migrations to be applied already and says so (`StoreError::SchemaNotMigrated`) otherwise.
pub fn open(target: &StoreTarget) -> Result<Box<dyn Store>, StoreError> {
    match target {
        StoreTarget::Sqlite { data_dir } => Ok(Box::new(SqliteStore::open(data_dir)?)),
        StoreTarget::Postgres { url } => Ok(Box::new(PgStore::open(url)?)),
    }
}

/// Brings the schema up to date; returns the names of the migrations applied now (empty when
/// it already was). Safe to run concurrently and repeatedly.
pub fn migrate(target: &StoreTarget) -> Result<Vec<String>, StoreError> {
    match target {
        StoreTarget::Sqlite { data_dir } => SqliteStore::migrate(data_dir),
        StoreTarget::Postgres { url } => postgres::migrate(url),
    }
}

/// Largest programme source the store keeps (`kanjo_rules::PROGRAMME_SOURCE_BYTES_MAX`).
pub const SOURCE_BYTES_MAX: usize = 512 * 1024 * 1024;

fn validate_source(digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let digest_ok = digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    if !digest_ok || bytes.len() > SOURCE_BYTES_MAX {
        return Err(StoreError::InvalidMeta {
            key: digest.chars().take(META_KEY_BYTES_MAX).collect(),
            reason: "a programme source needs a 32-hex-digit digest and at most 512 MiB",
        });
    }
    Ok(())
}

fn same_source(
    backend: &'static str,
    digest: &str,
    stored: &[u8],
    bytes: &[u8],
) -> Result<(), StoreError> {
    if stored == bytes {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        backend,
        seq: 0,
        reason: format!("programme source {digest} is stored with other bytes"),
    })
}

fn validate_meta(key: &str, value: Option<&str>) -> Result<(), StoreError> {
    let key_ok = !key.is_empty() && key.len() <= META_KEY_BYTES_MAX && !key.contains('\0');
    if !key_ok {
        return Err(StoreError::InvalidMeta {
            key: key.chars().take(META_KEY_BYTES_MAX).collect(),
            reason: "key must be 1..=128 bytes without NUL",
        });
    }
    if let Some(value) = value
        && (value.len() > META_VALUE_BYTES_MAX || value.contains('\0'))
    {
        return Err(StoreError::InvalidMeta {
            key: key.to_owned(),
            reason: "value must be at most 64 KiB without NUL",
        });
    }
    Ok(())
}
