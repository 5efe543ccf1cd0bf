//! PostgreSQL store: a header row per record plus its entries written by binary COPY, both in
//! one transaction (`synchronous_commit` stays on, so commit means durable).
//!
//! The `Store` trait is blocking; this store owns a small current-thread tokio runtime and blocks
//! on it. Never call it from an async task (it would stall that executor thread); call it from
//! a dedicated thread or `spawn_blocking`. Tokio refuses to nest runtimes even there, so inside
//! any tokio context the work runs on a scoped helper thread.

use std::future::Future;
use std::pin::pin;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, NoTls};

use super::codec::EntryRow;
use super::error::redact_url;
use super::migrations::{
    HASH_CHAIN_MIGRATION, MIGRATION_LOCK_KEY, MIGRATIONS_TABLE_SQL, PG_MIGRATIONS,
};
use super::record::hash_from_column;
use super::{
    ChainHead, EntryKind, LogEntry, LogRecord, Store, StoreError, StoredLink, codec, same_source,
    validate_meta, validate_source,
};

const BACKEND: &str = "postgres";
/// The store is used by one writer thread; a second connection serves a read during a retry.
const POOL_CONNECTIONS_MAX: usize = 2;
const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Data sent and not acknowledged for this long closes the connection: a server that vanished
/// (network cut, failover) becomes an error the commit path recovers from, not a hang.
const TCP_USER_TIMEOUT_MS: u64 = 20_000;
const POOL_WAIT_TIMEOUT_MS: u64 = 30_000;

/// Inserts the header only when `seq` is the next one; 0 rows means "resolve why".
const INSERT_HEADER_SQL: &str = "
    INSERT INTO kanjo_log_record (seq, clock_ns, entry_count, checksum, prev_hash, hash)
    SELECT $1, $2, $3, $4, $5, $6
    WHERE $1 = (SELECT COALESCE(MAX(seq), 0) + 1 FROM kanjo_log_record)";
const COPY_ENTRIES_SQL: &str =
    "COPY kanjo_log_entry (seq, idx, kind, id, body) FROM STDIN (FORMAT binary)";
const COPY_ENTRIES_TYPES: [Type; 5] = [Type::INT8, Type::INT4, Type::INT2, Type::TEXT, Type::BYTEA];
/// The last record and its hash: what the next append is chained to.
const HEAD_SQL: &str = "SELECT seq, hash FROM kanjo_log_record ORDER BY seq DESC LIMIT 1";
const READ_LINK_HEADERS_SQL: &str = "
    SELECT seq, clock_ns, entry_count, prev_hash, hash FROM kanjo_log_record
    WHERE seq >= $1 ORDER BY seq LIMIT $2";
/// Records the migration to the chain left without hashes (a partial index finds them).
const FIRST_UNCHAINED_SQL: &str =
    "SELECT seq FROM kanjo_log_record WHERE hash IS NULL ORDER BY seq LIMIT 1";
/// Sets the hashes of a page of records at once (the backfill of `0005_hash_chain`).
const SET_HASHES_SQL: &str = "
    UPDATE kanjo_log_record AS r SET prev_hash = u.prev_hash, hash = u.hash
    FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS u(seq, prev_hash, hash)
    WHERE r.seq = u.seq";
/// Records chained per backfill round trip.
const BACKFILL_PAGE_RECORDS: usize = 256;
const LAST_SEQ_SQL: &str = "SELECT COALESCE(MAX(seq), 0) FROM kanjo_log_record";
const READ_HEADERS_SQL: &str = "
    SELECT seq, clock_ns, entry_count, checksum FROM kanjo_log_record
    WHERE seq >= $1 ORDER BY seq LIMIT $2";
const READ_ENTRIES_SQL: &str = "
    SELECT seq, idx, kind, id, body FROM kanjo_log_entry
    WHERE seq >= $1 AND seq <= $2 ORDER BY seq, idx";

pub struct PgStore {
    /// Password removed; used in every error.
    url: String,
    /// `Some` until drop; taken there to shut down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// Reused across appends for the checksum encoding.
    payload: Vec<u8>,
    /// The pooled connection holding the writer's advisory lock, while this store is the writer.
    writer_lock: Option<deadpool_postgres::Client>,
    /// This store claimed the log; `reconnect` takes the claim again when its session ended.
    writer: bool,
}

