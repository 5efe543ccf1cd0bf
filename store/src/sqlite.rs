//! Embedded store: one SQLite file, one row per record holding the packed, checksummed payload.
//!
//! WAL with `synchronous=FULL` fsyncs the WAL on every commit, so a record is durable when
//! `append` returns; a row is written in one transaction, so a crash leaves all of it or nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::record::hash_from_column;
use super::sqlite_checkpoint::Checkpointer;
use super::{
    ChainHead, EntryKind, LogRecord, RecordError, Store, StoreError, StoredLink, codec,
    same_source, validate_meta, validate_source,
};

/// The log file inside the data directory.
pub const SQLITE_FILE_NAME: &str = "kanjo.sqlite";

const BACKEND: &str = "sqlite";
/// "KANJ": marks the file as a kanjo log so a stray database is never written into.
const APPLICATION_ID: i64 = 0x4B41_4E4A;
const SCHEMA_VERSION: i64 = 3;
const SCHEMA_V1_NAME: &str = "sqlite-0001-log";
const SCHEMA_V2_NAME: &str = "sqlite-0002-hash-chain";
const SCHEMA_V3_NAME: &str = "sqlite-0003-programme-sources";
/// Programme versions' sources, by digest (issue 12); as `ops/sql/0006_programme_sources.sql`.
const SOURCES_TABLE_SQL: &str = "
    CREATE TABLE IF NOT EXISTS kanjo_programme_source (
        digest TEXT PRIMARY KEY CHECK (length(digest) = 32),
        bytes  BLOB NOT NULL
    ) STRICT, WITHOUT ROWID;
";
/// The log table as of schema v2, under `name`: the chain's hashes sit before the payload, so
/// reading the last record's hash (every append does) never touches its overflow pages.
fn log_table_sql(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
            seq         INTEGER PRIMARY KEY CHECK (seq >= 1),
            clock_ns    INTEGER NOT NULL CHECK (clock_ns >= 0),
            event_count INTEGER NOT NULL CHECK (event_count >= 0),
            rider_count INTEGER NOT NULL CHECK (rider_count >= 0),
            checksum    INTEGER NOT NULL, -- xxh3_64(payload, seed = seq), as i64 bits
            -- the hash chain (kanjo_auth::chain): SHA-256(prev_hash || seq BE || payload)
            prev_hash   BLOB NOT NULL CHECK (length(prev_hash) = 32),
            hash        BLOB NOT NULL CHECK (length(hash) = 32),
            payload     BLOB NOT NULL     -- last, so header scans skip its overflow pages
        ) STRICT;"
    )
}
const META_TABLE_SQL: &str = "
    CREATE TABLE kanjo_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
";

/// Large pages: a record is ~1.2 MB, so fewer overflow pages per row means fewer page headers
/// and B-tree writes. Only takes effect when the file is created.
const PAGE_BYTES: i64 = 65536;
/// When the WAL restarts, truncate its file to at most this size.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// Another process holding the write lock (e.g. `sqlite3` shell) is waited for this long.
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Cached prepared statements: the handful this module uses.
const STATEMENT_CACHE_CAPACITY: usize = 16;

pub struct SqliteStore {
    path: PathBuf,
    conn: Connection,
    checkpointer: Checkpointer,
    /// Reused across appends so the payload is encoded without reallocating.
    payload: Vec<u8>,
    /// `<data_dir>/kanjo.lock`, locked while this store is the writer.
    writer_lock: Option<std::fs::File>,
}

/// The file whose exclusive lock marks the one writer of a data directory.
pub const WRITER_LOCK_FILE_NAME: &str = "kanjo.lock";

