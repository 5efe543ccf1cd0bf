//! Shared helpers for the engine's integration tests: temporary stores, the `kanjo` binary as a
//! child process, HTTP through `kanjo_engine::client`, and event builders.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;
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
    /// A town-admin key is made on the store first (`kanjo keys create`, once per store in this
    /// test process), and `http` picks a key per request from it.
    pub fn start(store_args: &[&str]) -> Server {
        let programme = programme_path();
        let admin = admin_token_on_store(store_args);
        let mut child = Command::new(kanjo_bin())
            .arg("serve")
            .args(store_args)
            .arg("--programme")
            .arg(&programme)
            .args(["--listen", "127.0.0.1:0"])
            // Tests send faster than a person; the rate limit has its own test.
            .args(if store_args.contains(&"--rate-per-second") {
                &[][..]
            } else {
                &["--rate-per-second", "1000000", "--rate-burst", "1000000"][..]
            })
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
        register_admin(addr, &admin);
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

/// One HTTP exchange through kanjo's client (one per test process, pooled connections), with
/// the key the request needs when the server's keys were registered (`register_admin`): events
/// go with the key of the role that may send each (consecutive events of one role together, in
/// order, their answers joined), rider, shop and key writes with the town-admin key, reads with
/// the auditor's. An error means no complete response arrived: the server may or may not have
/// acted on it.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Response, HttpError> {
    let registered = keyrings().lock().unwrap().contains_key(&addr);
    if !registered || path == "/healthz" || path == "/openapi.json" {
        return http_as(addr, None, method, path, body);
    }
    if method == "POST" && path == "/v1/events" {
        return post_events_by_role(addr, body.unwrap_or(""));
    }
    let role = if method == "GET" {
        "auditor"
    } else if path.ends_with("/resolve") {
        // Only a clerk resolves reconciliation exceptions.
        "clerk"
    } else {
        "town-admin"
    };
    let token = key_for(addr, role)?;
    http_as(addr, Some(&token), method, path, body)
}

/// One HTTP exchange with this bearer token (or none).
pub fn http_as(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Response, HttpError> {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        HttpClient::new(Duration::from_millis(HTTP_TIMEOUT_MS)).expect("start the HTTP client")
    });
    let body = body.unwrap_or("").as_bytes().to_vec();
    let response = client.request_with_token(
        &addr.to_string(),
        method,
        path,
        "application/json",
        body,
        token,
    )?;
    let text = String::from_utf8(response.body).expect("kanjo answers in UTF-8");
    Ok(Response {
        status: response.status,
        headers: response.headers,
        body: text,
    })
}

/// The keys of one server under test.
struct Keyring {
    by_role: HashMap<String, String>,
}

/// Purchase and authorisation ids → their shop, for the captures, voids and refunds after (also
/// after a restart, on a server with another address).
fn shop_of_payment() -> &'static Mutex<HashMap<String, String>> {
    static SHOPS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    SHOPS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn keyrings() -> &'static Mutex<HashMap<SocketAddr, Keyring>> {
    static KEYRINGS: OnceLock<Mutex<HashMap<SocketAddr, Keyring>>> = OnceLock::new();
    KEYRINGS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Tells `http` the town-admin token of the server at `addr`; it makes the other keys it needs
/// through `POST /v1/keys`.
pub fn register_admin(addr: SocketAddr, admin_token: &str) {
    let mut by_role = HashMap::new();
    by_role.insert("town-admin".to_owned(), admin_token.to_owned());
    keyrings().lock().unwrap().insert(addr, Keyring { by_role });
}

/// The token of a key with this role (its text form) on the server at `addr`, made on first use.
pub fn key_for(addr: SocketAddr, role: &str) -> Result<String, HttpError> {
    let admin = {
        let keyrings = keyrings().lock().unwrap();
        let keyring = keyrings
            .get(&addr)
            .expect("the server's keys are registered");
        if let Some(token) = keyring.by_role.get(role) {
            return Ok(token.clone());
        }
        keyring.by_role["town-admin"].clone()
    };
    let body = json!({"role": role}).to_string();
    let response = http_as(addr, Some(&admin), "POST", "/v1/keys", Some(&body))?;
    assert_eq!(response.status, 201, "a key for {role}: {}", response.body);
    let token = response.json()["token"]
        .as_str()
        .expect("a new key's token")
        .to_owned();
    let mut keyrings = keyrings().lock().unwrap();
    let keyring = keyrings.get_mut(&addr).expect("registered");
    keyring.by_role.insert(role.to_owned(), token.clone());
    Ok(token)
}

