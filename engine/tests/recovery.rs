//! Store failures while serving (issue 14, item 5). A lost PostgreSQL connection or a database
//! that refuses connections for a while is recovered in the process: the batch being committed
//! is answered once the store is back, other requests get 503 with `Retry-After` meanwhile, and
//! `/healthz` says `recovering`. A commit whose outcome was unknown is found in the log by its
//! seq and not appended twice. A store that stays unreachable past `--recovery-timeout-s`, or a
//! log that another writer appended to, makes `kanjo serve` exit non-zero; the restart replays
//! the log and nothing acknowledged is lost or applied twice.
//!
//! Each test acts on its own database or directory: the shared PostgreSQL cluster is never
//! restarted here (other test binaries use it at the same time). "PostgreSQL is restarting" is
//! played by refusing connections to the test database (`ALLOW_CONNECTIONS false`) and
//! terminating its sessions, which is what a restart does to kanjo.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Response, Server, TempDir, array_body, at, kanjo, topup};
use kanjo_engine::machine::Machine;
use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::store::testdb::TestDatabase;
use kanjo_engine::store::{
    EntryKind, LogEntry, LogRecord, PgStore, SQLITE_FILE_NAME, SqliteStore, Store, StoreError,
    StoreTarget,
};
use serde_json::Value;

const RIDERS: u64 = 5;
/// How long a test waits for a state the server should reach by itself.
const STATE_WAIT_MS: u64 = 30_000;
/// A short recovery timeout, so that the exit paths take seconds.
const SHORT_RECOVERY_TIMEOUT_S: &str = "2";
/// `kanjo serve` exit statuses (`kanjo serve --help`).
const EXIT_STORE_UNREACHABLE: i32 = 3;
const EXIT_STORE_REFUSED: i32 = 4;

/// `count` top-ups with ids `{label}-{n}`, spread over a few riders.
fn topups(label: &str, count: u64) -> Vec<Value> {
    (0..count)
        .map(|n| {
            topup(
                &format!("{label}-{n}"),
                &format!("rr-{}", n % RIDERS),
                "JPY",
                100 + n,
                &at(n),
            )
        })
        .collect()
}

fn id_of(event: &Value) -> &str {
    event["id"].as_str().expect("built with an id")
}

/// Every acknowledged top-up, to check the server against.
#[derive(Default)]
struct Acked {
    events: Vec<Value>,
}

impl Acked {
    fn add(&mut self, events: &[Value], answers: &[Value]) {
        assert_eq!(answers.len(), events.len(), "one answer per event");
        for (event, answer) in events.iter().zip(answers) {
            assert_eq!(answer["id"], event["id"], "{answer}");
            assert_eq!(answer["status"], "accepted", "{answer}");
        }
        self.events.extend_from_slice(events);
    }

    /// Each acknowledged event is stored once: every wallet holds exactly its top-ups, its
    /// history names each of them once, and the bank's side sums them all.
    fn check(&self, server: &Server) {
        let mut wallets: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
        for event in &self.events {
            let wallet = wallets
                .entry(format!(
                    "rider:{}:JPY",
                    event["rider"].as_str().expect("rider")
                ))
                .or_default();
            wallet.0 += event["amount"].as_u64().expect("amount");
            wallet.1.push(id_of(event).to_owned());
        }
        let mut total = 0;
        for (wallet, (amount, mut ids)) in wallets {
            assert_eq!(server.balance(&wallet), i128::from(amount), "{wallet}");
            let mut seen = common::account_history_events(server, &wallet);
            seen.sort();
            ids.sort();
            assert_eq!(seen, ids, "{wallet} holds each acknowledged event once");
            total += amount;
        }
        assert_eq!(server.balance("bank:default:JPY"), i128::from(total));
        let health = server.get("/healthz");
        assert_eq!(health.status, 200, "{}", health.body);
    }
}

fn post_answered(server: &Server, events: &[Value]) -> Vec<Value> {
    let response = server.post("/v1/events", &array_body(events));
    assert_eq!(response.status, 200, "{}\n{}", response.body, server.log());
    response.json()["results"]
        .as_array()
        .expect("results")
        .clone()
}

