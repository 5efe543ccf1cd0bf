//! Background WAL checkpoints for the SQLite store, so a commit never waits for one.
//!
//! The writer connection has automatic checkpoints off and nudges this thread after each commit;
//! the thread copies committed WAL frames into the database file (PASSIVE: it never blocks the
//! writer). Once it has caught up, the writer's next transaction restarts the WAL from the start.
//! The writer still checkpoints inline if the WAL outgrows `WAL_BYTES_MAX` (the thread can't
//! keep up), which bounds disk use and recovery time.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// Above this WAL size the writer checkpoints inline before acknowledging further appends.
pub(crate) const WAL_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// One pending nudge is enough: a checkpoint covers every frame committed before it starts.
const NUDGES_PENDING_MAX: usize = 1;
const BUSY_TIMEOUT_MS: u64 = 5_000;

pub(crate) struct Checkpointer {
    /// `None` once dropped, which tells the thread to stop.
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    wal_path: PathBuf,
}

impl Checkpointer {
    pub(crate) fn start(db_path: &Path) -> Result<Checkpointer, StoreError> {
        let sqlite = |context| {
            move |source| StoreError::Sqlite {
                path: db_path.to_owned(),
                context,
                source,
            }
        };
        let conn = Connection::open(db_path).map_err(sqlite("opening checkpoint connection"))?;
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(sqlite("checkpoint busy_timeout"))?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite("checkpoint wal_autocheckpoint"))?;
        let (nudge, nudges) = sync_channel(NUDGES_PENDING_MAX);
        let thread_path = db_path.to_owned();
        let thread = std::thread::Builder::new()
            .name("kanjo-sqlite-checkpoint".to_owned())
            .spawn(move || run(conn, nudges, thread_path))
            .map_err(|source| StoreError::Io {
                path: db_path.to_owned(),
                context: "starting the checkpoint thread for",
                source,
            })?;
        let mut wal_path = db_path.as_os_str().to_owned();
        wal_path.push("-wal");
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            wal_path: wal_path.into(),
        })
    }

    /// Asks for a checkpoint; never blocks.
    pub(crate) fn nudge(&self) {
        let nudge = self.nudge.as_ref().expect("present until drop");
        match nudge.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!("sqlite checkpoint thread has stopped; WAL is checkpointed inline")
            }
        }
    }

    /// Whether the WAL has grown past `WAL_BYTES_MAX` (the writer should checkpoint inline).
    pub(crate) fn wal_too_large(&self) -> bool {
        std::fs::metadata(&self.wal_path).is_ok_and(|meta| meta.len() > WAL_BYTES_MAX)
    }
}

fn run(conn: Connection, nudges: Receiver<()>, path: PathBuf) {
    while nudges.recv().is_ok() {
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        });
        if let Err(error) = result {
            // The WAL is durable either way; only its size is at stake.
            tracing::warn!(path = %path.display(), %error, "sqlite background checkpoint failed");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!(wal = %self.wal_path.display(), "sqlite checkpoint thread panicked");
        }
    }
}
