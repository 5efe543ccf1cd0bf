//! Shared helpers for the engine's integration tests: temporary stores, the `kanjo` binary as a
//! child process, HTTP through `kanjo_engine::client`, and event builders.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use kanjo_engine::client::{HttpClient, HttpError};
use kanjo_engine::pipeline::{Engine, EngineConfig};
use kanjo_engine::store::StoreTarget;
use serde_json::{Value, json};

/// How long a test waits for `kanjo serve` to say where it listens.
const SERVER_START_TIMEOUT_MS: u64 = 30_000;
/// How long one HTTP exchange may take before the test calls it a hang.
const HTTP_TIMEOUT_MS: u64 = 60_000;
/// Server stderr kept for failure messages.
const SERVER_LOG_BYTES_MAX: usize = 64 * 1024;

/// The demo programme every engine test runs against.
pub fn programme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/muroran/programme.toml")
}

pub fn kanjo_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kanjo")
}

/// A directory under cargo's per-target scratch space, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "kanjo-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("remove a stale test directory");
        }
        std::fs::create_dir_all(&path).expect("create a test directory");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A store directory inside this one.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn sqlite(data_dir: &Path) -> StoreTarget {
    StoreTarget::Sqlite {
        data_dir: data_dir.to_path_buf(),
    }
}

/// An in-process engine on the demo programme.
pub fn start_engine(store: StoreTarget) -> Engine {
    Engine::start(EngineConfig::new(store, programme_path())).expect("the engine starts")
}

/// Runs `kanjo ARGS…` to completion.
pub fn kanjo(args: &[&str]) -> Output {
    Command::new(kanjo_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the kanjo binary")
}

/// `kanjo serve` as a child process on an ephemeral port.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// `store_args` name the store: `["--data", DIR]` or `["--database-url", URL]`, plus any other flag.
    pub fn start(store_args: &[&str]) -> Server {
        let programme = programme_path();
        let mut child = Command::new(kanjo_bin())
            .arg("serve")
            .args(store_args)
            .arg("--programme")
            .arg(&programme)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kanjo serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<SocketAddr>();
        let thread_log = Arc::clone(&log);
        // Drains stderr for the whole life of the child, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("serving on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    if let (Some(tx), Ok(addr)) = (ready.as_ref(), addr.parse()) {
                        let _ = tx.send(addr);
                        ready = None;
                    }
                }
                let mut log = thread_log.lock().unwrap();
                if log.len() < SERVER_LOG_BYTES_MAX {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let addr = match ready_rx.recv_timeout(Duration::from_millis(SERVER_START_TIMEOUT_MS)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "kanjo serve did not start ({status:?}); stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        Server { child, addr, log }
    }

    /// SIGKILL: no shutdown path runs, like a power cut for the process.
    pub fn kill(mut self) {
        self.child.kill().expect("kill kanjo serve");
        self.child.wait().expect("reap kanjo serve");
    }

    /// SIGINT (Ctrl-C): the graceful path. Waits for the exit, at most `timeout_ms`.
    pub fn interrupt(mut self, timeout_ms: u64) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT {pid}");
        self.exit_within(timeout_ms, "after SIGINT")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the process to exit by itself, at most `timeout_ms`.
    pub fn wait_exit(mut self, timeout_ms: u64) -> std::process::ExitStatus {
        self.exit_within(timeout_ms, "by itself")
    }

    /// Polls until the process has exited; fails the test after `timeout_ms`.
    fn exit_within(&mut self, timeout_ms: u64, how: &str) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll kanjo serve") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_millis(timeout_ms),
                "kanjo serve did not exit {how} within {timeout_ms} ms; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn get(&self, path: &str) -> Response {
        http(self.addr, "GET", path, None)
            .unwrap_or_else(|error| panic!("GET {path}: {error}\n{}", self.log()))
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        http(self.addr, "POST", path, Some(body))
            .unwrap_or_else(|error| panic!("POST {path}: {error}\n{}", self.log()))
    }

    /// An account's JSON, or `None` when it does not exist (404).
    pub fn account(&self, name: &str) -> Option<Value> {
        let response = self.get(&format!("/v1/accounts/{name}"));
        match response.status {
            200 => Some(response.json()),
            404 => None,
            other => panic!("GET account {name}: {other} {}", response.body),
        }
    }

    /// An account's balance as the API reads it (credit- or debit-normal); 0 when it does not exist.
    pub fn balance(&self, name: &str) -> i128 {
        self.account(name).map_or(0, |account| balance_of(&account))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The event of every transfer in an account's history, following `next_after` page by page.
pub fn account_history_events(server: &Server, account: &str) -> Vec<String> {
    const HISTORY_PAGES_MAX: usize = 100;
    let mut events = Vec::new();
    let mut path = format!("/v1/accounts/{account}/transfers?limit=1000");
    for _ in 0..HISTORY_PAGES_MAX {
        let response = server.get(&path);
        assert_eq!(response.status, 200, "{}", response.body);
        let page = response.json();
        for transfer in page["transfers"].as_array().expect("transfers") {
            events.push(
                transfer["event"]
                    .as_str()
                    .expect("every transfer names its event")
                    .to_owned(),
            );
        }
        match page["next_after"].as_u64() {
            Some(cursor) => {
                path = format!("/v1/accounts/{account}/transfers?limit=1000&after={cursor}")
            }
            None => return events,
        }
    }
    panic!("{account} has more than {HISTORY_PAGES_MAX} pages of history")
}

pub fn balance_of(account: &Value) -> i128 {
    account["balance"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("an account JSON has a decimal balance: {account}"))
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP exchange through kanjo's client (one per test process, pooled connections).
/// An error means no complete response arrived: the server may or may not have acted on it.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Response, HttpError> {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        HttpClient::new(Duration::from_millis(HTTP_TIMEOUT_MS)).expect("start the HTTP client")
    });
    let body = body.unwrap_or("").as_bytes().to_vec();
    let response = client.request(&addr.to_string(), method, path, "application/json", body)?;
    let text = String::from_utf8(response.body).expect("kanjo answers in UTF-8");
    Ok(Response {
        status: response.status,
        headers: response.headers,
        body: text,
    })
}

