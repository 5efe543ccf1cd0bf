//! Surviving transient store failures on the commit path.
//!
//! When an append fails with a transient error (`ErrorClass::Transient`: a lost connection, a
//! PostgreSQL restart or failover, a busy or failing disk), the commit thread does not stop. It
//! reconnects with bounded exponential backoff, takes the writer claim again, checks that the log
//! ends where this writer's memory says, finds out by seq which records of the failed group were
//! committed after all (the connection may drop around COMMIT), and appends the rest. Meanwhile
//! the engine is `Recovering`: new work and reads are refused with 503 and `Retry-After`, and the
//! clients of the records being recovered wait for their answers.
//!
//! Only when that fails for longer than the recovery timeout, or the log shows another writer,
//! does the engine fail (`Failed`); `kanjo serve` then answers what is pending with 503 and exits
//! non-zero, so that its supervisor restarts it and replay resumes from the log.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::watch;

use crate::store::{ErrorClass, LogRecord, Store, StoreError};

/// How long the commit path tries to recover from a transient store failure before it fails.
pub const RECOVERY_TIMEOUT_S_DEFAULT: u64 = 30;
/// The longest recovery timeout `kanjo serve` accepts.
pub const RECOVERY_TIMEOUT_S_MAX: u64 = 3_600;
/// The first wait between attempts; it doubles up to `BACKOFF_MS_MAX`.
const BACKOFF_MS_MIN: u64 = 50;
const BACKOFF_MS_MAX: u64 = 2_000;

/// The engine's health as `/healthz` and the process supervisor see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// A commit failed transiently and is being retried; no new work is taken.
    Recovering,
    /// Commits stopped for good; the process should exit non-zero.
    Failed,
}

impl Health {
    /// The word `/healthz` answers.
    pub fn name(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Recovering => "recovering",
            Health::Failed => "stopped",
        }
    }
}

/// Why the engine failed, which decides the process's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The store stayed unreachable past the recovery timeout, or a shutdown came first.
    Unreachable,
    /// The store refused for good: another writer, a conflicting, corrupt or refused record, a
    /// read-only database, a failed fsync.
    Refused,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

/// Why a group of records could not be made durable.
#[derive(Debug, Error)]
pub enum CommitError {
    #[error(
        "the store stayed unreachable for {waited_ms} ms (recovery timeout {timeout_ms} ms); last error: {last}"
    )]
    TimedOut {
        waited_ms: u64,
        timeout_ms: u64,
        last: StoreError,
    },
    #[error("a shutdown was asked for while the store was unreachable; last error: {last}")]
    ShutDown { last: StoreError },
    #[error(
        "the log holds seq {seq} with other content than this engine wrote: another writer appended"
    )]
    AnotherWriter { seq: u64 },
    #[error(
        "the log ends at seq {last_seq}, past seq {expected_max}, the last this engine wrote: another writer appended"
    )]
    LogAhead { last_seq: u64, expected_max: u64 },
    #[error(
        "the log ends at seq {last_seq}, but seq {committed_seq} was committed and acknowledged: the store lost records (restored from a backup? failed over to a replica that lagged?)"
    )]
    LogBehind { last_seq: u64, committed_seq: u64 },
    #[error(transparent)]
    Refused(StoreError),
}

impl CommitError {
    pub fn kind(&self) -> FailureKind {
        match self {
            CommitError::TimedOut { .. } | CommitError::ShutDown { .. } => FailureKind::Unreachable,
            CommitError::AnotherWriter { .. }
            | CommitError::LogAhead { .. }
            | CommitError::LogBehind { .. }
            | CommitError::Refused(_) => FailureKind::Refused,
        }
    }
}

/// The engine's health, shared by the commit thread (which changes it) and every handle.
pub(crate) struct HealthCell {
    state: watch::Sender<Health>,
    /// The latest store error while recovering: what refused clients and `/healthz` are told.
    recovering_reason: Mutex<String>,
    failure: Mutex<Option<Failure>>,
    recoveries: AtomicU64,
    shutdown_requested: AtomicBool,
}

impl HealthCell {
    pub(crate) fn new() -> HealthCell {
        HealthCell {
            state: watch::Sender::new(Health::Ok),
            recovering_reason: Mutex::new(String::new()),
            failure: Mutex::new(None),
            recoveries: AtomicU64::new(0),
            shutdown_requested: AtomicBool::new(false),
        }
    }