/// The advisory lock key of the kanjo writer ("kanjo-wr" as bytes): one writer per database.
const WRITER_LOCK_KEY: i64 = i64::from_be_bytes(*b"kanjo-wr");

fn runtime() -> Result<tokio::runtime::Runtime, StoreError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| StoreError::Runtime { source })
}

fn pg<'a>(
    url: &'a str,
    context: &'static str,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError + 'a {
    move |source| StoreError::Postgres {
        url: url.to_owned(),
        context,
        source,
    }
}

fn pg_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|error| StoreError::PgConfig {
            url: redact_url(url),
            reason: format!("invalid connection URL: {error}"),
        })?;
    config.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
    config.tcp_user_timeout(Duration::from_millis(TCP_USER_TIMEOUT_MS));
    config.application_name("kanjo");
    Ok(config)
}

/// Connects one plain client (for `migrate` and the test-database helper); the connection task
/// runs on the caller's runtime.
pub(crate) async fn connect(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let redacted = redact_url(url);
    let (client, connection) = pg_config(url)?
        .connect(NoTls)
        .await
        .map_err(pg(&redacted, "connecting"))?;
    tokio::spawn(async move {
        // The error also surfaces on the client's next call, with context there.
        let _ = connection.await;
    });
    Ok(client)
}

/// Runs `future` on `runtime`, from a helper thread when the caller is inside a tokio context.
fn run_on<T: Send>(
    runtime: &tokio::runtime::Runtime,
    future: impl Future<Output = Result<T, StoreError>> + Send,
) -> Result<T, StoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return runtime.block_on(future);
    }
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| runtime.block_on(future));
        helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Runs `future` on a throw-away runtime (for `migrate` and the test-database helper).
pub(crate) fn block_on<T: Send>(
    future: impl Future<Output = Result<T, StoreError>> + Send,
) -> Result<T, StoreError> {
    let runtime = runtime()?;
    let result = run_on(&runtime, future);
    // Never blocks, so dropping is safe even inside an async context.
    runtime.shutdown_background();
    result
}

