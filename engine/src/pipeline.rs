//! The event pipeline: bounded queue → one machine thread → one commit thread → answers.
//!
//! ```text
//!  submit()  ──(bounded queue)──▶ machine thread ──(bounded, FIFO)──▶ commit thread ──▶ replies
//!                                 group commit: ≤ 8 190 events        store.append(record)
//!                                 or batch_wait_us after the first    then answer every submitter
//! ```
//! The machine applies batch N+1 while the store commits batch N. No answer leaves before its
//! record is durable, and a read (a query) is delivered through the same FIFO, so it never shows
//! state whose record is not durable yet. A commit that fails transiently (a lost connection, a
//! database restart) is retried in place (`recovery`): the engine is `Recovering` and refuses new
//! work meanwhile. If a commit fails for good, or recovery times out, the pipeline stops
//! (fail-stop): the in-memory state is ahead of the store, and only a restart (replay) makes them
//! agree again, so the engine reports `Failed` and `kanjo serve` exits non-zero.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};
use kanjo_rules::{Programme, RiderRecord};
use thiserror::Error;
use tokio::sync::oneshot;

use crate::answer::{AnswerContext, Outcome, Rejection, RejectionCode};
use crate::auth_layer::{self, AuthState, Caller};
use crate::chart::{AssetBook, AssetSection};
use crate::event::Event;
use crate::machine::{Machine, MachineConfig, Prepared};
use crate::recovery::{self, Failure, Health, HealthCell, RECOVERY_TIMEOUT_S_DEFAULT};
use crate::store::{self, EntryError, EntryKind, LogEntry, LogRecord, Store, StoreTarget};
use kanjo_auth::{KeyBookError, KeyChange, KeyId, Principal};
use kanjo_core::machine::{DeviceKey, KeyRefusal, KeyRefusalCode};
use kanjo_core::reconcile::{ReconRefusal, ReconRun, Resolution};
use kanjo_core::settlement::{
    FinanceCommand, FinanceRefusal, FinanceResult, PayoutCommand, SettleCommand,
};
use kanjo_core::shops::ShopSpec;

/// The ledger's batch limit is also the largest group commit.
pub const BATCH_EVENTS_MAX: usize = kanjo_ledger::TRANSFERS_PER_BATCH_MAX;
/// One request or in-process submission; larger ones are split by the caller.
pub const SUBMISSION_EVENTS_MAX: usize = BATCH_EVENTS_MAX;
// A batch is one log record, so it holds no more entries than a record may.
const _: () = assert!(BATCH_EVENTS_MAX <= store::LOG_ENTRIES_PER_RECORD_MAX);
const _: () = assert!(SUBMISSION_EVENTS_MAX <= BATCH_EVENTS_MAX);
/// Records applied but not yet committed: the pipelining depth.
const COMMIT_QUEUE_RECORDS_MAX: usize = 4;
/// Records that waited together are committed together, up to this many.
const COMMIT_GROUP_RECORDS_MAX: usize = COMMIT_QUEUE_RECORDS_MAX;
/// Commands (submissions, queries) waiting for the machine thread.
const COMMAND_QUEUE_MAX: usize = 16 * 1024;
/// Records read per page during replay.
const REPLAY_PAGE_RECORDS: usize = 16;
const META_PROGRAMME_DIGEST: &str = "programme_digest";
const META_PROGRAMME_PATH: &str = "programme_path";

/// The programme a store was last started with, so later commands need not name it again.
pub fn stored_programme_path(
    target: &StoreTarget,
) -> Result<Option<std::path::PathBuf>, store::StoreError> {
    let mut store = store::open(target)?;
    Ok(store
        .meta(META_PROGRAMME_PATH)?
        .map(std::path::PathBuf::from))
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub store: StoreTarget,
    pub programme: std::path::PathBuf,
    pub machine: MachineConfig,
    /// Close a batch at this many events…
    pub batch_events_max: usize,
    /// …or this long after its first event arrived.
    pub batch_wait_us: u64,
    /// Events accepted into the queue but not yet taken by the machine; past it, `QueueFull`.
    pub queue_events_max: usize,
    /// Replay and answer queries only: takes no writer lock, writes nothing, refuses submissions.
    /// For reports and balances beside a running server.
    pub read_only: bool,
    /// How long a commit that failed transiently is retried before the engine fails; zero
    /// turns recovery off (the first failed commit stops the engine).
    pub recovery_timeout: Duration,
}

impl EngineConfig {
    pub fn new(store: StoreTarget, programme: impl Into<std::path::PathBuf>) -> EngineConfig {
        EngineConfig {
            store,
            programme: programme.into(),
            machine: MachineConfig::default(),
            batch_events_max: BATCH_EVENTS_MAX,
            batch_wait_us: 2_000,
            queue_events_max: 8 * BATCH_EVENTS_MAX,
            read_only: false,
            recovery_timeout: Duration::from_secs(RECOVERY_TIMEOUT_S_DEFAULT),
        }
    }
}

#[derive(Debug, Error)]
pub enum StartError {
    #[error("programme {path}: {message}")]
    Programme { path: String, message: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(
        "the store was created with another programme (digest {stored}); this one has digest {given}. \
         A store replays its log with the programme it was written with: use that programme or a new store"
    )]
    ProgrammeChanged { stored: String, given: String },
    #[error("replaying record {seq}: {message}")]
    Replay { seq: u64, message: String },
    #[error("starting the {thread} thread: {source}")]
    Thread {
        thread: &'static str,
        source: std::io::Error,
    },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("the queue is full ({queued} events waiting); retry shortly")]
    QueueFull { queued: usize },
    #[error("a submission holds at most {SUBMISSION_EVENTS_MAX} events, this one {0}")]
    TooLarge(usize),
    #[error("the engine stopped: {0}")]
    Stopped(String),
    #[error("the store is unreachable and kanjo is reconnecting ({0}); retry shortly")]
    Recovering(String),
}

/// One event's answer, as the submitter sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub id: String,
    pub outcome: Outcome,
}

type Deliver = Box<dyn FnOnce() + Send>;
/// Per rider record: accepted, or why not.
pub type RiderResults = Vec<Result<(), String>>;
type RiderReply = oneshot::Sender<Result<RiderResults, SubmitError>>;
/// Per device-key record: accepted, or the machine's refusal (its code is the answer's).
pub type KeyResults = Vec<Result<(), KeyRefusal>>;
type KeyReply = oneshot::Sender<Result<KeyResults, SubmitError>>;
/// Per finance record (reconciliation run, resolution): kept, or the machine's refusal.
pub type ReconResults = Vec<Result<(), ReconRefusal>>;
type ReconReply = oneshot::Sender<Result<ReconResults, SubmitError>>;

/// A finance record of the log: a reconciliation run (entry 8) or a resolution (entry 9).
#[derive(Clone, Debug)]
pub enum ReconRecord {
    Run(ReconRun),
    Resolve(Resolution),
}

