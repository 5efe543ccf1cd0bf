//! Typed store errors; each names the file or (password-free) URL and the seq involved.

use std::error::Error as _;
use std::path::PathBuf;

/// Why a record was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("seq must be in 1..=i64::MAX")]
    SeqOutOfRange,
    #[error("clock_ns must be at most i64::MAX")]
    ClockOutOfRange,
    #[error("{count} entries, at most {max} per record", max = super::LOG_ENTRIES_PER_RECORD_MAX)]
    TooManyEntries { count: usize },
    #[error("entry {index}: id is {id_bytes} bytes, must be 1..={max}", max = super::LOG_ENTRY_ID_BYTES_MAX)]
    IdLength { index: usize, id_bytes: usize },
    #[error("entry {index}: id contains a NUL character")]
    IdHasNul { index: usize },
    #[error("entry {index}: body is {body_bytes} bytes, at most {max}", max = super::LOG_ENTRY_BODY_BYTES_MAX)]
    BodyTooLarge { index: usize, body_bytes: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{what} is in use by another kanjo writer (a running `kanjo serve` or `kanjo import`); stop it first, or read through its API"
    )]
    InUse { what: String },
    #[error("record seq {seq} refused, nothing written: {source}")]
    InvalidRecord {
        seq: u64,
        #[source]
        source: RecordError,
    },
    #[error("meta key {key:?} refused: {reason}")]
    InvalidMeta { key: String, reason: &'static str },
    #[error("{backend}: append of seq {got_seq} out of order, the next seq is {expected_seq}")]
    OutOfOrder {
        backend: &'static str,
        expected_seq: u64,
        got_seq: u64,
    },
    #[error("{backend}: seq {seq} is already stored with different content")]
    Conflict { backend: &'static str, seq: u64 },
    #[error("{backend}: stored record seq {seq} is corrupt: {reason}")]
    Corrupt {
        backend: &'static str,
        seq: u64,
        reason: String,
    },
    #[error("{context} {path}: {source}")]
    Io {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("sqlite {path}: {context}: {source}")]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("sqlite {path}: WAL mode unavailable (journal_mode is {journal_mode}); it is required")]
    SqliteNoWal { path: PathBuf, journal_mode: String },
    #[error("sqlite {path}: not a kanjo log (application_id {application_id:#x})")]
    SqliteNotKanjo { path: PathBuf, application_id: i64 },
    #[error(
        "sqlite {path}: schema version {found} is newer than this binary supports ({supported})"
    )]
    SqliteSchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("postgres {url}: {context}: {}", error_chain(source))]
    Postgres {
        url: String,
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("postgres {url}: {context}: {}", error_chain(source))]
    PgPool {
        url: String,
        context: &'static str,
        #[source]
        source: deadpool_postgres::PoolError,
    },
    #[error("postgres {url}: {reason}")]
    PgConfig { url: String, reason: String },
    #[error("postgres {url}: schema not migrated (missing {missing:?}); run `kanjo migrate` first")]
    SchemaNotMigrated { url: String, missing: Vec<String> },
    #[error(
        "postgres {url}: migration {name} was applied with different SQL than this binary embeds"
    )]
    MigrationChanged { url: String, name: String },
    #[error("postgres store: cannot build its tokio runtime: {source}")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: the session holding the writer claim ended; it must be taken again")]
    WriterClaimLost { what: String },
}

/// Whether an operation that failed may succeed if it is retried once the store heals.
///
/// The commit path retries `Transient` failures (reconnecting, with bounded backoff) and stops at
/// once on `Permanent` ones. Misjudging a permanent error as transient costs at most the recovery
/// timeout; misjudging a transient one as permanent costs a process restart. So anything about
/// the connection or the server's state is transient, anything about the log's content is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The connection, the server or the disk may heal: a lost connection, a server restarting
    /// or shutting down, too many connections, a busy or locked file, an I/O error, a full disk.
    Transient,
    /// Retrying can't help: another writer, a conflicting or corrupt record, a refused record, a
    /// read-only database, a failed fsync, a schema or configuration problem.
    Permanent,
}