pub(crate) fn migrate(url: &str) -> Result<Vec<String>, StoreError> {
    let redacted = redact_url(url);
    block_on(async {
        let mut client = connect(url).await?;
        let tx = client
            .transaction()
            .await
            .map_err(pg(&redacted, "begin migrate"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await
            .map_err(pg(&redacted, "taking the migration lock"))?;
        tx.batch_execute(MIGRATIONS_TABLE_SQL)
            .await
            .map_err(pg(&redacted, "creating kanjo_schema_migrations"))?;
        let applied = applied_migrations(&tx, &redacted).await?;
        let mut applied_now = Vec::new();
        for migration in PG_MIGRATIONS {
            match applied.iter().find(|(name, _)| name == migration.name) {
                Some((_, checksum)) if *checksum == migration.checksum() => continue,
                Some(_) => {
                    return Err(StoreError::MigrationChanged {
                        url: redacted.clone(),
                        name: migration.name.to_owned(),
                    });
                }
                None => {}
            }
            tx.batch_execute(migration.sql)
                .await
                .map_err(pg(&redacted, "applying a migration"))?;
            tx.execute(
                "INSERT INTO kanjo_schema_migrations (name, checksum) VALUES ($1, $2)",
                &[&migration.name, &migration.checksum()],
            )
            .await
            .map_err(pg(&redacted, "recording a migration"))?;
            applied_now.push(migration.name.to_owned());
        }
        let chained = backfill_chain(&tx, &redacted).await?;
        if chained > 0 {
            tracing::info!(url = %redacted, records = chained, "chained the records written before {HASH_CHAIN_MIGRATION}");
        }
        // All or none: a failing migration leaves the schema as it was.
        tx.commit().await.map_err(pg(&redacted, "commit migrate"))?;
        Ok(applied_now)
    })
}

/// Computes the chain for records without hashes (written before `0005_hash_chain`), in the
/// caller's transaction; returns how many. Each record is read as `read` does, checksum checked,
/// so a damaged record is refused rather than chained as if it were intact.
async fn backfill_chain(client: &impl GenericClient, url: &str) -> Result<u64, StoreError> {
    let first = client
        .query_opt(FIRST_UNCHAINED_SQL, &[])
        .await
        .map_err(pg(url, "finding records without hashes"))?;
    let Some(first) = first else {
        return Ok(0);
    };
    let first_seq = first.get::<_, i64>(0) as u64; // CHECK (seq >= 1)
    let mut head = if first_seq == 1 {
        ChainHead::GENESIS
    } else {
        let row = client
            .query_opt(
                "SELECT hash FROM kanjo_log_record WHERE seq = $1",
                &[&column_i64(first_seq - 1)],
            )
            .await
            .map_err(pg(url, "reading the hash before the backfill"))?;
        let hash = row.and_then(|row| hash_from_column(row.get::<_, Option<&[u8]>>(0)));
        let hash = hash.ok_or_else(|| corrupt(first_seq - 1, "its stored hash is missing"))?;
        ChainHead {
            seq: first_seq - 1,
            hash,
        }
    };
    let mut payload = Vec::new();
    loop {
        let records = read_in(client, url, head.seq + 1, BACKFILL_PAGE_RECORDS).await?;
        if records.is_empty() {
            return Ok(head.seq + 1 - first_seq);
        }
        let (mut seqs, mut prevs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for record in &records {
            payload.clear();
            codec::encode(record, &mut payload);
            let next = head.next(&payload);
            assert_eq!(next.seq, record.seq, "read_in returns records without gaps");
            seqs.push(column_i64(record.seq));
            prevs.push(head.hash.to_vec());
            hashes.push(next.hash.to_vec());
            head = next;
        }
        client
            .execute(SET_HASHES_SQL, &[&seqs, &prevs, &hashes])
            .await
            .map_err(pg(url, "writing the backfilled hashes"))?;
    }
}

async fn applied_migrations(
    client: &impl GenericClient,
    url: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = client
        .query("SELECT name, checksum FROM kanjo_schema_migrations", &[])
        .await
        .map_err(pg(url, "reading kanjo_schema_migrations"))?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

impl PgStore {
    /// Connects and checks that every embedded migration is applied.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let runtime = runtime()?;
        let redacted = redact_url(url);
        let manager = Manager::from_config(
            pg_config(url)?,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_CONNECTIONS_MAX)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(POOL_WAIT_TIMEOUT_MS)))
            .build()
            .map_err(|error| StoreError::PgConfig {
                url: redacted.clone(),
                reason: format!("building the connection pool: {error}"),
            })?;
        let store = PgStore {
            url: redacted,
            runtime: Some(runtime),
            pool,
            payload: Vec::new(),
            writer_lock: None,
            writer: false,
        };
        store.block_on(check_migrated(&store.pool, &store.url))?;
        Ok(store)
    }

    fn block_on<T: Send>(
        &self,
        future: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        let runtime = self.runtime.as_ref().expect("present until drop");
        run_on(runtime, future)
    }

    /// Takes the advisory lock on a connection kept checked out, or fails with `InUse`.
    fn take_writer_lock(&mut self) -> Result<(), StoreError> {
        debug_assert!(self.writer_lock.is_none());
        let url = self.url.clone();
        let pool = self.pool.clone();
        // A session-level advisory lock on a connection this store keeps checked out: PostgreSQL
        // releases it when that session ends, including when the process dies.
        let (connection, locked) = self.block_on(async move {
            let connection = client(&pool, &url).await?;
            let row = connection
                .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])
                .await
                .map_err(pg(&url, "taking the writer lock"))?;
            let locked: bool = row.get(0);
            Ok((connection, locked))
        })?;
        if !locked {
            return Err(StoreError::InUse {
                what: format!("the PostgreSQL store at {}", self.url),
            });
        }
        self.writer_lock = Some(connection);
        Ok(())
    }

    /// A writer appends only while its lock's session lives. The check reads the client's state
    /// (no round trip), so it notices a session end the connection task has already seen.
    fn check_writer_claim(&self) -> Result<(), StoreError> {
        let held = self
            .writer_lock
            .as_ref()
            .is_some_and(|lock| !lock.is_closed());
        if self.writer && !held {
            return Err(StoreError::WriterClaimLost {
                what: format!("the PostgreSQL store at {}", self.url),
            });
        }
        Ok(())
    }
}