/// Posts until answered 200, as a client honouring 503 + `Retry-After` does (without waiting the
/// whole second). Returns the answers and how many 503s came first.
fn post_until_answered(server: &Server, events: &[Value]) -> (Vec<Value>, usize) {
    let started = Instant::now();
    let mut unavailable = 0;
    loop {
        let response = server.post("/v1/events", &array_body(events));
        if response.status == 200 {
            let answers = response.json()["results"]
                .as_array()
                .expect("results")
                .clone();
            return (answers, unavailable);
        }
        assert_eq!(response.status, 503, "{}", response.body);
        assert_retry_after(&response);
        unavailable += 1;
        assert!(
            started.elapsed() < Duration::from_millis(STATE_WAIT_MS),
            "still 503 after {STATE_WAIT_MS} ms: {}\n{}",
            response.body,
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_retry_after(response: &Response) {
    let seconds: u64 = response
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a 503 carries Retry-After in seconds: {response:?}"));
    assert!(seconds >= 1, "{response:?}");
}

/// A 503 with the given error code and `Retry-After`.
fn assert_unavailable(response: &Response, code: &str) {
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], code, "{}", response.body);
    assert_retry_after(response);
}

/// Polls `/healthz` until it reports `status`; returns that response.
fn wait_for_health(server: &Server, status: &str) -> Response {
    let started = Instant::now();
    loop {
        let response = server.get("/healthz");
        if response.json()["status"] == status {
            return response;
        }
        assert!(
            started.elapsed() < Duration::from_millis(STATE_WAIT_MS),
            "/healthz never said {status}; last: {} {}\n{}",
            response.status,
            response.body,
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An unanswered batch is all in the log or not at all; the client then resends it, and the
/// resend is answered from the log when it is there.
fn settle_unanswered(server: &Server, acked: &mut Acked, events: &[Value]) {
    let present = events
        .iter()
        .filter(|event| server.get(&format!("/v1/events/{}", id_of(event))).status == 200)
        .count();
    assert!(
        present == 0 || present == events.len(),
        "half of an unanswered batch is stored: {present} of {}",
        events.len()
    );
    let answers = post_answered(server, events);
    acked.add(events, &answers);
}

fn trial_balance_holds(store_args: &[&str]) {
    let report = kanjo(&[&["report", "trial-balance"], store_args].concat());
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success() && stdout.contains("balanced"),
        "trial balance: {}\n{stdout}\n{}",
        report.status,
        String::from_utf8_lossy(&report.stderr)
    );
}

/// Ends every session of the test database (kanjo's), waiting until each is gone, as a
/// PostgreSQL restart or `pg_terminate_backend` by an administrator does.
fn terminate_sessions(db: &TestDatabase) {
    db.execute_admin(&format!(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name()
    ))
    .expect("terminate the test database's sessions");
}

/// New connections to the test database are refused (or allowed again).
fn allow_connections(db: &TestDatabase, allowed: bool) {
    db.execute_admin(&format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}",
        db.name()
    ))
    .expect("change ALLOW_CONNECTIONS");
}

fn test_database() -> TestDatabase {
    TestDatabase::create()
        .expect("the PostgreSQL test server is reachable (ops/scripts/test starts it)")
}

/// (a) Kanjo's sessions are terminated between batches, first with the database reachable at
/// once, then while it refuses connections for a while: no restart, nothing lost, nothing
/// applied twice, `/healthz` goes `recovering` and back to `ok`.
#[test]
fn postgres_sessions_terminated_between_batches_are_recovered_in_the_process() {
    let db = test_database();
    let store_args = ["--database-url", db.url()];
    let server = Server::start(&store_args);
    // Keys are made through the pipeline, so make the reader's before the store goes away.
    common::key_for(server.addr, "auditor").expect("an auditor key");
    let mut acked = Acked::default();
    let before = topups("before", 8);
    acked.add(&before, &post_answered(&server, &before));

    terminate_sessions(&db);
    let after_kill = topups("after-kill", 8);
    let (answers, _) = post_until_answered(&server, &after_kill);
    acked.add(&after_kill, &answers);

    // As during a PostgreSQL restart: sessions end and new connections are refused for a while.
    allow_connections(&db, false);
    terminate_sessions(&db);
    let during = topups("during", 8);
    let addr = server.addr;
    let body = array_body(&during);
    let waiting = std::thread::spawn(move || common::http(addr, "POST", "/v1/events", Some(&body)));
    let health = wait_for_health(&server, "recovering");
    assert_eq!(health.status, 503);
    assert_retry_after(&health);
    assert!(health.json()["reason"].is_string(), "{}", health.body);
    let refused = topups("refused", 4);
    assert_unavailable(
        &server.post("/v1/events", &array_body(&refused)),
        "recovering",
    );
    assert_unavailable(&server.get("/v1/events/before-0"), "recovering");
    assert_unavailable(
        &server.post(
            "/v1/riders",
            &common::licence_returned_rider("rr-x").to_string(),
        ),
        "recovering",
    );

    allow_connections(&db, true);
    let answered = waiting
        .join()
        .expect("the waiting client")
        .expect("the batch being committed is answered once the store is back");
    assert_eq!(answered.status, 200, "{}", answered.body);
    acked.add(
        &during,
        answered.json()["results"].as_array().expect("results"),
    );
    let health = wait_for_health(&server, "ok");
    assert_eq!(health.status, 200);
    assert!(
        health.json()["store_recoveries"].as_u64() >= Some(1),
        "{}",
        health.body
    );
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("kanjo_store_recoveries_total{outcome=\"recovered\"}"),
        "{metrics}"
    );
    let (answers, _) = post_until_answered(&server, &refused);
    acked.add(&refused, &answers);
    acked.check(&server);

    // The log holds each acknowledged event once: a restart replays to the same balances.
    let status = server.interrupt(STATE_WAIT_MS);
    assert!(status.success(), "kanjo serve exits 0 on SIGINT: {status}");
    let server = Server::start(&store_args);
    acked.check(&server);
    drop(server);
    trial_balance_holds(&store_args);
}