impl ReconRecord {
    fn entry(&self) -> (EntryKind, String, String) {
        match self {
            ReconRecord::Run(run) => (
                EntryKind::Reconciliation,
                run.id.clone(),
                run.canonical_json(),
            ),
            ReconRecord::Resolve(resolution) => (
                EntryKind::Resolution,
                resolution.entry_id(),
                resolution.canonical_json(),
            ),
        }
    }
}
/// Per API key change: applied, or why the key book refused it.
pub type KeyChangeResults = Vec<Result<(), KeyBookError>>;
type KeyChangeReply = oneshot::Sender<Result<KeyChangeResults, SubmitError>>;
type Query = Box<dyn FnOnce(&Machine) -> Deliver + Send>;
/// Per settlement or payout command: its answer or refusal.
pub type FinanceResults = Vec<FinanceResult>;
type FinanceReply = oneshot::Sender<Result<FinanceResults, SubmitError>>;

enum Command {
    Events {
        items: Vec<Prepared>,
        caller: Caller,
        reply: oneshot::Sender<Result<Vec<Answer>, SubmitError>>,
    },
    Riders {
        records: Vec<(String, RiderRecord)>,
        reply: RiderReply,
    },
    /// API key changes (create, revoke), applied to the key book in log order.
    KeyChanges {
        changes: Vec<KeyChange>,
        reply: KeyChangeReply,
    },
    /// Shop records: canonical JSON and the record; answered like rider records.
    Shops {
        records: Vec<(String, ShopSpec)>,
        reply: RiderReply,
    },
    /// Device keys of riders, for customer tokens.
    Keys {
        records: Vec<DeviceKey>,
        reply: KeyReply,
    },
    /// Programme versions (issue 12); a version carrying its source has it kept by the commit
    /// thread before the record naming it. Answered like rider records (a refusal's message
    /// names the key); a refused or known version is not logged.
    Programmes {
        records: Vec<crate::programme_cli::VersionItem>,
        reply: RiderReply,
    },
    /// Settlements and payouts (issue 10).
    Finance {
        items: Vec<FinanceCommand>,
        reply: FinanceReply,
    },
    Recon {
        records: Vec<ReconRecord>,
        reply: ReconReply,
    },
    Query(Query),
    /// Finish what is queued before this, then stop.
    Shutdown,
}

enum Pending {
    Events {
        answers: Vec<Answer>,
        reply: oneshot::Sender<Result<Vec<Answer>, SubmitError>>,
    },
    Riders {
        results: RiderResults,
        reply: RiderReply,
    },
    Keys {
        results: KeyResults,
        reply: KeyReply,
    },
    Finance {
        results: FinanceResults,
        reply: FinanceReply,
    },
    Recon {
        results: ReconResults,
        reply: ReconReply,
    },
    KeyChanges {
        results: KeyChangeResults,
        reply: KeyChangeReply,
    },
}

/// A programme source to keep under its digest before the record that names it.
type SourceToKeep = (String, Arc<Vec<u8>>);

enum CommitItem {
    Record {
        record: LogRecord,
        pending: Vec<Pending>,
        sources: Vec<SourceToKeep>,
    },
    Deliver(Deliver),
}

struct Shared {
    queued_events: AtomicUsize,
    queue_events_max: usize,
    /// No new work is taken (shut down or failed); what the machine applied still commits.
    closed: AtomicBool,
    /// A commit failed: nothing more is committed or answered.
    stopped: AtomicBool,
    stop_reason: std::sync::Mutex<String>,
    committed_seq: AtomicU64,
    committed_events: AtomicU64,
    health: HealthCell,
    /// The latest programme version: it names every rule, budget and pass place of every
    /// version, so answers are labelled with it; replaced when a version is applied live.
    labels: std::sync::RwLock<Arc<Programme>>,
}

impl Shared {
    /// Takes no new work; applied records still commit and answer.
    fn close(&self, reason: String) {
        let mut stop_reason = self
            .stop_reason
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if stop_reason.is_empty() {
            *stop_reason = reason;
        }
        self.closed.store(true, Ordering::SeqCst);
    }

