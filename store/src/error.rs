//! Typed store errors; each names the file or (password-free) URL and the seq involved.

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

/// The URL with any password replaced, for error messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &rest[at..]
                );
            }
        }
        return url.to_owned();
    }
    // key=value form: blank out the value of password=.
    url.split_whitespace()
        .map(|pair| {
            if pair.starts_with("password=") {
                "password=***"
            } else {
                pair
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

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