/// A PostgreSQL store whose connections are all terminated right after the COMMIT of one
/// chosen record, before its answer is read: the commit's outcome is unknown to kanjo.
struct LosesConnectionAfterCommit {
    inner: PgStore,
    db: Arc<TestDatabase>,
    /// The seq whose commit loses the connection; 0 when disarmed.
    fault_seq: Arc<AtomicU64>,
    /// Every seq handed to `append_many`, in order.
    appended: Arc<Mutex<Vec<u64>>>,
}

impl Store for LosesConnectionAfterCommit {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        self.inner.last_seq()
    }

    fn append(&mut self, record: &LogRecord) -> Result<(), StoreError> {
        self.append_many(std::slice::from_ref(record))
    }

    fn append_many(&mut self, records: &[LogRecord]) -> Result<(), StoreError> {
        self.appended
            .lock()
            .unwrap()
            .extend(records.iter().map(|record| record.seq));
        self.inner.append_many(records)?;
        let fault_seq = self.fault_seq.load(Ordering::SeqCst);
        if !records.iter().any(|record| record.seq == fault_seq) {
            return Ok(());
        }
        self.fault_seq.store(0, Ordering::SeqCst);
        // Committed; now every session ends before kanjo hears back, and what it hears is the
        // error its next use of the connection gives.
        terminate_sessions(&self.db);
        match self.inner.last_seq() {
            Err(error) => Err(error),
            Ok(last) => panic!(
                "the test could not lose the connection: last_seq() answered {last} after the \
                 sessions were terminated"
            ),
        }
    }

    fn read(&mut self, from_seq: u64, max_records: usize) -> Result<Vec<LogRecord>, StoreError> {
        self.inner.read(from_seq, max_records)
    }

    fn read_links(
        &mut self,
        from_seq: u64,
        max_records: usize,
    ) -> Result<Vec<kanjo_engine::store::StoredLink>, StoreError> {
        self.inner.read_links(from_seq, max_records)
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.meta(key)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_meta(key, value)
    }

    fn put_source(&mut self, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_source(digest, bytes)
    }

    fn source(&mut self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.source(digest)
    }

    fn count_entries(&mut self, kind: EntryKind) -> Result<u64, StoreError> {
        self.inner.count_entries(kind)
    }

    fn claim_writer(&mut self) -> Result<(), StoreError> {
        self.inner.claim_writer()
    }

    fn reconnect(&mut self) -> Result<(), StoreError> {
        self.inner.reconnect()
    }
}

fn wallet_balance(engine: &Engine, rider: &'static str) -> Option<u64> {
    engine
        .query_blocking(move |machine: &Machine| {
            let id = kanjo_engine::chart::AccountName::Rider {
                rider,
                asset: "JPY",
            }
            .id();
            machine
                .ledger()
                .account(id)
                .map(|account| account.credits_posted - account.debits_posted)
        })
        .expect("a query")
}