/// A town-admin key made on the store named in `store_args` (`--data DIR` or
/// `--database-url URL`) with `kanjo keys create`, once per store in this process.
pub fn admin_token_on_store(store_args: &[&str]) -> String {
    static BY_STORE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let store: Vec<&str> = store_args
        .windows(2)
        .find(|pair| pair[0] == "--data" || pair[0] == "--database-url")
        .map(|pair| pair.to_vec())
        .expect("the store arguments name a store");
    let label = store.join(" ");
    let mut by_store = BY_STORE
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap();
    if let Some(token) = by_store.get(&label) {
        return token.clone();
    }
    let programme = programme_path();
    let mut args = vec!["keys", "create", "--role", "town-admin"];
    args.extend(&store);
    args.extend(["--programme", programme.to_str().expect("a UTF-8 path")]);
    let output = kanjo(&args);
    assert!(
        output.status.success(),
        "kanjo keys create: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    by_store.insert(label, token.clone());
    token
}

/// A town-admin key made on an in-process engine, for tests that serve `api::router` themselves.
pub fn admin_token_on_engine(engine: &Engine) -> String {
    let new_key = kanjo_auth::generate_token(kanjo_auth::Role::TownAdmin, 1, None).unwrap();
    let change = kanjo_auth::KeyChange::Create {
        key: new_key.record.clone(),
    };
    let results = engine
        .submit_key_changes(vec![change])
        .unwrap()
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(results, vec![Ok(())]);
    new_key.token.expose().to_owned()
}

/// The role that may send an event, as the test client routes it (the scope table's owner).
fn role_of_event(event: &Value) -> String {
    let text = |field: &str| event.get(field).and_then(Value::as_str).map(str::to_owned);
    let mut shops = shop_of_payment().lock().unwrap();
    let role = match text("type").as_deref() {
        Some("ride" | "tap") => text("operator").map(|operator| format!("operator:{operator}")),
        Some("purchase" | "authorize") => {
            if let (Some(id), Some(shop)) = (text("id"), text("shop")) {
                shops.insert(id, shop);
            }
            text("shop").map(|shop| format!("shop:{shop}"))
        }
        Some("capture" | "void") => text("authorization")
            .and_then(|id| shops.get(&id).cloned())
            .map(|shop| format!("shop:{shop}")),
        Some("refund") => text("purchase")
            .and_then(|id| shops.get(&id).cloned())
            .map(|shop| format!("shop:{shop}")),
        Some("topup") => Some(format!(
            "bank:{}",
            text("source").unwrap_or_else(|| "default".to_owned())
        )),
        // The demo programme's stablecoin has no issuing bank: the default bank's.
        Some("withdraw" | "send") => Some("bank:default".to_owned()),
        Some("redeem") => text("place").map(|place| format!("election-office:{place}")),
        _ => None,
    };
    role.filter(|role| kanjo_auth::Role::parse(role).is_ok())
        .unwrap_or_else(|| "town-admin".to_owned())
}

/// `POST /v1/events` split into runs of consecutive events of one role, each sent with its key,
/// in order; the answers joined as one. A body that can't be cut goes whole with the admin key.
fn post_events_by_role(addr: SocketAddr, body: &str) -> Result<Response, HttpError> {
    let Ok(items) =
        kanjo_engine::body::split_items(body, kanjo_engine::pipeline::SUBMISSION_EVENTS_MAX)
    else {
        let admin = key_for(addr, "town-admin")?;
        return http_as(addr, Some(&admin), "POST", "/v1/events", Some(body));
    };
    // Items that are not events (the server refuses them as bad_event) go with any key.
    let roles: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            let text = item.as_ref().ok()?;
            let event = serde_json::from_str::<Value>(text).ok()?;
            event.is_object().then(|| role_of_event(&event))
        })
        .collect();
    let mut distinct: Vec<&String> = roles.iter().flatten().collect();
    distinct.dedup();
    distinct.sort();
    distinct.dedup();
    if distinct.len() <= 1 || items.iter().any(Result::is_err) {
        let role = match distinct.as_slice() {
            [role] => role.as_str(),
            _ => "town-admin",
        };
        let token = key_for(addr, role)?;
        return http_as(addr, Some(&token), "POST", "/v1/events", Some(body));
    }
    let mut runs: Vec<(String, Vec<&str>)> = Vec::new();
    for (item, role) in items.iter().zip(roles) {
        let text = *item.as_ref().expect("no element failed to cut");
        match (runs.last_mut(), role) {
            (Some((last, texts)), Some(role)) if *last == role => texts.push(text),
            (Some((_, texts)), None) => texts.push(text),
            (_, role) => runs.push((role.unwrap_or_else(|| "town-admin".to_owned()), vec![text])),
        }
    }
    let mut results = Vec::new();
    let mut last = None;
    for (role, texts) in runs {
        let token = key_for(addr, &role)?;
        let run_body = format!("[{}]", texts.join(","));
        let response = http_as(addr, Some(&token), "POST", "/v1/events", Some(&run_body))?;
        if response.status != 200 {
            return Ok(response);
        }
        results.extend(
            response.json()["results"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        last = Some(response);
    }
    let last = last.expect("at least two runs");
    Ok(Response {
        status: 200,
        headers: last.headers,
        body: json!({"results": results}).to_string(),
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

/// The demo programme's text with its GTFS folder named by absolute path, so an edited copy of
/// it can be written to any directory.
pub fn portable_programme_text() -> String {
    let demo = programme_path();
    let text = std::fs::read_to_string(&demo).expect("the demo programme");
    let gtfs = demo
        .parent()
        .expect("the programme's directory")
        .join("../../data/gtfs-jp")
        .canonicalize()
        .expect("the GTFS folder");
    let portable = text.replace("\"../../data/gtfs-jp", &format!("\"{}", gtfs.display()));
    assert_ne!(
        portable, text,
        "the demo programme names its GTFS folder relatively"
    );
    portable
}

/// Writes `values` as NDJSON (one JSON value a line) to `{dir}/{name}`; its path.
pub fn ndjson_file(dir: &TempDir, name: &str, values: &[Value]) -> String {
    let path = dir.join(name);
    let text: String = values.iter().map(|value| format!("{value}\n")).collect();
    std::fs::write(&path, text).expect("write a test file");
    path.display().to_string()
}

/// `kanjo import` into `{dir}/data` under `programme`: rider `r-1` (licence returned) and
/// `events`, which must all be accepted; the `--data` path.
pub fn import_r1(dir: &TempDir, programme: &str, events: &[Value]) -> String {
    let data = dir.join("data").display().to_string();
    let riders = ndjson_file(dir, "riders.ndjson", &[licence_returned_rider("r-1")]);
    let events = ndjson_file(dir, "events.ndjson", events);
    let args = ["import", "--data", &data, "--programme", programme];
    kanjo_ok(&[&args[..], &["--riders", &riders, &events]].concat());
    data
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

/// `kanjo report WHICH --json` on the store in `data`, parsed.
pub fn report_json(data: &str, which: &str) -> serde_json::Value {
    serde_json::from_slice(&kanjo_ok(&["report", which, "--data", data, "--json"])).unwrap()
}

/// `kanjo ARGS`, which must succeed; its stdout.
pub fn kanjo_ok(args: &[&str]) -> Vec<u8> {
    let output = kanjo(args);
    assert!(
        output.status.success(),
        "kanjo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `kanjo demo --month` into `data`, which must succeed.
pub fn demo_month(data: &str) {
    let demo = kanjo(&["demo", "--month", "--data", data]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
}