    /// A commit failed: memory is ahead of the store, so nothing more may be answered.
    fn stop(&self, reason: String) {
        self.close(reason);
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn stop_reason(&self) -> String {
        self.stop_reason
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// `AnswerContext` with the latest programme version read at each answer, so a version applied
/// while serving labels its new rules at once, as a restart would.
pub struct LiveAnswers<'a> {
    labels: &'a std::sync::RwLock<Arc<Programme>>,
    pub assets: &'a AssetBook,
}

impl LiveAnswers<'_> {
    /// The latest programme version.
    pub fn programme(&self) -> Arc<Programme> {
        Arc::clone(
            &self
                .labels
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub fn to_json(&self, id: &str, outcome: &Outcome) -> serde_json::Value {
        let programme = self.programme();
        let context = AnswerContext {
            programme: &programme,
            assets: self.assets,
        };
        context.to_json(id, outcome)
    }
}

/// A running engine. Cheap to clone; every clone talks to the same pipeline.
#[derive(Clone)]
pub struct Engine {
    commands: Sender<Command>,
    shared: Arc<Shared>,
    /// The TOML of the programme the store was created with: a version keeps its engine sections.
    first_programme_toml: Arc<str>,
    assets: Arc<AssetBook>,
    backend: &'static str,
    threads: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    /// The API key book and who sent each event (`auth_layer`).
    auth: Arc<AuthState>,
}

/// Loads a programme and its engine section (`[[assets]]`).
pub fn load_programme(path: &Path) -> Result<(Arc<Programme>, AssetBook), StartError> {
    let failed = |message: String| StartError::Programme {
        path: path.display().to_string(),
        message,
    };
    let programme = Programme::load(path).map_err(|error| failed(error.to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|error| failed(error.to_string()))?;
    let section: AssetSection = toml::from_str(&text).map_err(|error| failed(error.to_string()))?;
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::from_section(&path.display().to_string(), section, &granted)
        .map_err(|error| failed(error.to_string()))?;
    Ok((Arc::new(programme), assets))
}

impl Engine {
    /// Opens the store, replays its log, and starts the machine and commit threads.
    pub fn start(config: EngineConfig) -> Result<Engine, StartError> {
        let store = store::open(&config.store)?;
        Engine::start_with_store(config, store)
    }

    /// `start` on a store opened by the caller (`config.store` is not opened): for embedding,
    /// and for tests that wrap a store to inject faults.
    pub fn start_with_store(
        config: EngineConfig,
        mut store: Box<dyn Store>,
    ) -> Result<Engine, StartError> {
        assert!(config.batch_events_max > 0 && config.batch_events_max <= BATCH_EVENTS_MAX);
        let (programme, assets) = load_programme(&config.programme)?;
        let first_programme_toml: Arc<str> = std::fs::read_to_string(&config.programme)
            .map_err(|error| StartError::Programme {
                path: config.programme.display().to_string(),
                message: error.to_string(),
            })?
            .into();
        if !config.read_only {
            // Before anything is written: a second writer would race the first for the next seq.
            store.claim_writer()?;
        }
        let digest = format!("{:032x}", programme.source_digest());
        match store.meta(META_PROGRAMME_DIGEST)? {
            Some(stored) if stored != digest => {
                return Err(StartError::ProgrammeChanged {
                    stored,
                    given: digest,
                });
            }
            Some(_) => {}
            None if config.read_only => {}
            None => store.set_meta(META_PROGRAMME_DIGEST, &digest)?,
        }
        if !config.read_only
            && let Ok(path) = std::fs::canonicalize(&config.programme)
        {
            store.set_meta(META_PROGRAMME_PATH, &path.display().to_string())?;
        }
        let mut machine = Machine::new(
            Arc::clone(&programme),
            assets.clone(),
            config.machine.clone(),
        )
        .map_err(|error| StartError::Programme {
            path: config.programme.display().to_string(),
            message: error.to_string(),
        })?;
        let auth = AuthState::new();
        let (last_seq, replayed_events) = replay(store.as_mut(), &mut machine, &auth)?;
        // Answers name rules and budgets by place; the latest version names every place.
        let programme = Arc::clone(machine.programme());
        tracing::info!(
            records = last_seq,
            events = replayed_events,
            backend = store.backend(),
            "replayed the log"
        );

        let shared = Arc::new(Shared {
            queued_events: AtomicUsize::new(0),
            queue_events_max: config.queue_events_max,
            closed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            stop_reason: std::sync::Mutex::new(String::new()),
            committed_seq: AtomicU64::new(last_seq),
            committed_events: AtomicU64::new(replayed_events),
            health: HealthCell::new(),
            labels: std::sync::RwLock::new(programme),
        });
        if config.read_only {
            shared.close("this engine was started read-only (for reports and balances)".into());
        }
        let (command_tx, command_rx) = channel::bounded(COMMAND_QUEUE_MAX);
        let (commit_tx, commit_rx) = channel::bounded(COMMIT_QUEUE_RECORDS_MAX);
        let backend = store.backend();

        let commit_shared = Arc::clone(&shared);
        let recovery_timeout = config.recovery_timeout;
        let committer = std::thread::Builder::new()
            .name("kanjo-commit".into())
            .spawn(move || commit_loop(store, commit_rx, recovery_timeout, &commit_shared))
            .map_err(|source| StartError::Thread {
                thread: "commit",
                source,
            })?;
        let machine_shared = Arc::clone(&shared);
        let machine_auth = Arc::clone(&auth);
        let batch = BatchLimits {
            events_max: config.batch_events_max,
            wait: Duration::from_micros(config.batch_wait_us),
        };
        let applier = std::thread::Builder::new()
            .name("kanjo-machine".into())
            .spawn(move || {
                machine_loop(
                    machine,
                    &machine_auth,
                    last_seq,
                    batch,
                    command_rx,
                    commit_tx,
                    &machine_shared,
                )
            })
            .map_err(|source| StartError::Thread {
                thread: "machine",
                source,
            })?;

        Ok(Engine {
            commands: command_tx,
            shared,
            first_programme_toml,
            assets: Arc::new(assets),
            backend,
            threads: Arc::new(std::sync::Mutex::new(vec![applier, committer])),
            auth,
        })
    }

    /// The API key book and the principal of each event.
    pub fn auth(&self) -> &Arc<AuthState> {
        &self.auth
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Labels answers with the latest programme version at the time each answer is made.
    pub fn answer_context(&self) -> LiveAnswers<'_> {
        LiveAnswers {
            labels: &self.shared.labels,
            assets: &self.assets,
        }
    }

    /// The TOML of the programme the store was created with (`programme_cli::read_version`).
    pub fn first_programme_toml(&self) -> &str {
        &self.first_programme_toml
    }

    pub fn committed_seq(&self) -> u64 {
        self.shared.committed_seq.load(Ordering::Acquire)
    }

    pub fn committed_events(&self) -> u64 {
        self.shared.committed_events.load(Ordering::Acquire)
    }

    pub fn queued_events(&self) -> usize {
        self.shared.queued_events.load(Ordering::Acquire)
    }

    /// `Ok`, `Recovering` (a commit is being retried; no new work is taken) or `Failed`.
    pub fn health(&self) -> Health {
        self.shared.health.get()
    }

    /// Follows `health` as it changes.
    pub fn watch_health(&self) -> tokio::sync::watch::Receiver<Health> {
        self.shared.health.subscribe()
    }

    /// Why the engine failed, once it has.
    pub fn failure(&self) -> Option<Failure> {
        self.shared.health.failure()
    }

    /// What the store said last while the engine recovers.
    pub fn recovering_reason(&self) -> String {
        self.shared.health.recovering_reason()
    }

    /// Transient store failures recovered from since start.
    pub fn recoveries(&self) -> u64 {
        self.shared.health.recoveries()
    }

    /// Resolves once the engine failed: its clients were answered with `Stopped`, and the
    /// process should exit non-zero so that a supervisor restarts it and replay resumes.
    pub async fn failed(&self) -> Failure {
        let mut health = self.shared.health.subscribe();
        if health
            .wait_for(|health| *health == Health::Failed)
            .await
            .is_err()
        {
            std::future::pending::<()>().await; // the engine is gone; it never failed
        }
        self.failure().expect("set before Failed is sent")
    }

    /// A shutdown was asked for (a signal): a store recovery in progress gives up at its next
    /// retry instead of waiting out its timeout, so the process stops in time. Work is still
    /// taken until `shutdown`.
    pub fn request_shutdown(&self) {
        self.shared.health.request_shutdown();
    }

    fn check_running(&self) -> Result<(), SubmitError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Stopped(self.shared.stop_reason()));
        }
        if self.shared.health.get() == Health::Recovering {
            return Err(SubmitError::Recovering(self.recovering_reason()));
        }
        Ok(())
    }

    /// Queues prepared events; the receiver yields their answers once they are durable.
    pub fn submit_prepared(
        &self,
        items: Vec<Prepared>,
    ) -> Result<oneshot::Receiver<Result<Vec<Answer>, SubmitError>>, SubmitError> {
        self.submit_prepared_as(items, Caller::Local)
    }

    /// `submit_prepared` for a caller: with an API key, each event is checked against its scope
    /// (`forbidden` alone otherwise) and logged with the key id.
    pub fn submit_prepared_as(
        &self,
        items: Vec<Prepared>,
        caller: Caller,
    ) -> Result<oneshot::Receiver<Result<Vec<Answer>, SubmitError>>, SubmitError> {
        self.check_running()?;
        if items.len() > SUBMISSION_EVENTS_MAX {
            return Err(SubmitError::TooLarge(items.len()));
        }
        let count = items.len();
        if count == 0 {
            // Nothing to make durable: answered at once rather than waiting for a batch.
            let (reply, answers) = oneshot::channel();
            let _ = reply.send(Ok(Vec::new()));
            return Ok(answers);
        }
        let queued = self.shared.queued_events.fetch_add(count, Ordering::AcqRel);
        if queued + count > self.shared.queue_events_max && queued > 0 {
            self.shared.queued_events.fetch_sub(count, Ordering::AcqRel);
            metrics::counter!("kanjo_submissions_refused_total").increment(1);
            return Err(SubmitError::QueueFull { queued });
        }
        let (reply, answers) = oneshot::channel();
        self.send(Command::Events {
            items,
            caller,
            reply,
        })
        .inspect_err(|_| {
            self.shared.queued_events.fetch_sub(count, Ordering::AcqRel);
        })?;
        Ok(answers)
    }

    /// Queues a command without waiting: a full command queue is back-pressure, not a wait.
    fn send(&self, command: Command) -> Result<(), SubmitError> {
        self.commands
            .try_send(command)
            .map_err(|error| match error {
                TrySendError::Full(_) => SubmitError::QueueFull {
                    queued: self.queued_events(),
                },
                TrySendError::Disconnected(_) => SubmitError::Stopped(self.shared.stop_reason()),
            })
    }

    /// Submits events and waits (blocking) until they are durable. Not for async contexts.
    pub fn submit(&self, events: Vec<Event>) -> Result<Vec<Answer>, SubmitError> {
        let items = events.into_iter().map(Prepared::new).collect();
        let receiver = self.submit_prepared(items)?;
        receiver
            .blocking_recv()
            .map_err(|_| SubmitError::Stopped(self.shared.stop_reason()))?
    }

    /// Adds or replaces rider records; durable when the receiver yields.
    pub fn submit_riders(
        &self,
        records: Vec<(String, RiderRecord)>,
    ) -> Result<oneshot::Receiver<Result<RiderResults, SubmitError>>, SubmitError> {
        self.submit_records(records, |records, reply| Command::Riders { records, reply })
    }

    /// Adds or replaces shops (checked records and their canonical JSON); durable when the
    /// receiver yields.
    pub fn submit_shops(
        &self,
        records: Vec<(String, ShopSpec)>,
    ) -> Result<oneshot::Receiver<Result<RiderResults, SubmitError>>, SubmitError> {
        self.submit_records(records, |records, reply| Command::Shops { records, reply })
    }

    /// Registers riders' device keys (checked at the edge: `kanjo_qr::token::parse_public_key`);
    /// durable when the receiver yields.
    pub fn submit_keys(
        &self,
        records: Vec<DeviceKey>,
    ) -> Result<oneshot::Receiver<Result<KeyResults, SubmitError>>, SubmitError> {
        self.submit_records(records, |records, reply| Command::Keys { records, reply })
    }

    /// Applies programme versions (each with its source, kept before its entry); durable when
    /// the receiver yields. A version already applied answers Ok and is not logged again.
    pub fn submit_programmes(
        &self,
        records: Vec<crate::programme_cli::VersionItem>,
    ) -> Result<oneshot::Receiver<Result<RiderResults, SubmitError>>, SubmitError> {
        self.submit_records(records, |records, reply| Command::Programmes {
            records,
            reply,
        })
    }

    /// Creates or revokes API keys (checked at the edge with `AuthState::check_change`); each
    /// takes effect on the key book once applied, and the receiver yields once it is durable.
    pub fn submit_key_changes(
        &self,
        changes: Vec<KeyChange>,
    ) -> Result<oneshot::Receiver<Result<KeyChangeResults, SubmitError>>, SubmitError> {
        self.submit_records(changes, |changes, reply| Command::KeyChanges {
            changes,
            reply,
        })
    }

    /// Queues reconciliation runs and resolutions; each is answered once durable.
    pub fn submit_recon(
        &self,
        records: Vec<ReconRecord>,
    ) -> Result<oneshot::Receiver<Result<ReconResults, SubmitError>>, SubmitError> {
        self.submit_records(records, |records, reply| Command::Recon { records, reply })
    }

    /// Settles periods and records payouts (checked at the edge); durable when the receiver
    /// yields.
    pub fn submit_finance(
        &self,
        items: Vec<FinanceCommand>,
    ) -> Result<oneshot::Receiver<Result<FinanceResults, SubmitError>>, SubmitError> {
        self.submit_records(items, |items, reply| Command::Finance { items, reply })
    }

    /// `submit_recon` for one record, waiting for its answer (the CLI and tests).
    pub fn submit_recon_blocking(
        &self,
        record: ReconRecord,
    ) -> Result<Result<(), ReconRefusal>, SubmitError> {
        let results = self
            .submit_recon(vec![record])?
            .blocking_recv()
            .map_err(|_| SubmitError::Stopped(self.shared.stop_reason()))??;
        Ok(results.into_iter().next().expect("one answer per record"))
    }

    /// Sends a submission of records (riders, shops, device keys) as one command, at most
    /// `SUBMISSION_EVENTS_MAX` of them; an empty one is answered at once.
    fn submit_records<R, T>(
        &self,
        records: Vec<R>,
        command: impl FnOnce(Vec<R>, oneshot::Sender<Result<Vec<T>, SubmitError>>) -> Command,
    ) -> Result<oneshot::Receiver<Result<Vec<T>, SubmitError>>, SubmitError> {
        self.check_running()?;
        if records.len() > SUBMISSION_EVENTS_MAX {
            return Err(SubmitError::TooLarge(records.len()));
        }
        let (reply, results) = oneshot::channel();
        if records.is_empty() {
            let _ = reply.send(Ok(Vec::new()));
            return Ok(results);
        }
        self.send(command(records, reply))?;
        Ok(results)
    }

    /// Runs `read` on the machine thread; the result arrives once everything it saw is durable.
    pub fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Machine) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, SubmitError> {
        // Reads go on while the engine is closed to new work (read-only), not once it failed,
        // nor while it recovers (a read would wait for the recovering commits).
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(SubmitError::Stopped(self.shared.stop_reason()));
        }
        if self.shared.health.get() == Health::Recovering {
            return Err(SubmitError::Recovering(self.recovering_reason()));
        }
        let (reply, result) = oneshot::channel();
        let query: Query = Box::new(move |machine: &Machine| {
            let value = read(machine);
            Box::new(move || {
                let _ = reply.send(value);
            })
        });
        self.send(Command::Query(query))?;
        Ok(result)
    }

    /// A blocking `query`, for the CLI and tests.
    pub fn query_blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Machine) -> T + Send + 'static,
    ) -> Result<T, SubmitError> {
        self.query(read)?
            .blocking_recv()
            .map_err(|_| SubmitError::Stopped(self.shared.stop_reason()))
    }

    /// Stops taking work, lets queued work finish and commit, and joins the threads. Other
    /// clones of this engine get `Stopped` afterwards.
    pub fn shutdown(self) {
        let threads = std::mem::take(
            &mut *self
                .threads
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if threads.is_empty() {
            return; // another clone already shut it down
        }
        self.request_shutdown();
        // A blocking send: the queue may be full, and the shutdown must not be lost.
        let _ = self.commands.send(Command::Shutdown);
        drop(self.commands);
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Who sent an event of a batch.
enum EventFrom {
    /// In-process: no key.
    Local,
    /// A key, live: its scope is checked before the event is applied.
    Key(Arc<Principal>),
    /// A key, as the log recorded it (replay): the event was in scope when it was logged.
    Logged(KeyId),
}

impl EventFrom {
    fn key_id(&self) -> Option<KeyId> {
        match self {
            EventFrom::Local => None,
            EventFrom::Key(principal) => Some(principal.key_id),
            EventFrom::Logged(key_id) => Some(*key_id),
        }
    }
}

/// What one batch holds, in log order.
enum BatchItem {
    Event(Prepared, EventFrom),
    Rider(String, RiderRecord),
    Shop(String, ShopSpec),
    Key(String, DeviceKey),
    Programme(crate::programme_cli::VersionItem),
    Finance(String, FinanceCommand),
    Recon(ReconRecord),
    KeyChange(String, KeyChange),
}

impl BatchItem {
    /// The log's per-entry limits, as `LogRecord::validate` will check them at commit.
    fn loggable(&self) -> Result<(), EntryError> {
        match self {
            BatchItem::Event(prepared, from) => {
                let principal_bytes = from.key_id().map_or(0, |_| auth_layer::PRINCIPAL_BYTES - 1);
                store::check_entry(
                    &prepared.event.id,
                    prepared.canonical.len() + principal_bytes,
                )
            }
            BatchItem::Rider(text, record) => store::check_entry(&record.rider, text.len()),
            BatchItem::Shop(text, spec) => store::check_entry(&spec.id, text.len()),
            BatchItem::Key(text, key) => store::check_entry(&key.rider, text.len()),
            BatchItem::Programme(item) => store::check_entry(&item.entry_id(), item.text.len()),
            BatchItem::Finance(text, command) => {
                store::check_entry(&command.entry_id(), text.len())
            }
            BatchItem::Recon(record) => {
                let (_, id, text) = record.entry();
                store::check_entry(&id, text.len())
            }
            BatchItem::KeyChange(text, change) => {
                store::check_entry(&key_change_id(change), text.len())
            }
        }
    }
}

/// A key change's log entry id: the key's id.
fn key_change_id(change: &KeyChange) -> String {
    match change {
        KeyChange::Create { key } => key.key_id().to_string(),
        KeyChange::Revoke { key_id, .. } => key_id.to_string(),
    }
}

enum ItemResult {
    Event(Outcome),
    /// Outside the sending key's scope: answered `forbidden`, neither applied nor logged.
    Forbidden(Rejection),
    KeyChange(Result<(), KeyBookError>),
    Rider(Result<(), String>),
    Shop(Result<(), String>),
    Key(Result<(), KeyRefusal>),
    Finance(FinanceResult),
    Recon(Result<(), ReconRefusal>),
    /// A programme version: its number or refusal, and whether it is new (only then logged).
    Version {
        result: Result<u32, String>,
        new: bool,
    },
    /// Not applied and not logged: one such entry would fail the whole record at commit.
    Unloggable(EntryError),
}

/// Applies one batch to the machine: the same code for live batches and for replay, so the two
/// can't drift apart.
fn apply_batch(
    machine: &mut Machine,
    auth: &AuthState,
    clock_ns: u64,
    items: &[BatchItem],
) -> Vec<ItemResult> {
    machine.begin_batch(clock_ns);
    let results = items
        .iter()
        .map(|item| {
            // Defence in depth: parsing refuses what the log can't hold, but an `Event` built in
            // code could still carry it. Refused before the machine sees it, the item is neither
            // applied nor logged, so memory and log agree and the rest of the batch commits.
            if let Err(error) = item.loggable() {
                return ItemResult::Unloggable(error);
            }
            match item {
                BatchItem::Event(prepared, from) => apply_event(machine, auth, prepared, from),
                BatchItem::KeyChange(_, change) => ItemResult::KeyChange(auth.apply_change(change)),
                BatchItem::Rider(_, record) => {
                    ItemResult::Rider(machine.upsert_rider(record.clone()))
                }
                BatchItem::Shop(_, spec) => ItemResult::Shop(machine.upsert_shop(spec.clone())),
                BatchItem::Key(_, key) => ItemResult::Key(machine.register_device_key(key)),
                BatchItem::Programme(item) => apply_programme(machine, item),
                BatchItem::Finance(_, command) => ItemResult::Finance(command.apply(machine)),
                BatchItem::Recon(ReconRecord::Run(run)) => {
                    ItemResult::Recon(machine.record_reconciliation(run))
                }
                BatchItem::Recon(ReconRecord::Resolve(resolution)) => {
                    ItemResult::Recon(machine.resolve_exception(resolution))
                }
            }
        })
        .collect();
    machine.expire_taps();
    machine.expire_authorizations();
    machine.expire_lots();
    results
}

/// One programme version: applied unless the books refuse it; new only when not known before.
fn apply_programme(machine: &mut Machine, item: &crate::programme_cli::VersionItem) -> ItemResult {
    let known = machine.versions().iter().any(|version| {
        Ok(version.digest) == item.entry.digest_value()
            && Ok(version.effective_ns) == item.entry.effective_ns()
    });
    let result = machine
        .apply_version(&item.entry, Arc::clone(&item.programme), &item.assets)
        .map_err(|refusal| refusal.to_string());
    ItemResult::Version {
        new: result.is_ok() && !known,
        result,
    }
}

/// One event: its scope checked (a live key's), applied, and its sender recorded.
fn apply_event(
    machine: &mut Machine,
    auth: &AuthState,
    prepared: &Prepared,
    from: &EventFrom,
) -> ItemResult {
    let submit = match from {
        EventFrom::Local => return ItemResult::Event(machine.apply(prepared)),
        EventFrom::Key(principal) => {
            let submit = auth_layer::submit_of(machine, &prepared.event);
            let action = kanjo_auth::Action::Submit(submit.clone());
            if let Err(forbidden) = kanjo_auth::authorize(principal, &action) {
                let message = format!("key {}: {forbidden}", principal.key_id);
                return ItemResult::Forbidden(Rejection::new(RejectionCode::Forbidden, message));
            }
            submit
        }
        EventFrom::Logged(_) => auth_layer::submit_of(machine, &prepared.event),
    };
    let outcome = machine.apply(prepared);
    if let Some(key_id) = from.key_id() {
        auth.stamp(prepared.id_hash, key_id, &submit);
    }
    ItemResult::Event(outcome)
}

fn replay(
    store: &mut dyn Store,
    machine: &mut Machine,
    auth: &AuthState,
) -> Result<(u64, u64), StartError> {
    let mut next_seq = 1;
    let mut events = 0u64;
    loop {
        let records = store.read(next_seq, REPLAY_PAGE_RECORDS)?;
        if records.is_empty() {
            break;
        }
        for record in records {
            if record.seq != next_seq {
                return Err(StartError::Replay {
                    seq: next_seq,
                    message: format!("the log jumps from {} to {}", next_seq - 1, record.seq),
                });
            }
            let items = record
                .entries
                .into_iter()
                .map(|entry| {
                    let decoded = match entry.kind {
                        EntryKind::Programme => crate::programme_cli::decode_version(store, &entry)
                            .map(BatchItem::Programme),
                        _ => decode_entry(&entry),
                    };
                    decoded.map_err(|message| StartError::Replay {
                        seq: record.seq,
                        message,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            events += items
                .iter()
                .filter(|item| matches!(item, BatchItem::Event(..)))
                .count() as u64;
            apply_batch(machine, auth, record.clock_ns, &items);
            next_seq += 1;
        }
    }
    Ok((next_seq - 1, events))
}

fn decode_entry(entry: &LogEntry) -> Result<BatchItem, String> {
    let text =
        std::str::from_utf8(&entry.body).map_err(|error| format!("entry {}: {error}", entry.id))?;
    match entry.kind {
        EntryKind::Event => {
            let from = match auth_layer::split_principal(text)
                .map_err(|error| format!("event {}: {error}", entry.id))?
            {
                Some(key_id) => EventFrom::Logged(key_id),
                None => EventFrom::Local,
            };
            Event::parse(text)
                .map(|event| BatchItem::Event(Prepared::new(event), from))
                .map_err(|error| format!("event {}: {error}", entry.id))
        }
        EntryKind::KeyChange => KeyChange::from_json(text)
            .map(|change| BatchItem::KeyChange(text.to_owned(), change))
            .map_err(|error| format!("key change {}: {error}", entry.id)),
        EntryKind::Rider => serde_json::from_str::<RiderRecord>(text)
            .map(|record| BatchItem::Rider(text.to_owned(), record))
            .map_err(|error| format!("rider {}: {error}", entry.id)),
        EntryKind::Shop => serde_json::from_str::<ShopSpec>(text)
            .map(|spec| BatchItem::Shop(text.to_owned(), spec))
            .map_err(|error| format!("shop {}: {error}", entry.id)),
        EntryKind::DeviceKey => serde_json::from_str::<DeviceKey>(text)
            .map(|key| BatchItem::Key(text.to_owned(), key))
            .map_err(|error| format!("device key {}: {error}", entry.id)),
        EntryKind::Programme => Err(format!(
            "programme version {}: decoded with the store (its source)",
            entry.id
        )),
        EntryKind::Settlement => SettleCommand::parse(text)
            .map(|command| BatchItem::Finance(text.to_owned(), FinanceCommand::Settle(command)))
            .map_err(|error| format!("settlement {}: {error}", entry.id)),
        EntryKind::Payout => PayoutCommand::parse(text)
            .map(|command| BatchItem::Finance(text.to_owned(), FinanceCommand::Payout(command)))
            .map_err(|error| format!("payout {}: {error}", entry.id)),
        EntryKind::Reconciliation => serde_json::from_str::<ReconRun>(text)
            .map(|run| BatchItem::Recon(ReconRecord::Run(run)))
            .map_err(|error| format!("reconciliation {}: {error}", entry.id)),
        EntryKind::Resolution => serde_json::from_str::<Resolution>(text)
            .map(|resolution| BatchItem::Recon(ReconRecord::Resolve(resolution)))
            .map_err(|error| format!("resolution {}: {error}", entry.id)),
    }
}

#[derive(Clone, Copy)]
struct BatchLimits {
    events_max: usize,
    wait: Duration,
}

fn machine_loop(
    mut machine: Machine,
    auth: &AuthState,
    mut last_seq: u64,
    limits: BatchLimits,
    commands: Receiver<Command>,
    commits: Sender<CommitItem>,
    shared: &Shared,
) {
    let mut carried: Option<Command> = None;
    loop {
        let first = match carried.take() {
            Some(command) => command,
            None => match commands.recv() {
                Ok(command) => command,
                Err(_) => return, // every Engine handle is gone: shut down
            },
        };
        if !matches!(first, Command::Query(_) | Command::Shutdown) {
            if shared.closed.load(Ordering::Acquire) {
                refuse(first, SubmitError::Stopped(shared.stop_reason()), shared);
                continue;
            }
            if shared.health.get() == Health::Recovering {
                let reason = shared.health.recovering_reason();
                refuse(first, SubmitError::Recovering(reason), shared);
                continue;
            }
        }
        // A query between batches sees only applied batches; it is delivered after their commit.
        let first = match first {
            Command::Shutdown => {
                // Records already handed to the commit thread still commit and answer.
                shared.close("the engine was shut down".into());
                return;
            }
            Command::Query(query) => {
                let deliver = query(&machine);
                if commits.send(CommitItem::Deliver(deliver)).is_err() {
                    return;
                }
                continue;
            }
            other => other,
        };
        let started = Instant::now();
        let deadline = started + limits.wait;
        let mut items: Vec<BatchItem> = Vec::new();
        let mut shapes: Vec<(usize, PendingShape)> = Vec::new();
        let mut next = Some(first);
        loop {
            let command = match next.take() {
                Some(command) => command,
                None => {
                    let now = Instant::now();
                    if now >= deadline || items.len() >= limits.events_max {
                        break;
                    }
                    match commands.recv_timeout(deadline - now) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            let size = match &command {
                Command::Events { items, .. } => items.len(),
                Command::Riders { records, .. } => records.len(),
                Command::Shops { records, .. } => records.len(),
                Command::Keys { records, .. } => records.len(),
                Command::Programmes { records, .. } => records.len(),
                Command::Finance { items, .. } => items.len(),
                Command::Recon { records, .. } => records.len(),
                Command::KeyChanges { changes, .. } => changes.len(),
                Command::Query(_) | Command::Shutdown => 0,
            };
            if size > 0 && items.len() + size > limits.events_max {
                carried = Some(command);
                break;
            }
            match command {
                Command::Events {
                    items: events,
                    caller,
                    reply,
                } => {
                    shared
                        .queued_events
                        .fetch_sub(events.len(), Ordering::AcqRel);
                    shapes.push((events.len(), PendingShape::Events(reply)));
                    items.extend(events.into_iter().map(|prepared| {
                        let from = match &caller {
                            Caller::Local => EventFrom::Local,
                            Caller::Key(principal) => EventFrom::Key(Arc::clone(principal)),
                        };
                        BatchItem::Event(prepared, from)
                    }));
                }
                Command::KeyChanges { changes, reply } => {
                    shapes.push((changes.len(), PendingShape::KeyChanges(reply)));
                    items.extend(changes.into_iter().map(|change| {
                        let text = change.to_json();
                        BatchItem::KeyChange(text, change)
                    }));
                }
                Command::Riders { records, reply } => {
                    shapes.push((records.len(), PendingShape::Riders(reply)));
                    items.extend(
                        records
                            .into_iter()
                            .map(|(text, record)| BatchItem::Rider(text, record)),
                    );
                }
                Command::Shops { records, reply } => {
                    // Answered as rider records are: one result per record.
                    shapes.push((records.len(), PendingShape::Riders(reply)));
                    items.extend(
                        records
                            .into_iter()
                            .map(|(text, spec)| BatchItem::Shop(text, spec)),
                    );
                }
                Command::Programmes { records, reply } => {
                    shapes.push((records.len(), PendingShape::Riders(reply)));
                    items.extend(records.into_iter().map(BatchItem::Programme));
                }
                Command::Keys { records, reply } => {
                    shapes.push((records.len(), PendingShape::Keys(reply)));
                    items.extend(records.into_iter().map(|key| {
                        let text = key.canonical_json();
                        BatchItem::Key(text, key)
                    }));
                }
                Command::Finance {
                    items: commands,
                    reply,
                } => {
                    shapes.push((commands.len(), PendingShape::Finance(reply)));
                    items.extend(
                        commands
                            .into_iter()
                            .map(|command| BatchItem::Finance(command.canonical_json(), command)),
                    );
                }
                Command::Recon { records, reply } => {
                    shapes.push((records.len(), PendingShape::Recon(reply)));
                    items.extend(records.into_iter().map(BatchItem::Recon));
                }
                command @ (Command::Query(_) | Command::Shutdown) => {
                    // Handled after this batch (a query then sees it): close the batch here.
                    carried = Some(command);
                    break;
                }
            }
        }
        if items.is_empty() {
            continue;
        }
        let clock_ns = now_ns().max(machine.clock_ns() + 1);
        let results = apply_batch(&mut machine, auth, clock_ns, &items);
        if items
            .iter()
            .any(|item| matches!(item, BatchItem::Programme(_)))
        {
            *shared
                .labels
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::clone(machine.programme());
        }
        last_seq += 1;
        let sources = sources_to_keep(&items, &results);
        let (record, pending) = seal_batch(last_seq, clock_ns, items, results, shapes);
        metrics::histogram!("kanjo_batch_events").record(record.entries.len() as f64);
        metrics::histogram!("kanjo_batch_apply_seconds").record(started.elapsed().as_secs_f64());
        if commits
            .send(CommitItem::Record {
                record,
                pending,
                sources,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The sources of the new programme versions of a batch, to keep before its record.
fn sources_to_keep(items: &[BatchItem], results: &[ItemResult]) -> Vec<SourceToKeep> {
    items
        .iter()
        .zip(results)
        .filter_map(|(item, result)| match (item, result) {
            (BatchItem::Programme(item), ItemResult::Version { new: true, .. }) => item
                .source
                .as_ref()
                .map(|bytes| (item.entry.digest.clone(), Arc::clone(bytes))),
            _ => None,
        })
        .collect()
}

enum PendingShape {
    Events(oneshot::Sender<Result<Vec<Answer>, SubmitError>>),
    Riders(RiderReply),
    Keys(KeyReply),
    Finance(FinanceReply),
    Recon(ReconReply),
    KeyChanges(KeyChangeReply),
}

/// One item's answer, before the answers are handed to their submitters.
enum ItemAnswer {
    Event(Answer),
    Record(Result<(), String>),
    Key(Result<(), KeyRefusal>),
    Finance(FinanceResult),
    Recon(Result<(), ReconRefusal>),
    KeyChange(Result<(), KeyBookError>),
}

fn seal_batch(
    seq: u64,
    clock_ns: u64,
    items: Vec<BatchItem>,
    results: Vec<ItemResult>,
    shapes: Vec<(usize, PendingShape)>,
) -> (LogRecord, Vec<Pending>) {
    debug_assert_eq!(items.len(), results.len());
    let mut entries = Vec::with_capacity(items.len());
    let mut answers_by_item = Vec::with_capacity(items.len());
    for (item, result) in items.into_iter().zip(results) {
        let (answer, entry) = seal_item(item, result);
        answers_by_item.push(answer);
        entries.extend(entry);
    }
    let mut answers = answers_by_item.into_iter();
    let pending = shapes
        .into_iter()
        .map(|(count, shape)| {
            let taken = answers.by_ref().take(count);
            match shape {
                PendingShape::Events(reply) => Pending::Events {
                    answers: taken
                        .map(|answer| match answer {
                            ItemAnswer::Event(answer) => answer,
                            _ => unreachable!("event slots hold answers"),
                        })
                        .collect(),
                    reply,
                },
                PendingShape::Riders(reply) => Pending::Riders {
                    results: taken
                        .map(|answer| match answer {
                            ItemAnswer::Record(result) => result,
                            _ => unreachable!("rider and shop slots hold results"),
                        })
                        .collect(),
                    reply,
                },
                PendingShape::Keys(reply) => Pending::Keys {
                    results: taken
                        .map(|answer| match answer {
                            ItemAnswer::Key(result) => result,
                            _ => unreachable!("key slots hold key results"),
                        })
                        .collect(),
                    reply,
                },
                PendingShape::Finance(reply) => Pending::Finance {
                    results: taken
                        .map(|answer| match answer {
                            ItemAnswer::Finance(result) => result,
                            _ => unreachable!("finance slots hold finance results"),
                        })
                        .collect(),
                    reply,
                },
                PendingShape::Recon(reply) => Pending::Recon {
                    results: taken
                        .map(|answer| match answer {
                            ItemAnswer::Recon(result) => result,
                            _ => unreachable!("finance slots hold finance results"),
                        })
                        .collect(),
                    reply,
                },
                PendingShape::KeyChanges(reply) => Pending::KeyChanges {
                    results: taken
                        .map(|answer| match answer {
                            ItemAnswer::KeyChange(result) => result,
                            _ => unreachable!("key change slots hold key change results"),
                        })
                        .collect(),
                    reply,
                },
            }
        })
        .collect();
    (
        LogRecord {
            seq,
            clock_ns,
            entries,
        },
        pending,
    )
}

/// One item's answer, and its log entry unless it can't be logged.
fn seal_item(item: BatchItem, result: ItemResult) -> (ItemAnswer, Option<LogEntry>) {
    let entry = |kind, id, body: String| {
        Some(LogEntry {
            kind,
            id,
            body: body.into_bytes(),
        })
    };
    match (item, result) {
        (BatchItem::Event(prepared, from), ItemResult::Event(outcome)) => {
            let body = match from.key_id() {
                Some(key_id) => auth_layer::with_principal(key_id, &prepared.canonical),
                None => prepared.canonical,
            };
            (
                ItemAnswer::Event(Answer {
                    id: prepared.event.id.clone(),
                    outcome,
                }),
                entry(EntryKind::Event, prepared.event.id, body),
            )
        }
        (BatchItem::Event(prepared, _), ItemResult::Forbidden(rejection)) => (
            ItemAnswer::Event(Answer {
                id: prepared.event.id,
                outcome: Outcome::Rejected(rejection),
            }),
            None,
        ),
        (BatchItem::KeyChange(text, change), ItemResult::KeyChange(result)) => {
            // A refused change changed nothing: not logged.
            let logged = result
                .is_ok()
                .then(|| entry(EntryKind::KeyChange, key_change_id(&change), text))
                .flatten();
            (ItemAnswer::KeyChange(result), logged)
        }
        (BatchItem::KeyChange(..), ItemResult::Unloggable(error)) => {
            tracing::warn!(%error, "a key change the edge should have refused reached a batch");
            let refusal = KeyBookError::Unloggable(error.to_string());
            (ItemAnswer::KeyChange(Err(refusal)), None)
        }
        (BatchItem::Rider(text, record), ItemResult::Rider(result)) => (
            ItemAnswer::Record(result),
            entry(EntryKind::Rider, record.rider, text),
        ),
        (BatchItem::Shop(text, spec), ItemResult::Shop(result)) => (
            ItemAnswer::Record(result),
            entry(EntryKind::Shop, spec.id, text),
        ),
        (BatchItem::Programme(item), ItemResult::Version { result, new }) => {
            // A refused version changed nothing, and a known one is logged already.
            let logged = new
                .then(|| entry(EntryKind::Programme, item.entry_id(), item.text))
                .flatten();
            (ItemAnswer::Record(result.map(|_| ())), logged)
        }
        (BatchItem::Key(text, key), ItemResult::Key(result)) => (
            ItemAnswer::Key(result),
            entry(EntryKind::DeviceKey, key.rider, text),
        ),
        (BatchItem::Finance(text, command), ItemResult::Finance(result)) => {
            let kind = match command {
                FinanceCommand::Settle(_) => EntryKind::Settlement,
                FinanceCommand::Payout(_) => EntryKind::Payout,
            };
            (
                ItemAnswer::Finance(result),
                entry(kind, command.entry_id(), text),
            )
        }
        (BatchItem::Finance(..), ItemResult::Unloggable(error)) => {
            let refusal =
                FinanceRefusal::BadPayout(format!("the command can't be logged: {error}"));
            (ItemAnswer::Finance(Err(refusal)), None)
        }
        (BatchItem::Recon(record), ItemResult::Recon(result)) => {
            let (kind, id, text) = record.entry();
            // A refused run or resolution changed nothing: it is answered, not logged.
            let logged = if result.is_ok() {
                entry(kind, id, text)
            } else {
                None
            };
            (ItemAnswer::Recon(result), logged)
        }
        (BatchItem::Recon(_), ItemResult::Unloggable(error)) => {
            let refusal = kanjo_core::reconcile::ReconRefusal::new(
                kanjo_core::reconcile::ReconRefusalCode::BadRun,
                format!("the record can't be logged: {error}"),
            );
            (ItemAnswer::Recon(Err(refusal)), None)
        }
        (BatchItem::Event(prepared, _), ItemResult::Unloggable(error)) => {
            tracing::warn!(%error, "an event the parser should have refused reached a batch");
            let outcome = Outcome::Rejected(Rejection::new(
                RejectionCode::BadEvent,
                format!("the event can't be logged: {error}"),
            ));
            let answer = Answer {
                id: prepared.event.id,
                outcome,
            };
            (ItemAnswer::Event(answer), None)
        }
        (BatchItem::Key(..), ItemResult::Unloggable(error)) => {
            tracing::warn!(%error, "a device key the edge should have refused reached a batch");
            let message = format!("the record can't be logged: {error}");
            (
                ItemAnswer::Key(Err(KeyRefusal::new(KeyRefusalCode::BadKeyRecord, message))),
                None,
            )
        }
        (
            BatchItem::Rider(..) | BatchItem::Shop(..) | BatchItem::Programme(..),
            ItemResult::Unloggable(error),
        ) => {
            tracing::warn!(%error, "a record the parser should have refused reached a batch");
            let message = format!("the record can't be logged: {error}");
            (ItemAnswer::Record(Err(message)), None)
        }
        _ => unreachable!("apply_batch answers each item with its own kind"),
    }
}

fn refuse(command: Command, error: SubmitError, shared: &Shared) {
    match command {
        Command::Events { items, reply, .. } => {
            shared
                .queued_events
                .fetch_sub(items.len(), Ordering::AcqRel);
            let _ = reply.send(Err(error));
        }
        Command::Riders { reply, .. }
        | Command::Shops { reply, .. }
        | Command::Programmes { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Keys { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Finance { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Recon { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::KeyChanges { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Command::Query(_) | Command::Shutdown => {}
    }
}

fn commit_loop(
    mut store: Box<dyn Store>,
    items: Receiver<CommitItem>,
    recovery_timeout: Duration,
    shared: &Shared,
) {
    let mut held: Option<CommitItem> = None;
    loop {
        let item = match held.take() {
            Some(item) => item,
            None => match items.recv() {
                Ok(item) => item,
                Err(_) => return, // the machine thread ended and everything it sent is done
            },
        };
        match item {
            CommitItem::Deliver(deliver) => {
                if !shared.stopped.load(Ordering::Acquire) {
                    deliver();
                }
            }
            CommitItem::Record {
                record,
                pending,
                mut sources,
            } => {
                // Records that waited while the last commit ran share the next one.
                let mut group = vec![(record, pending)];
                while group.len() < COMMIT_GROUP_RECORDS_MAX {
                    match items.try_recv() {
                        Ok(CommitItem::Record {
                            record,
                            pending,
                            sources: more,
                        }) => {
                            group.push((record, pending));
                            sources.extend(more);
                        }
                        Ok(other) => {
                            held = Some(other); // a query: delivered after this group commits
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_group(store.as_mut(), group, &sources, recovery_timeout, shared);
            }
        }
    }
}

/// Programme sources go in before the records that name them, so a replay finds them (a crash
/// between the two leaves an unused source, which is harmless). A digest already kept is not
/// written again: the same digest compiles to the same programme, and replay checks that.
fn keep_sources(store: &mut dyn Store, sources: &[SourceToKeep]) -> Result<(), store::StoreError> {
    for (digest, bytes) in sources {
        if store.source(digest)?.is_none() {
            store.put_source(digest, bytes)?;
        }
    }
    Ok(())
}

fn commit_group(
    store: &mut dyn Store,
    group: Vec<(LogRecord, Vec<Pending>)>,
    sources: &[SourceToKeep],
    recovery_timeout: Duration,
    shared: &Shared,
) {
    if shared.stopped.load(Ordering::Acquire) {
        let reason = shared.stop_reason();
        for (_, pending) in group {
            fail_pending(pending, &reason);
        }
        return;
    }
    let (records, pendings): (Vec<LogRecord>, Vec<Vec<Pending>>) = group.into_iter().unzip();
    let started = Instant::now();
    let committed_seq = shared.committed_seq.load(Ordering::Acquire);
    let committed = keep_sources(store, sources)
        .map_err(recovery::CommitError::Refused)
        .and_then(|()| {
            recovery::commit(
                store,
                &records,
                committed_seq,
                recovery_timeout,
                &shared.health,
            )
        });
    match committed {
        Ok(()) => {
            metrics::histogram!("kanjo_commit_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("kanjo_commit_records").record(records.len() as f64);
            for (record, pending) in records.iter().zip(pendings) {
                let events = record
                    .entries
                    .iter()
                    .filter(|entry| entry.kind == EntryKind::Event)
                    .count() as u64;
                metrics::counter!("kanjo_events_committed_total").increment(events);
                shared.committed_seq.store(record.seq, Ordering::Release);
                shared.committed_events.fetch_add(events, Ordering::AcqRel);
                for waiting in pending {
                    match waiting {
                        Pending::Events { answers, reply } => {
                            let _ = reply.send(Ok(answers));
                        }
                        Pending::Riders { results, reply } => {
                            let _ = reply.send(Ok(results));
                        }
                        Pending::Keys { results, reply } => {
                            let _ = reply.send(Ok(results));
                        }
                        Pending::Finance { results, reply } => {
                            let _ = reply.send(Ok(results));
                        }
                        Pending::Recon { results, reply } => {
                            let _ = reply.send(Ok(results));
                        }
                        Pending::KeyChanges { results, reply } => {
                            let _ = reply.send(Ok(results));
                        }
                    }
                }
            }
        }
        Err(error) => {
            let seqs = match (records.first(), records.last()) {
                (Some(first), Some(last)) if first.seq == last.seq => {
                    format!("record {}", first.seq)
                }
                (Some(first), Some(last)) => format!("records {}..={}", first.seq, last.seq),
                _ => "no record".to_owned(),
            };
            let reason =
                format!("committing {seqs} failed: {error}; a restart replays the log and resumes");
            tracing::error!("{reason}");
            shared.stop(reason.clone());
            for pending in pendings {
                fail_pending(pending, &reason);
            }
            // After the answers: a server waiting for this stops only once they are sent.
            shared.health.fail(Failure {
                kind: error.kind(),
                reason,
            });
        }
    }
}

fn fail_pending(pending: Vec<Pending>, reason: &str) {
    for waiting in pending {
        match waiting {
            Pending::Events { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
            Pending::Riders { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
            Pending::Keys { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
            Pending::Finance { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
            Pending::Recon { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
            Pending::KeyChanges { reply, .. } => {
                let _ = reply.send(Err(SubmitError::Stopped(reason.to_owned())));
            }
        }
    }
}