async fn client(pool: &Pool, url: &str) -> Result<deadpool_postgres::Client, StoreError> {
    pool.get().await.map_err(|source| StoreError::PgPool {
        url: url.to_owned(),
        context: "connecting",
        source,
    })
}

async fn check_migrated(pool: &Pool, url: &str) -> Result<(), StoreError> {
    let client = client(pool, url).await?;
    let applied = match applied_migrations(&**client, url).await {
        Ok(applied) => applied,
        Err(StoreError::Postgres { source, .. })
            if source.code() == Some(&SqlState::UNDEFINED_TABLE) =>
        {
            Vec::new()
        }
        Err(error) => return Err(error),
    };
    let mut missing = Vec::new();
    for migration in PG_MIGRATIONS {
        match applied.iter().find(|(name, _)| name == migration.name) {
            Some((_, checksum)) if *checksum != migration.checksum() => {
                return Err(StoreError::MigrationChanged {
                    url: url.to_owned(),
                    name: migration.name.to_owned(),
                });
            }
            Some(_) => {}
            None => missing.push(migration.name.to_owned()),
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::SchemaNotMigrated {
            url: url.to_owned(),
            missing,
        });
    }
    // The migration's SQL applied without its backfill (by hand): appends would have no chain
    // to continue.
    let unchained = client
        .query_opt(FIRST_UNCHAINED_SQL, &[])
        .await
        .map_err(pg(url, "finding records without hashes"))?;
    if unchained.is_some() {
        return Err(StoreError::SchemaNotMigrated {
            url: url.to_owned(),
            missing: vec![format!("{HASH_CHAIN_MIGRATION} (hashes of older records)")],
        });
    }
    Ok(())
}

fn column_i64(value: u64) -> i64 {
    i64::try_from(value).expect("validated: fits i64")
}

fn corrupt(seq: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        seq,
        reason: reason.into(),
    }
}

async fn last_seq_in(client: &impl GenericClient, url: &str) -> Result<u64, StoreError> {
    let row = client
        .query_one(LAST_SEQ_SQL, &[])
        .await
        .map_err(pg(url, "reading last seq"))?;
    let last: i64 = row.get(0);
    assert!(last >= 0, "seq has CHECK (seq >= 1)");
    Ok(last as u64)
}

/// Records with seq >= from_seq, each verified against its header checksum; gaps are corruption.
async fn read_in(
    client: &impl GenericClient,
    url: &str,
    from_seq: u64,
    max_records: usize,
) -> Result<Vec<LogRecord>, StoreError> {
    let mut records = Vec::new();
    let from_seq = from_seq.max(1);
    let Ok(from_column) = i64::try_from(from_seq) else {
        return Ok(records); // past every storable seq
    };
    if max_records == 0 {
        return Ok(records);
    }
    let limit = i64::try_from(max_records).unwrap_or(i64::MAX);
    let headers = client
        .query(READ_HEADERS_SQL, &[&from_column, &limit])
        .await
        .map_err(pg(url, "reading record headers"))?;
    let Some(last_header) = headers.last() else {
        return Ok(records);
    };
    let last_column: i64 = last_header.get(0);
    let entry_rows = client
        .query(READ_ENTRIES_SQL, &[&from_column, &last_column])
        .await
        .map_err(pg(url, "reading record entries"))?;

    let mut entry_rows = entry_rows.iter().peekable();
    let mut payload = Vec::new();
    for (expected_seq, header) in (from_seq..).zip(&headers) {
        let seq = header.get::<_, i64>(0) as u64; // CHECK (seq >= 1)
        if seq != expected_seq {
            return Err(corrupt(
                expected_seq,
                format!("missing; next stored is {seq}"),
            ));
        }
        let clock_ns = header.get::<_, i64>(1) as u64; // CHECK (clock_ns >= 0)
        let entry_count = header.get::<_, i32>(2) as usize; // CHECK (0..=8190)
        let checksum = header.get::<_, i64>(3) as u64;
        let mut entries = Vec::with_capacity(entry_count);
        while let Some(row) = entry_rows.next_if(|row| row.get::<_, i64>(0) as u64 == seq) {
            let idx: i32 = row.get(1);
            if idx as usize != entries.len() {
                return Err(corrupt(seq, format!("entry {} missing", entries.len())));
            }
            let kind_value: i16 = row.get(2);
            let kind = u8::try_from(kind_value)
                .ok()
                .and_then(EntryKind::from_u8)
                .ok_or_else(|| corrupt(seq, format!("entry {idx}: unknown kind {kind_value}")))?;
            entries.push(LogEntry {
                kind,
                id: row.get(3),
                body: row.get(4),
            });
        }
        if entries.len() != entry_count {
            return Err(corrupt(
                seq,
                format!("{} of {entry_count} entries stored", entries.len()),
            ));
        }
        let record = LogRecord {
            seq,
            clock_ns,
            entries,
        };
        record
            .validate()
            .map_err(|error| corrupt(seq, error.to_string()))?;
        payload.clear();
        codec::encode(&record, &mut payload);
        if codec::checksum(seq, &payload) != checksum {
            return Err(corrupt(seq, "content checksum mismatch"));
        }
        records.push(record);
    }
    if let Some(row) = entry_rows.next() {
        let seq = row.get::<_, i64>(0) as u64;
        return Err(corrupt(seq, "entries stored without a header"));
    }
    debug_assert!(records.len() <= max_records);
    Ok(records)
}