/// (b) The connection is lost right after COMMIT: kanjo reconnects, finds the record at its seq,
/// answers the batch, and never hands that record to the store again.
#[test]
fn a_commit_whose_outcome_is_unknown_is_found_by_seq_and_not_appended_twice() {
    let db = Arc::new(test_database());
    let target = StoreTarget::Postgres {
        url: db.url().to_owned(),
    };
    let fault_seq = Arc::new(AtomicU64::new(0));
    let appended = Arc::new(Mutex::new(Vec::new()));
    let store = LosesConnectionAfterCommit {
        inner: PgStore::open(db.url()).expect("open the test database"),
        db: Arc::clone(&db),
        fault_seq: Arc::clone(&fault_seq),
        appended: Arc::clone(&appended),
    };
    let config = EngineConfig::new(target.clone(), common::programme_path());
    let engine = Engine::start_with_store(config, Box::new(store)).expect("the engine starts");
    let event = |id: &str, amount: u64| common::event(&topup(id, "rr-u", "JPY", amount, &at(0)));

    let first = engine.submit(vec![event("u-1", 1_000)]).expect("first");
    assert!(first[0].outcome.is_accepted());
    let unknown_seq = engine.committed_seq() + 1;
    fault_seq.store(unknown_seq, Ordering::SeqCst);
    let second = engine
        .submit(vec![event("u-2", 300), event("u-3", 20)])
        .expect("a commit whose connection dropped after COMMIT is answered after recovery");
    assert!(second.iter().all(|answer| answer.outcome.is_accepted()));
    assert_eq!(fault_seq.load(Ordering::SeqCst), 0, "the fault fired");
    assert_eq!(engine.committed_seq(), unknown_seq);
    assert_eq!(engine.recoveries(), 1);
    let third = engine.submit(vec![event("u-4", 4)]).expect("third");
    assert!(third[0].outcome.is_accepted());
    assert_eq!(wallet_balance(&engine, "rr-u"), Some(1_324));
    engine.shutdown();

    let handed = appended.lock().unwrap().clone();
    assert_eq!(
        handed.iter().filter(|seq| **seq == unknown_seq).count(),
        1,
        "seq {unknown_seq} was found in the log, not appended again: {handed:?}"
    );
    let mut log = PgStore::open(db.url()).expect("open");
    assert_eq!(log.count_entries(EntryKind::Event).expect("count"), 4);
    drop(log);
    let engine = Engine::start(EngineConfig::new(target, common::programme_path()))
        .expect("a restart replays");
    assert_eq!(wallet_balance(&engine, "rr-u"), Some(1_324));
    engine.shutdown();
}

/// (c) The database refuses connections for longer than `--recovery-timeout-s`: the waiting
/// client gets 503, `kanjo serve` exits with status 3, and a restart loses nothing.
#[test]
fn postgres_unreachable_past_the_recovery_timeout_exits_non_zero_and_a_restart_loses_nothing() {
    let db = test_database();
    let store_args = ["--database-url", db.url()];
    let server = Server::start(&[
        store_args[0],
        store_args[1],
        "--recovery-timeout-s",
        SHORT_RECOVERY_TIMEOUT_S,
    ]);
    let mut acked = Acked::default();
    let before = topups("before", 6);
    acked.add(&before, &post_answered(&server, &before));

    allow_connections(&db, false);
    terminate_sessions(&db);
    let started = Instant::now();
    let unanswered = topups("unanswered", 6);
    let response = server.post("/v1/events", &array_body(&unanswered));
    assert_unavailable(&response, "stopped");
    let status = server.wait_exit(STATE_WAIT_MS);
    assert_eq!(status.code(), Some(EXIT_STORE_UNREACHABLE), "{status}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "kanjo waited out its recovery timeout before exiting"
    );

    allow_connections(&db, true);
    let server = Server::start(&store_args);
    acked.check(&server);
    settle_unanswered(&server, &mut acked, &unanswered);
    acked.check(&server);
    drop(server);
    trial_balance_holds(&store_args);
}