impl StoreError {
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Postgres { source, .. } => postgres_class(source),
            StoreError::PgPool { source, .. } => match source {
                deadpool_postgres::PoolError::Timeout(_) => ErrorClass::Transient,
                deadpool_postgres::PoolError::Backend(source) => postgres_class(source),
                deadpool_postgres::PoolError::Closed
                | deadpool_postgres::PoolError::NoRuntimeSpecified
                | deadpool_postgres::PoolError::PostCreateHook(_) => ErrorClass::Permanent,
            },
            StoreError::Sqlite { source, .. } => sqlite_class(source),
            StoreError::Io { .. } | StoreError::WriterClaimLost { .. } => ErrorClass::Transient,
            StoreError::InUse { .. }
            | StoreError::InvalidRecord { .. }
            | StoreError::InvalidMeta { .. }
            | StoreError::OutOfOrder { .. }
            | StoreError::Conflict { .. }
            | StoreError::Corrupt { .. }
            | StoreError::SqliteNoWal { .. }
            | StoreError::SqliteNotKanjo { .. }
            | StoreError::SqliteSchemaTooNew { .. }
            | StoreError::PgConfig { .. }
            | StoreError::SchemaNotMigrated { .. }
            | StoreError::MigrationChanged { .. }
            | StoreError::Runtime { .. } => ErrorClass::Permanent,
        }
    }
}

/// By the server's SQLSTATE class when there is one; otherwise the error arose on the client's
/// side of the connection (closed, I/O, timeout), which a new connection may not have.
fn postgres_class(error: &tokio_postgres::Error) -> ErrorClass {
    let Some(state) = error.code() else {
        let protocol_misuse = error.source().is_some_and(|source| {
            !source.is::<std::io::Error>() && !source.is::<tokio_postgres::error::DbError>()
        });
        return if error.is_closed() || !protocol_misuse {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent // a value that did not convert: a bug, not an outage
        };
    };
    if *state == tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION {
        return ErrorClass::Transient; // a standby that is being promoted after a failover
    }
    match &state.code()[..2] {
        // connection exception, transaction rollback (serialization, deadlock, completion
        // unknown), insufficient resources, object in use / not ready, operator intervention
        // (shutdown, restart, cannot connect now), system error (I/O)
        "08" | "40" | "53" | "55" | "57" | "58" => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// SQLite: busy, locked, I/O, full disk and open failures may heal. A failed fsync may not have
/// written what it was asked to and the kernel may have dropped the pages, so it is permanent:
/// a restart re-reads the file, as PostgreSQL does after one. A read-only database stays so.
fn sqlite_class(error: &rusqlite::Error) -> ErrorClass {
    use rusqlite::ErrorCode;
    let Some(failure) = error.sqlite_error() else {
        return ErrorClass::Permanent;
    };
    let fsync_failed = matches!(
        failure.extended_code,
        rusqlite::ffi::SQLITE_IOERR_FSYNC | rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC
    );
    match failure.code {
        ErrorCode::SystemIoFailure if fsync_failed => ErrorClass::Permanent,
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::SystemIoFailure
        | ErrorCode::DiskFull
        | ErrorCode::CannotOpen
        | ErrorCode::OutOfMemory => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// `error: cause: cause…` — tokio-postgres keeps the server's message in the source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.ends_with(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

/// The URL with any password replaced, for error messages and logs: the one redaction, from
/// `kanjo-privacy`.
pub(crate) use kanjo_privacy::redact_database_url as redact_url;

#[cfg(test)]
mod tests {
    use super::{ErrorClass, StoreError, redact_url};

    fn sqlite_error(result_code: i32) -> StoreError {
        StoreError::Sqlite {
            path: "kanjo.sqlite".into(),
            context: "commit append",
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(result_code), None),
        }
    }

    #[test]
    fn sqlite_errors_that_may_heal_are_transient_and_the_rest_permanent() {
        use rusqlite::ffi;
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_FULL,
            ffi::SQLITE_CANTOPEN,
        ] {
            assert_eq!(sqlite_error(code).class(), ErrorClass::Transient, "{code}");
        }
        for code in [
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_IOERR_DIR_FSYNC,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_READONLY_DBMOVED,
            ffi::SQLITE_CORRUPT,
            ffi::SQLITE_CONSTRAINT,
        ] {
            assert_eq!(sqlite_error(code).class(), ErrorClass::Permanent, "{code}");
        }
    }

    #[test]
    fn errors_about_the_logs_content_are_permanent() {
        let conflict = StoreError::Conflict {
            backend: "postgres",
            seq: 7,
        };
        assert_eq!(conflict.class(), ErrorClass::Permanent);
        let in_use = StoreError::InUse {
            what: "the store".into(),
        };
        assert_eq!(in_use.class(), ErrorClass::Permanent);
        let lost = StoreError::WriterClaimLost {
            what: "the store".into(),
        };
        assert_eq!(lost.class(), ErrorClass::Transient);
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://kanjo:s3cret@db:5432/kanjo?sslmode=disable"),
            "postgres://kanjo:***@db:5432/kanjo?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("host=db password=s3cret dbname=k"),
            "host=db password=*** dbname=k"
        );
    }
}