/// Stored links with seq >= from_seq, nothing checked (see `Store::read_links`): each record's
/// canonical bytes are rebuilt from its header and entry rows as they are.
async fn read_links_in(
    client: &impl GenericClient,
    url: &str,
    from_seq: u64,
    max_records: usize,
) -> Result<Vec<StoredLink>, StoreError> {
    let from_column = i64::try_from(from_seq.max(1)).unwrap_or(i64::MAX);
    let limit = i64::try_from(max_records).unwrap_or(i64::MAX);
    let headers = client
        .query(READ_LINK_HEADERS_SQL, &[&from_column, &limit])
        .await
        .map_err(pg(url, "reading record headers"))?;
    let Some(last_header) = headers.last() else {
        return Ok(Vec::new());
    };
    let last_column: i64 = last_header.get(0);
    let entry_rows = client
        .query(READ_ENTRIES_SQL, &[&from_column, &last_column])
        .await
        .map_err(pg(url, "reading record entries"))?;
    let mut entry_rows = entry_rows.iter().peekable();
    let mut links = Vec::with_capacity(headers.len());
    for header in &headers {
        let seq: i64 = header.get(0);
        // Entries of a record whose header is gone belong to no link; the gap is reported.
        while entry_rows
            .next_if(|row| row.get::<_, i64>(0) < seq)
            .is_some()
        {}
        let mut rows = Vec::new();
        while let Some(row) = entry_rows.next_if(|row| row.get::<_, i64>(0) == seq) {
            rows.push(EntryRow {
                idx: row.get(1),
                kind: row.get(2),
                id: row.get(3),
                body: row.get(4),
            });
        }
        let mut canonical_bytes = Vec::new();
        codec::encode_rows(header.get(1), header.get(2), &rows, &mut canonical_bytes);
        links.push(StoredLink {
            seq: seq as u64, // CHECK (seq >= 1)
            prev_hash: hash_from_column(header.get(3)),
            hash: hash_from_column(header.get(4)),
            canonical_bytes,
        });
    }
    debug_assert!(links.len() <= max_records);
    Ok(links)
}

/// Why an append did not insert: a retry (Ok or Conflict) or a seq out of order.
async fn resolve_refused_append(
    client: &impl GenericClient,
    url: &str,
    record: &LogRecord,
) -> Result<(), StoreError> {
    let last = last_seq_in(client, url).await?;
    if record.seq <= last {
        let stored = read_in(client, url, record.seq, 1).await?;
        let Some(stored) = stored.first() else {
            return Err(corrupt(record.seq, "missing below the last seq"));
        };
        if *stored == *record {
            return Ok(()); // retry of a committed append
        }
        return Err(StoreError::Conflict {
            backend: BACKEND,
            seq: record.seq,
        });
    }
    Err(StoreError::OutOfOrder {
        backend: BACKEND,
        expected_seq: last + 1,
        got_seq: record.seq,
    })
}