/// Files made immutable (`chattr +i`) for the life of the guard: writes through kanjo's open
/// descriptors fail as on a file system remounted read-only, even for root.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Immutable {
        for path in paths {
            let status = Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .expect("run chattr (e2fsprogs)");
            assert!(
                status.success(),
                "chattr +i {} failed: this test needs root (CAP_LINUX_IMMUTABLE) on ext4, xfs or btrfs",
                path.display()
            );
        }
        Immutable(paths.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

fn sqlite_files(data: &Path) -> Vec<PathBuf> {
    let file = data.join(SQLITE_FILE_NAME);
    let wal = data.join(format!("{SQLITE_FILE_NAME}-wal"));
    assert!(file.exists() && wal.exists(), "the store is in WAL mode");
    vec![file, wal]
}

/// (d) The SQLite file can't be written: a short spell is recovered in the process; a longer one
/// makes `kanjo serve` exit with status 3, and a restart on the writable file loses nothing.
#[test]
fn an_unwritable_sqlite_file_is_waited_out_then_exits_non_zero_and_a_restart_recovers() {
    let dir = TempDir::new("recovery-readonly");
    let data = dir.join("store");
    let data_arg = data.to_str().expect("a UTF-8 temp path");
    let store_args = ["--data", data_arg];
    let server = Server::start(&["--data", data_arg, "--recovery-timeout-s", "5"]);
    let mut acked = Acked::default();
    let before = topups("before", 6);
    acked.add(&before, &post_answered(&server, &before));

    let immutable = Immutable::set(&sqlite_files(&data));
    let during = topups("during", 6);
    let addr = server.addr;
    let body = array_body(&during);
    let waiting = std::thread::spawn(move || common::http(addr, "POST", "/v1/events", Some(&body)));
    wait_for_health(&server, "recovering");
    drop(immutable);
    let answered = waiting
        .join()
        .expect("the waiting client")
        .expect("answered once the file is writable again");
    assert_eq!(answered.status, 200, "{}", answered.body);
    acked.add(
        &during,
        answered.json()["results"].as_array().expect("results"),
    );
    wait_for_health(&server, "ok");

    let immutable = Immutable::set(&sqlite_files(&data));
    let unanswered = topups("unanswered", 6);
    assert_unavailable(
        &server.post("/v1/events", &array_body(&unanswered)),
        "stopped",
    );
    let status = server.wait_exit(STATE_WAIT_MS);
    assert_eq!(status.code(), Some(EXIT_STORE_UNREACHABLE), "{status}");
    drop(immutable);

    let server = Server::start(&store_args);
    acked.check(&server);
    settle_unanswered(&server, &mut acked, &unanswered);
    acked.check(&server);
    drop(server);
    trial_balance_holds(&store_args);
}

/// A record another writer appended behind kanjo's back: one valid top-up.
fn foreign_record(seq: u64) -> (LogRecord, Value) {
    let event = topup("foreign-1", "rr-foreign", "JPY", 777, &at(0));
    let clock_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64;
    let record = LogRecord {
        seq,
        clock_ns,
        entries: vec![LogEntry {
            kind: EntryKind::Event,
            id: "foreign-1".to_owned(),
            body: event.to_string().into_bytes(),
        }],
    };
    (record, event)
}

/// (e) Another writer appended to the log: kanjo's next commit meets its record, the client
/// gets 503, `kanjo serve` exits with status 4 at once, and the restart replays both writers'
/// records with nothing lost.
fn another_writer_stops_the_server(store_args: &[&str], open: impl FnOnce() -> Box<dyn Store>) {
    let server = Server::start(store_args);
    let mut acked = Acked::default();
    let before = topups("before", 6);
    acked.add(&before, &post_answered(&server, &before));

    let mut other = open();
    let seq = other.last_seq().expect("last seq") + 1;
    let (record, event) = foreign_record(seq);
    other.append(&record).expect("the other writer appends");
    drop(other);

    let unanswered = topups("unanswered", 6);
    assert_unavailable(
        &server.post("/v1/events", &array_body(&unanswered)),
        "stopped",
    );
    let status = server.wait_exit(STATE_WAIT_MS);
    assert_eq!(status.code(), Some(EXIT_STORE_REFUSED), "{status}");

    let server = Server::start(store_args);
    acked.events.push(event);
    acked.check(&server);
    settle_unanswered(&server, &mut acked, &unanswered);
    acked.check(&server);
    drop(server);
    trial_balance_holds(store_args);
}

#[test]
fn another_writer_on_the_sqlite_log_makes_serve_exit_non_zero_and_a_restart_recovers() {
    let dir = TempDir::new("recovery-other-writer");
    let data = dir.join("store");
    let data_arg = data.to_str().expect("a UTF-8 temp path");
    another_writer_stops_the_server(&["--data", data_arg], || {
        Box::new(SqliteStore::open(&data).expect("open the same file"))
    });
}

#[test]
fn another_writer_on_the_postgres_log_makes_serve_exit_non_zero_and_a_restart_recovers() {
    let db = test_database();
    another_writer_stops_the_server(&["--database-url", db.url()], || {
        Box::new(PgStore::open(db.url()).expect("open the same database"))
    });
}