/// A local time on the test day (2026-11-26, JST) `seconds` after 06:00.
pub fn at(seconds: u64) -> String {
    let base: jiff::Timestamp = "2026-11-26T06:00:00+09:00"
        .parse()
        .expect("a fixed instant");
    let instant = base + jiff::SignedDuration::from_secs(seconds as i64);
    instant.to_string()
}

/// A resident of Muroran who returned their driving licence: half fare on town buses, funded by
/// the transit subsidy, 10 muro-pt per ride and a drone delivery every 5th ride.
pub fn licence_returned_rider(rider: &str) -> Value {
    json!({
        "rider": rider,
        "birth_date": "1960-01-15",
        "residence": "012050",
        "license_returned_on": "2025-03-01",
        "verified_at": "2026-04-01",
        "valid_until": "2027-03-31",
    })
}

pub fn topup(id: &str, rider: &str, asset: &str, amount_minor: u64, at: &str) -> Value {
    json!({"id": id, "type": "topup", "at": at, "rider": rider, "asset": asset, "amount": amount_minor})
}

pub fn grant(id: &str, rider: &str, asset: &str, amount_minor: u64, at: &str) -> Value {
    json!({"id": id, "type": "grant", "at": at, "rider": rider, "asset": asset, "amount": amount_minor})
}

pub fn redeem(id: &str, rider: &str, asset: &str, place: &str, at: &str) -> Value {
    json!({"id": id, "type": "redeem", "at": at, "rider": rider, "asset": asset, "place": place})
}

/// A ride on the flat-fare town bus (100 yen) paid from the rider's wallet.
pub fn town_bus_wallet_ride(id: &str, rider: &str, at: &str) -> Value {
    json!({"id": id, "type": "ride", "at": at, "operator": "town-bus", "rider": rider, "media": "wallet"})
}

/// Events as the JSON-array body `POST /v1/events` takes.
pub fn array_body(events: &[Value]) -> String {
    Value::Array(events.to_vec()).to_string()
}

/// Parses a value the tests built into a typed event.
pub fn event(value: &Value) -> kanjo_engine::event::Event {
    kanjo_engine::event::Event::from_value(value).unwrap_or_else(|error| panic!("{value}: {error}"))
}