impl SqliteStore {
    /// Opens `<data_dir>/kanjo.sqlite`, creating the directory, the file and the schema.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore::open_and_migrate(data_dir)?.0)
    }

    pub(crate) fn migrate(data_dir: &Path) -> Result<Vec<String>, StoreError> {
        Ok(SqliteStore::open_and_migrate(data_dir)?.1)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_and_migrate(data_dir: &Path) -> Result<(SqliteStore, Vec<String>), StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_owned(),
            context: "creating the data directory",
            source,
        })?;
        let path = data_dir.join(SQLITE_FILE_NAME);
        let mut conn = Connection::open(&path).map_err(sq(&path, "opening"))?;
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(sq(&path, "busy_timeout"))?;
        // Takes effect only while the file is empty, i.e. before the schema is created.
        conn.pragma_update(None, "page_size", PAGE_BYTES)
            .map_err(sq(&path, "page_size"))?;
        // Before any setting that persists in the file, so a foreign database is left untouched.
        let applied = ensure_schema(&path, &mut conn)?;
        let journal_mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sq(&path, "journal_mode=WAL"))?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::SqliteNoWal { path, journal_mode });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sq(&path, "synchronous=FULL"))?;
        // Checkpoints run on a background thread (sqlite_checkpoint.rs), not in commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sq(&path, "wal_autocheckpoint"))?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES)
            .map_err(sq(&path, "journal_size_limit"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);

        let checkpointer = Checkpointer::start(&path)?;
        let store = SqliteStore {
            path,
            conn,
            checkpointer,
            payload: Vec::new(),
            writer_lock: None,
        };
        Ok((store, applied))
    }

    fn corrupt(seq: u64, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            backend: BACKEND,
            seq,
            reason: reason.into(),
        }
    }
}

/// Creates the schema in an empty file, upgrades an older kanjo file in place; refuses foreign
/// or newer files.
fn ensure_schema(path: &Path, conn: &mut Connection) -> Result<Vec<String>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sq(path, "begin schema transaction"))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sq(path, "user_version"))?;
    let application_id: i64 = tx
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(sq(path, "application_id"))?;
    if version == 0 {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(sq(path, "reading sqlite_schema"))?;
        if tables != 0 || (application_id != 0 && application_id != APPLICATION_ID) {
            return Err(StoreError::SqliteNotKanjo {
                path: path.to_owned(),
                application_id,
            });
        }
        tx.execute_batch(&(log_table_sql("kanjo_log") + META_TABLE_SQL + SOURCES_TABLE_SQL))
            .map_err(sq(path, "creating the schema"))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sq(path, "application_id"))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sq(path, "user_version"))?;
        tx.commit().map_err(sq(path, "commit the schema"))?;
        return Ok(vec![
            SCHEMA_V1_NAME.to_owned(),
            SCHEMA_V2_NAME.to_owned(),
            SCHEMA_V3_NAME.to_owned(),
        ]);
    }
    if application_id != APPLICATION_ID {
        return Err(StoreError::SqliteNotKanjo {
            path: path.to_owned(),
            application_id,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::SqliteSchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let mut applied = Vec::new();
    if version == 1 {
        upgrade_v1_to_v2(path, &tx)?;
        applied.push(SCHEMA_V2_NAME.to_owned());
    }
    if version <= 2 {
        tx.execute_batch(SOURCES_TABLE_SQL)
            .map_err(sq(path, "creating the programme source table"))?;
        applied.push(SCHEMA_V3_NAME.to_owned());
    }
    if !applied.is_empty() {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sq(path, "user_version"))?;
        tx.commit().map_err(sq(path, "commit the schema upgrade"))?;
    }
    Ok(applied)
}

/// Schema v1 to v2 in the caller's transaction: copies the log into a table with the chain's
/// columns, computing the chain over each record's payload after checking its checksum (a
/// damaged record is refused, never chained as if it were intact), then replaces the old table.
/// All or nothing: a failure leaves the file at v1.
fn upgrade_v1_to_v2(path: &Path, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(&log_table_sql("kanjo_log_v2"))
        .map_err(sq(path, "creating the v2 log table"))?;
    let mut select = tx
        .prepare(
            "SELECT seq, clock_ns, event_count, rider_count, checksum, payload
             FROM kanjo_log ORDER BY seq",
        )
        .map_err(sq(path, "reading the v1 log"))?;
    let mut insert = tx
        .prepare(
            "INSERT INTO kanjo_log_v2
                 (seq, clock_ns, event_count, rider_count, checksum, prev_hash, hash, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(sq(path, "preparing the v2 insert"))?;
    let mut rows = select.query([]).map_err(sq(path, "reading the v1 log"))?;
    let mut head = ChainHead::GENESIS;
    while let Some(row) = rows.next().map_err(sq(path, "reading the v1 log"))? {
        let seq = row.get::<_, i64>(0).map_err(sq(path, "reading seq"))? as u64;
        if seq != head.seq + 1 {
            return Err(SqliteStore::corrupt(head.seq + 1, "missing in the v1 log"));
        }
        let checksum: i64 = row.get(4).map_err(sq(path, "reading checksum"))?;
        let payload = row.get_ref(5).map_err(sq(path, "reading payload"))?;
        let payload = payload
            .as_blob()
            .map_err(|_| SqliteStore::corrupt(seq, "payload is not a blob"))?;
        if codec::checksum(seq, payload) != checksum as u64 {
            return Err(SqliteStore::corrupt(seq, "payload checksum mismatch"));
        }
        let next = head.next(payload);
        insert
            .execute(params![
                row.get::<_, i64>(0).map_err(sq(path, "reading seq"))?,
                row.get::<_, i64>(1).map_err(sq(path, "reading clock_ns"))?,
                row.get::<_, i64>(2)
                    .map_err(sq(path, "reading event_count"))?,
                row.get::<_, i64>(3)
                    .map_err(sq(path, "reading rider_count"))?,
                checksum,
                &head.hash[..],
                &next.hash[..],
                payload,
            ])
            .map_err(sq(path, "copying a record into the v2 log"))?;
        head = next;
    }
    drop(rows);
    drop(select);
    drop(insert);
    tx.execute_batch("DROP TABLE kanjo_log; ALTER TABLE kanjo_log_v2 RENAME TO kanjo_log;")
        .map_err(sq(path, "replacing the v1 log table"))?;
    tracing::info!(path = %path.display(), records = head.seq, head = %head, "upgraded the log to schema v2 (hash chain)");
    Ok(())
}

fn sq<'a>(
    path: &'a Path,
    context: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        context,
        source,
    }
}

fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).expect("validated: seq fits i64")
}