    pub(crate) fn get(&self) -> Health {
        *self.state.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Health> {
        self.state.subscribe()
    }

    pub(crate) fn recovering_reason(&self) -> String {
        lock(&self.recovering_reason).clone()
    }

    pub(crate) fn failure(&self) -> Option<Failure> {
        lock(&self.failure).clone()
    }

    /// Successful recoveries since start.
    pub(crate) fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Acquire)
    }

    pub(crate) fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::Release);
    }

    fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::Acquire)
    }

    /// Called once the clients of the failed records were answered, so that a server waiting for
    /// the failure stops only after they were.
    pub(crate) fn fail(&self, failure: Failure) {
        let mut slot = lock(&self.failure);
        if slot.is_none() {
            *slot = Some(failure);
        }
        drop(slot);
        self.state.send_replace(Health::Failed);
    }

    fn begin_recovery(&self, error: &StoreError) {
        tracing::warn!(%error, "a commit failed transiently; recovering");
        metrics::gauge!("kanjo_store_recovering").set(1.0);
        *lock(&self.recovering_reason) = error.to_string();
        self.state.send_replace(Health::Recovering);
    }

    fn note_retry(&self, error: &StoreError) {
        tracing::warn!(%error, "store recovery attempt failed; retrying");
        metrics::counter!("kanjo_store_retries_total").increment(1);
        *lock(&self.recovering_reason) = error.to_string();
    }

    fn end_recovery(&self, recovered: bool, took: Duration) {
        metrics::gauge!("kanjo_store_recovering").set(0.0);
        metrics::histogram!("kanjo_store_recovery_seconds").record(took.as_secs_f64());
        let outcome = if recovered { "recovered" } else { "failed" };
        metrics::counter!("kanjo_store_recoveries_total", "outcome" => outcome).increment(1);
        if recovered {
            tracing::warn!(took_ms = took.as_millis() as u64, "the store recovered");
            self.recoveries.fetch_add(1, Ordering::AcqRel);
            self.state.send_replace(Health::Ok);
        }
        // A failed recovery stays `Recovering` until `fail`, after its clients were answered.
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends `records` (consecutive, the first at `committed_seq + 1`), recovering from transient
/// failures for at most `timeout`. Durable when it returns Ok.
pub(crate) fn commit(
    store: &mut dyn Store,
    records: &[LogRecord],
    committed_seq: u64,
    timeout: Duration,
    health: &HealthCell,
) -> Result<(), CommitError> {
    assert!(!records.is_empty());
    assert_eq!(records[0].seq, committed_seq + 1, "records follow the log");
    let error = match store.append_many(records) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    if error.class() == ErrorClass::Permanent {
        return Err(CommitError::Refused(error));
    }
    let started = Instant::now();
    health.begin_recovery(&error);
    let result = recover(
        store,
        records,
        committed_seq,
        error,
        timeout,
        health,
        started,
    );
    health.end_recovery(result.is_ok(), started.elapsed());
    result
}

fn recover(
    store: &mut dyn Store,
    records: &[LogRecord],
    committed_seq: u64,
    first_error: StoreError,
    timeout: Duration,
    health: &HealthCell,
    started: Instant,
) -> Result<(), CommitError> {
    let mut last_error = first_error;
    let mut backoff = Duration::from_millis(BACKOFF_MS_MIN);
    loop {
        if health.shutdown_requested() {
            return Err(CommitError::ShutDown { last: last_error });
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(CommitError::TimedOut {
                waited_ms: waited.as_millis() as u64,
                timeout_ms: timeout.as_millis() as u64,
                last: last_error,
            });
        }
        match attempt(store, records, committed_seq) {
            Ok(()) => return Ok(()),
            Err(Attempt::Fatal(error)) => return Err(error),
            Err(Attempt::Retry(error)) => {
                health.note_retry(&error);
                last_error = error;
            }
        }
        std::thread::sleep(backoff.min(timeout.saturating_sub(started.elapsed())));
        backoff = (backoff * 2).min(Duration::from_millis(BACKOFF_MS_MAX));
    }
}

enum Attempt {
    Retry(StoreError),
    Fatal(CommitError),
}

fn classified(error: StoreError) -> Attempt {
    match error.class() {
        ErrorClass::Transient => Attempt::Retry(error),
        ErrorClass::Permanent => Attempt::Fatal(CommitError::Refused(error)),
    }
}

/// One try: reconnect (and claim the log again), check the log's end, append what is missing.
fn attempt(
    store: &mut dyn Store,
    records: &[LogRecord],
    committed_seq: u64,
) -> Result<(), Attempt> {
    store.reconnect().map_err(|error| match error {
        // The old session may still be ending and holding the claim; another writer that took
        // it would show in the log, which the next attempt reads.
        StoreError::InUse { .. } => Attempt::Retry(error),
        other => classified(other),
    })?;
    let stored = stored_prefix(store, records, committed_seq)?;
    if stored > 0 {
        tracing::warn!(
            first_seq = records[0].seq,
            count = stored,
            "records whose commit outcome was unknown are in the log; not appended again"
        );
        metrics::counter!("kanjo_store_unknown_commits_found_total").increment(stored as u64);
    }
    if stored < records.len() {
        store.append_many(&records[stored..]).map_err(classified)?;
    }
    Ok(())
}

/// How many of `records` (whose append failed) the log holds, after checking that it ends where
/// this writer's memory says: at `committed_seq`, or within `records` if some were committed
/// before the failure was seen. A record is found by its seq and must be identical to ours.
fn stored_prefix(
    store: &mut dyn Store,
    records: &[LogRecord],
    committed_seq: u64,
) -> Result<usize, Attempt> {
    let expected_max = records.last().expect("not empty").seq;
    let last_seq = store.last_seq().map_err(classified)?;
    if last_seq < committed_seq {
        return Err(Attempt::Fatal(CommitError::LogBehind {
            last_seq,
            committed_seq,
        }));
    }
    if last_seq > expected_max {
        return Err(Attempt::Fatal(CommitError::LogAhead {
            last_seq,
            expected_max,
        }));
    }
    let count = usize::try_from(last_seq - committed_seq).expect("at most a group");
    if count == 0 {
        return Ok(0);
    }
    let stored = store.read(committed_seq + 1, count).map_err(classified)?;
    for (stored, ours) in stored.iter().zip(records) {
        if stored != ours {
            return Err(Attempt::Fatal(CommitError::AnotherWriter { seq: ours.seq }));
        }
    }
    // Fewer than `count` read means the log changed since `last_seq`: the append that follows
    // meets it (`Conflict` or `OutOfOrder`).
    Ok(stored.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EntryKind, LogEntry, SqliteStore};

    fn record(seq: u64, id: &str) -> LogRecord {
        LogRecord {
            seq,
            clock_ns: seq * 1_000,
            entries: vec![LogEntry {
                kind: EntryKind::Event,
                id: id.to_owned(),
                body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
            }],
        }
    }

    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(label: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("kanjo-recovery-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A log holding seqs 1..=`last` with ids `a-{seq}`.
    fn log(dir: &Dir, last: u64) -> SqliteStore {
        let mut store = SqliteStore::open(&dir.0).expect("open");
        for seq in 1..=last {
            store
                .append(&record(seq, &format!("a-{seq}")))
                .expect("append");
        }
        store
    }

    fn prefix(
        store: &mut SqliteStore,
        group: &[LogRecord],
        committed: u64,
    ) -> Result<usize, String> {
        stored_prefix(store, group, committed).map_err(|error| match error {
            Attempt::Retry(error) => format!("retry: {error}"),
            Attempt::Fatal(error) => format!("fatal: {error}"),
        })
    }

    #[test]
    fn a_log_that_ends_where_memory_says_holds_none_of_the_group() {
        let dir = Dir::new("none");
        let mut store = log(&dir, 2);
        let group = [record(3, "a-3"), record(4, "a-4")];
        assert_eq!(prefix(&mut store, &group, 2), Ok(0));
    }

    #[test]
    fn records_committed_before_the_connection_dropped_are_found_by_seq() {
        let dir = Dir::new("found");
        let mut store = log(&dir, 3);
        let group = [record(3, "a-3"), record(4, "a-4")];
        assert_eq!(prefix(&mut store, &group, 2), Ok(1));
    }

    #[test]
    fn another_record_at_our_seq_is_another_writer() {
        let dir = Dir::new("other");
        let mut store = log(&dir, 3);
        let group = [record(3, "mine-3")];
        let refused = prefix(&mut store, &group, 2).expect_err("another writer");
        assert!(
            refused.contains("fatal") && refused.contains("another writer"),
            "{refused}"
        );
    }

    #[test]
    fn a_log_past_the_group_or_short_of_the_acknowledged_is_fatal() {
        let dir = Dir::new("ahead");
        let mut store = log(&dir, 5);
        let ahead = prefix(&mut store, &[record(3, "a-3")], 2).expect_err("ahead");
        assert!(ahead.contains("past seq 3"), "{ahead}");
        let behind = prefix(&mut store, &[record(8, "a-8")], 7).expect_err("behind");
        assert!(behind.contains("lost records"), "{behind}");
    }

    #[test]
    fn a_permanent_store_error_is_not_retried() {
        let dir = Dir::new("permanent");
        let mut store = log(&dir, 1);
        let health = HealthCell::new();
        // Seq 2 already holds other content: a conflict, which no retry can change.
        store.append(&record(2, "theirs")).expect("append");
        let error = commit(
            &mut store,
            &[record(2, "mine")],
            1,
            Duration::from_secs(30),
            &health,
        )
        .expect_err("refused");
        assert!(
            matches!(error, CommitError::Refused(StoreError::Conflict { .. })),
            "{error}"
        );
        assert_eq!(error.kind(), FailureKind::Refused);
        assert_eq!(health.get(), Health::Ok, "no recovery was tried");
    }
}