/// The last record's seq and hash, in the caller's transaction.
async fn head_in(client: &impl GenericClient, url: &str) -> Result<ChainHead, StoreError> {
    let row = client
        .query_opt(HEAD_SQL, &[])
        .await
        .map_err(pg(url, "reading the chain head"))?;
    let Some(row) = row else {
        return Ok(ChainHead::GENESIS);
    };
    let seq = row.get::<_, i64>(0) as u64; // CHECK (seq >= 1)
    let hash = hash_from_column(row.get::<_, Option<&[u8]>>(1))
        .ok_or_else(|| corrupt(seq, "its stored hash is missing; run `kanjo migrate`"))?;
    Ok(ChainHead { seq, hash })
}

async fn append_in(
    pool: &Pool,
    url: &str,
    record: &LogRecord,
    payload: &[u8],
) -> Result<(), StoreError> {
    let mut client = client(pool, url).await?;
    let tx = client
        .transaction()
        .await
        .map_err(pg(url, "begin append"))?;
    // Read in the append transaction; a concurrent writer that appends meanwhile makes the
    // insert below find a different last seq (or a unique violation), never a forked chain.
    let head = head_in(&*tx, url).await?;
    if head.seq + 1 != record.seq {
        tx.rollback()
            .await
            .map_err(pg(url, "rollback refused append"))?;
        return resolve_refused_append(&**client, url, record).await;
    }
    let checksum = codec::checksum(record.seq, payload);
    let next = head.next(payload);
    let seq = column_i64(record.seq);
    let entry_count = i32::try_from(record.entries.len()).expect("validated: entries fit i32");
    let insert = tx
        .prepare_cached(INSERT_HEADER_SQL)
        .await
        .map_err(pg(url, "preparing append"))?;
    let (prev_hash, hash): (&[u8], &[u8]) = (&head.hash, &next.hash);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &seq,
        &column_i64(record.clock_ns),
        &entry_count,
        &(checksum as i64),
        &prev_hash,
        &hash,
    ];
    let inserted = match tx.execute(&insert, &params).await {
        Ok(inserted) => inserted,
        // A concurrent writer took this seq first.
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => 0,
        Err(error) => return Err(pg(url, "inserting record header")(error)),
    };
    if inserted == 0 {
        tx.rollback()
            .await
            .map_err(pg(url, "rollback refused append"))?;
        return resolve_refused_append(&**client, url, record).await;
    }
    assert_eq!(inserted, 1);

    let sink = tx
        .copy_in(COPY_ENTRIES_SQL)
        .await
        .map_err(pg(url, "starting entry COPY"))?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &COPY_ENTRIES_TYPES));
    for (idx, entry) in record.entries.iter().enumerate() {
        let idx = idx as i32; // < LOG_ENTRIES_PER_RECORD_MAX
        let kind = entry.kind as u8 as i16;
        let body: &[u8] = &entry.body;
        writer
            .as_mut()
            .write(&[&seq, &idx, &kind, &entry.id.as_str(), &body])
            .await
            .map_err(pg(url, "writing entries"))?;
    }
    let copied = writer
        .as_mut()
        .finish()
        .await
        .map_err(pg(url, "finishing entry COPY"))?;
    assert_eq!(
        copied,
        record.entries.len() as u64,
        "COPY wrote every entry"
    );
    // An error anywhere above drops `tx`, which rolls back the header with the entries.
    tx.commit().await.map_err(pg(url, "commit append"))
}

/// How long a closing store waits for PostgreSQL to confirm the writer lock is released.
const WRITER_UNLOCK_WAIT_MS: u64 = 1_000;