fn last_seq_in(conn: &Connection, path: &Path) -> Result<u64, StoreError> {
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM kanjo_log")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(sq(path, "reading last seq"))?;
    assert!(last >= 0, "seq column has a CHECK (seq >= 1)");
    Ok(last as u64)
}

/// The last record's seq and stored hash, read in the caller's transaction: what the next append
/// is chained to.
fn head_in(conn: &Connection, path: &Path) -> Result<ChainHead, StoreError> {
    let last = conn
        .prepare_cached("SELECT seq, hash FROM kanjo_log ORDER BY seq DESC LIMIT 1")
        .and_then(|mut statement| {
            statement
                .query_row([], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .optional()
        })
        .map_err(sq(path, "reading the chain head"))?;
    let Some((seq, hash)) = last else {
        return Ok(ChainHead::GENESIS);
    };
    let seq = seq as u64; // CHECK (seq >= 1)
    let hash = hash_from_column(Some(&hash))
        .ok_or_else(|| SqliteStore::corrupt(seq, "its stored hash is not 32 bytes"))?;
    Ok(ChainHead { seq, hash })
}

/// Stored links with seq >= from_seq, nothing checked (see `Store::read_links`).
fn read_links_in(
    conn: &Connection,
    path: &Path,
    from_seq: u64,
    max_records: usize,
) -> Result<Vec<StoredLink>, StoreError> {
    let from_column = i64::try_from(from_seq.max(1)).unwrap_or(i64::MAX);
    let limit = i64::try_from(max_records).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, prev_hash, hash, payload FROM kanjo_log
             WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(sq(path, "preparing the link read"))?;
    let mut rows = statement
        .query(params![from_column, limit])
        .map_err(sq(path, "reading links"))?;
    let mut links = Vec::new();
    while let Some(row) = rows.next().map_err(sq(path, "reading links"))? {
        let seq: i64 = row.get(0).map_err(sq(path, "reading seq"))?;
        let column = |index| {
            row.get_ref(index)
                .ok()
                .and_then(|value| value.as_blob().ok())
        };
        links.push(StoredLink {
            seq: seq as u64, // CHECK (seq >= 1)
            prev_hash: hash_from_column(column(1)),
            hash: hash_from_column(column(2)),
            // A payload that is not a blob (edited behind the store's back) hashes as empty.
            canonical_bytes: column(3).unwrap_or_default().to_vec(),
        });
    }
    debug_assert!(links.len() <= max_records);
    Ok(links)
}

/// Reads records with seq >= from_seq, verifying checksum, counts and gap-freedom.
fn read_in(
    conn: &Connection,
    path: &Path,
    from_seq: u64,
    max_records: usize,
) -> Result<Vec<LogRecord>, StoreError> {
    let mut records = Vec::new();
    if max_records == 0 {
        return Ok(records);
    }
    let from_seq = from_seq.max(1);
    let Ok(from_column) = i64::try_from(from_seq) else {
        return Ok(records); // past every storable seq
    };
    let limit = i64::try_from(max_records).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT seq, clock_ns, event_count, rider_count, checksum, payload
             FROM kanjo_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(sq(path, "preparing read"))?;
    let mut rows = statement
        .query(params![from_column, limit])
        .map_err(sq(path, "reading log"))?;
    let mut expected_seq = from_seq;
    while let Some(row) = rows.next().map_err(sq(path, "reading log"))? {
        let seq: i64 = row.get(0).map_err(sq(path, "reading seq"))?;
        let seq = seq as u64; // CHECK (seq >= 1)
        if seq != expected_seq {
            return Err(SqliteStore::corrupt(
                expected_seq,
                format!("missing; next stored is {seq}"),
            ));
        }
        let clock_ns: i64 = row.get(1).map_err(sq(path, "reading clock_ns"))?;
        let event_count: i64 = row.get(2).map_err(sq(path, "reading event_count"))?;
        let rider_count: i64 = row.get(3).map_err(sq(path, "reading rider_count"))?;
        let checksum: i64 = row.get(4).map_err(sq(path, "reading checksum"))?;
        let payload = row.get_ref(5).map_err(sq(path, "reading payload"))?;
        let payload = payload
            .as_blob()
            .map_err(|_| SqliteStore::corrupt(seq, "payload is not a blob"))?;
        if codec::checksum(seq, payload) != checksum as u64 {
            return Err(SqliteStore::corrupt(seq, "payload checksum mismatch"));
        }
        let record =
            codec::decode(seq, payload).map_err(|reason| SqliteStore::corrupt(seq, reason))?;
        let columns_agree = record.clock_ns == clock_ns as u64
            && record.count(EntryKind::Event) as i64 == event_count
            && record.count(EntryKind::Rider) as i64 == rider_count;
        if !columns_agree {
            return Err(SqliteStore::corrupt(
                seq,
                "header columns disagree with the payload",
            ));
        }
        records.push(record);
        expected_seq += 1;
    }
    debug_assert!(records.len() <= max_records);
    Ok(records)
}

impl SqliteStore {
    /// Counts entries of `kind` by reading every record, a page at a time.
    fn count_by_reading(&mut self, kind: EntryKind) -> Result<u64, StoreError> {
        const PAGE_RECORDS: usize = 64;
        let mut count = 0u64;
        let mut from_seq = 1;
        loop {
            let records = self.read(from_seq, PAGE_RECORDS)?;
            let Some(last) = records.last() else {
                return Ok(count);
            };
            from_seq = last.seq + 1;
            count += records
                .iter()
                .map(|record| record.count(kind) as u64)
                .sum::<u64>();
        }
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn claim_writer(&mut self) -> Result<(), StoreError> {
        if self.writer_lock.is_some() {
            return Ok(());
        }
        let lock_path = self.path.with_file_name(WRITER_LOCK_FILE_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Io {
                path: lock_path.clone(),
                context: "opening the writer lock",
                source,
            })?;
        // An OS lock: released by the kernel when the process dies, so a SIGKILL leaves none behind.
        match file.try_lock() {
            Ok(()) => {
                self.writer_lock = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
                what: format!("the embedded store {}", self.path.display()),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io {
                path: lock_path,
                context: "locking the writer lock",
                source,
            }),
        }
    }

    /// Nothing to redo: the connection outlives a failed transaction (SQLite rolls it back), and
    /// the writer claim is an OS lock on a file this process keeps open, which can't be lost.
    fn reconnect(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        last_seq_in(&self.conn, &self.path)
    }

    fn append(&mut self, record: &LogRecord) -> Result<(), StoreError> {
        self.append_many(std::slice::from_ref(record))
    }

    /// Every record in one transaction: one fsync for all of them.
    fn append_many(&mut self, records: &[LogRecord]) -> Result<(), StoreError> {
        for record in records {
            record
                .validate()
                .map_err(|source: RecordError| StoreError::InvalidRecord {
                    seq: record.seq,
                    source,
                })?;
        }
        // IMMEDIATE takes the write lock first, so the seq check and the insert can't interleave
        // with another writer.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sq(&self.path, "begin append"))?;
        // Inside the write transaction: the head can't move before this append commits.
        let mut head = head_in(&tx, &self.path)?;
        let mut inserted_any = false;
        for record in records {
            if record.seq <= head.seq {
                let stored = read_in(&tx, &self.path, record.seq, 1)?;
                let Some(stored) = stored.first() else {
                    return Err(SqliteStore::corrupt(
                        record.seq,
                        "missing below the last seq",
                    ));
                };
                if *stored == *record {
                    continue; // retry of a committed append: nothing to write
                }
                return Err(StoreError::Conflict {
                    backend: BACKEND,
                    seq: record.seq,
                });
            }
            if record.seq != head.seq + 1 {
                return Err(StoreError::OutOfOrder {
                    backend: BACKEND,
                    expected_seq: head.seq + 1,
                    got_seq: record.seq,
                });
            }
            self.payload.clear();
            codec::encode(record, &mut self.payload);
            let checksum = codec::checksum(record.seq, &self.payload);
            let next = head.next(&self.payload);
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO kanjo_log
                         (seq, clock_ns, event_count, rider_count, checksum, prev_hash, hash, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        seq_column(record.seq),
                        seq_column(record.clock_ns),
                        record.count(EntryKind::Event) as i64,
                        record.count(EntryKind::Rider) as i64,
                        checksum as i64,
                        &head.hash[..],
                        &next.hash[..],
                        &self.payload[..],
                    ])
                })
                .map_err(sq(&self.path, "inserting record"))?;
            assert_eq!(inserted, 1);
            assert_eq!(next.seq, record.seq);
            head = next;
            inserted_any = true;
        }
        if !inserted_any {
            return Ok(()); // only retries; the transaction rolls back, nothing written
        }
        tx.commit().map_err(sq(&self.path, "commit append"))?;
        self.checkpointer.nudge();
        if self.checkpointer.wal_too_large() {
            // The background thread fell behind: restart the WAL now (waits for that thread).
            // The records are already durable, so a failure here is only a warning.
            let restarted = self
                .conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
            if let Err(error) = restarted {
                tracing::warn!(path = %self.path.display(), %error, "sqlite inline checkpoint failed");
            }
        }
        Ok(())
    }

    fn read(&mut self, from_seq: u64, max_records: usize) -> Result<Vec<LogRecord>, StoreError> {
        read_in(&self.conn, &self.path, from_seq, max_records)
    }

    fn read_links(
        &mut self,
        from_seq: u64,
        max_records: usize,
    ) -> Result<Vec<StoredLink>, StoreError> {
        read_links_in(&self.conn, &self.path, from_seq, max_records)
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        validate_meta(key, None)?;
        self.conn
            .prepare_cached("SELECT value FROM kanjo_meta WHERE key = ?1")
            .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
            .map_err(sq(&self.path, "reading meta"))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        validate_meta(key, Some(value))?;
        self.conn
            .prepare_cached(
                "INSERT INTO kanjo_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut statement| statement.execute([key, value]))
            .map_err(sq(&self.path, "writing meta"))?;
        Ok(())
    }

    fn put_source(&mut self, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
        validate_source(digest, bytes)?;
        if let Some(stored) = self.source(digest)? {
            return same_source(BACKEND, digest, &stored, bytes);
        }
        self.conn
            .prepare_cached("INSERT INTO kanjo_programme_source (digest, bytes) VALUES (?1, ?2)")
            .and_then(|mut statement| statement.execute(rusqlite::params![digest, bytes]))
            .map_err(sq(&self.path, "writing a programme source"))?;
        Ok(())
    }

    fn source(&mut self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .prepare_cached("SELECT bytes FROM kanjo_programme_source WHERE digest = ?1")
            .and_then(|mut statement| statement.query_row([digest], |row| row.get(0)).optional())
            .map_err(sq(&self.path, "reading a programme source"))
    }

    fn count_entries(&mut self, kind: EntryKind) -> Result<u64, StoreError> {
        let sql = match kind {
            EntryKind::Event => "SELECT COALESCE(SUM(event_count), 0) FROM kanjo_log",
            EntryKind::Rider => "SELECT COALESCE(SUM(rider_count), 0) FROM kanjo_log",
            // Shop and device-key records are rare and have no count column (the schema
            // predates them): read the log. Only correctness checks count entries.
            EntryKind::Shop
            | EntryKind::DeviceKey
            | EntryKind::Programme
            | EntryKind::Settlement
            | EntryKind::Payout
            | EntryKind::Reconciliation
            | EntryKind::Resolution
            | EntryKind::KeyChange => {
                return self.count_by_reading(kind);
            }
        };
        let count: i64 = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(sq(&self.path, "counting entries"))?;
        assert!(count >= 0, "counts have CHECK (>= 0)");
        Ok(count as u64)
    }
}