impl Drop for PgStore {
    fn drop(&mut self) {
        // Release the writer lock before the session goes: the server notices a closed socket
        // only some time later, and a new writer in that window would be refused as `InUse`.
        if let Some(lock) = self.writer_lock.take()
            && !lock.is_closed()
        {
            let wait = std::time::Duration::from_millis(WRITER_UNLOCK_WAIT_MS);
            let _ = self.block_on(async move {
                let unlock = lock.simple_query("SELECT pg_advisory_unlock_all()");
                let _ = tokio::time::timeout(wait, unlock).await;
                drop(deadpool_postgres::Object::take(lock));
                Ok(())
            });
        }
        self.pool.close();
        if let Some(runtime) = self.runtime.take() {
            // A plain drop would block, which tokio forbids inside an async context.
            runtime.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn claim_writer(&mut self) -> Result<(), StoreError> {
        if self.writer_lock.is_none() {
            self.take_writer_lock()?;
        }
        self.writer = true;
        Ok(())
    }

    fn reconnect(&mut self) -> Result<(), StoreError> {
        // Idle pooled connections may be dead without knowing it yet (their FATAL message unread):
        // drop them all, so the next checkout connects afresh instead of failing once more.
        drop(self.pool.retain(|_, _| false));
        if !self.writer {
            return Ok(());
        }
        if let Some(lock) = self.writer_lock.take() {
            let (lock, alive) = self.block_on(async move {
                let alive = lock.simple_query("SELECT 1").await.is_ok();
                Ok((lock, alive))
            })?;
            if alive {
                // The session, and so the lock, outlived whatever failed.
                self.writer_lock = Some(lock);
                return Ok(());
            }
            // Out of the pool for good: its session, and the lock with it, is gone.
            drop(deadpool_postgres::Object::take(lock));
        }
        self.take_writer_lock()
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            last_seq_in(&**client, &self.url).await
        })
    }

    fn append(&mut self, record: &LogRecord) -> Result<(), StoreError> {
        record
            .validate()
            .map_err(|source| StoreError::InvalidRecord {
                seq: record.seq,
                source,
            })?;
        self.check_writer_claim()?;
        self.payload.clear();
        codec::encode(record, &mut self.payload);
        self.block_on(append_in(&self.pool, &self.url, record, &self.payload))
    }

    fn read(&mut self, from_seq: u64, max_records: usize) -> Result<Vec<LogRecord>, StoreError> {
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            read_in(&**client, &self.url, from_seq, max_records).await
        })
    }

    fn read_links(
        &mut self,
        from_seq: u64,
        max_records: usize,
    ) -> Result<Vec<StoredLink>, StoreError> {
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            read_links_in(&**client, &self.url, from_seq, max_records).await
        })
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        validate_meta(key, None)?;
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            let row = client
                .query_opt("SELECT value FROM kanjo_meta WHERE key = $1", &[&key])
                .await
                .map_err(pg(&self.url, "reading meta"))?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        validate_meta(key, Some(value))?;
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            client
                .execute(
                    "INSERT INTO kanjo_meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&key, &value],
                )
                .await
                .map_err(pg(&self.url, "writing meta"))?;
            Ok(())
        })
    }

    fn put_source(&mut self, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
        validate_source(digest, bytes)?;
        if let Some(stored) = self.source(digest)? {
            return same_source("postgres", digest, &stored, bytes);
        }
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            client
                .execute(
                    "INSERT INTO kanjo_programme_source (digest, bytes) VALUES ($1, $2)
                     ON CONFLICT (digest) DO NOTHING",
                    &[&digest, &bytes],
                )
                .await
                .map_err(pg(&self.url, "writing a programme source"))?;
            Ok(())
        })?;
        match self.source(digest)? {
            Some(stored) => same_source("postgres", digest, &stored, bytes),
            None => Err(StoreError::Corrupt {
                backend: "postgres",
                seq: 0,
                reason: format!("programme source {digest} vanished after it was written"),
            }),
        }
    }

    fn source(&mut self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            let row = client
                .query_opt(
                    "SELECT bytes FROM kanjo_programme_source WHERE digest = $1",
                    &[&digest],
                )
                .await
                .map_err(pg(&self.url, "reading a programme source"))?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn count_entries(&mut self, kind: EntryKind) -> Result<u64, StoreError> {
        self.block_on(async {
            let client = client(&self.pool, &self.url).await?;
            let row = client
                .query_one(
                    "SELECT count(*) FROM kanjo_log_entry WHERE kind = $1",
                    &[&(kind as u8 as i16)],
                )
                .await
                .map_err(pg(&self.url, "counting entries"))?;
            let count: i64 = row.get(0);
            assert!(count >= 0);
            Ok(count as u64)
        })
    }
}
