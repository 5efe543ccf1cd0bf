//! The HTTP API, served in-process over a real socket: every endpoint once, per-item errors that
//! never cost the good items, the limits (413, 429 with Retry-After), riders carrying a My Number
//! refused before they reach the log, a complete OpenAPI document and Prometheus counters.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{
    Response, TempDir, array_body, event, grant, http, licence_returned_rider, redeem, sqlite,
    topup, town_bus_wallet_ride,
};
use kanjo_engine::api::{ApiState, router};
use kanjo_engine::machine::Prepared;
use kanjo_engine::pipeline::{Engine, EngineConfig, SUBMISSION_EVENTS_MAX, SubmitError};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};

/// How long a test waits for the pipeline to reach a state it set up.
const SETTLE_TIMEOUT_MS: u64 = 10_000;

/// One Prometheus recorder per process: the global `metrics` macros report to it.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("the only recorder in this test process")
        })
        .clone()
}

/// The router on an ephemeral port, served by its own runtime; dropping it stops serving.
struct Api {
    addr: SocketAddr,
    engine: Engine,
    _runtime: tokio::runtime::Runtime,
    dir: TempDir,
}

impl Api {
    fn start(label: &str, configure: impl FnOnce(&mut EngineConfig)) -> Api {
        let dir = TempDir::new(label);
        let mut config = EngineConfig::new(sqlite(&dir.join("store")), common::programme_path());
        configure(&mut config);
        let engine = Engine::start(config).expect("the engine starts");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let admin = common::admin_token_on_engine(&engine);
        let mut state = ApiState::new(engine.clone(), Some(metrics_handle()));
        // These tests send faster than a person; the rate limit has its own test.
        state.access.rate = None;
        let app = router(state);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("a bound address");
        runtime.spawn(async move { axum::serve(listener, app).await });
        common::register_admin(addr, &admin);
        Api {
            addr,
            engine,
            _runtime: runtime,
            dir,
        }
    }

    fn get(&self, path: &str) -> Response {
        http(self.addr, "GET", path, None).unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    fn post(&self, path: &str, body: &str) -> Response {
        http(self.addr, "POST", path, Some(body))
            .unwrap_or_else(|error| panic!("POST {path}: {error}"))
    }

    fn post_events(&self, events: &[Value]) -> Vec<Value> {
        let response = self.post("/v1/events", &array_body(events));
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()["results"]
            .as_array()
            .expect("results")
            .clone()
    }
}

fn ok_json(response: Response) -> Value {
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

#[test]
fn every_endpoint_answers() {
    let api = Api::start("api-endpoints", |_| {});

    // POST /v1/riders
    let riders = ok_json(api.post("/v1/riders", &licence_returned_rider("r-1").to_string()));
    assert_eq!(
        riders,
        json!({"results": [{"rider": "r-1", "status": "accepted"}]})
    );

    // POST /v1/events: a top-up, a wallet ride, a ballot and its use.
    let results = api.post_events(&[
        topup("t-1", "r-1", "JPY", 1_000, "2026-11-26T07:00:00+09:00"),
        town_bus_wallet_ride("ride-1", "r-1", "2026-11-26T07:30:00+09:00"),
        grant(
            "ballot-1",
            "r-1",
            "ballot-2026",
            1,
            "2026-12-01T09:00:00+09:00",
        ),
        redeem(
            "vote-1",
            "r-1",
            "ballot-2026",
            "station-1",
            "2026-12-13T08:00:00+09:00",
        ),
    ]);
    assert!(
        results.iter().all(|result| result["status"] == "accepted"),
        "{results:?}"
    );
    assert_eq!(results[1]["rider_pays"], 50, "{}", results[1]);
    assert_eq!(
        results[1]["rules"],
        json!(["licence-returned-half", "ride-points"])
    );

    // GET /v1/events/{id}: the answer that was given, and the key that sent it (the key id is
    // the token's part after `kjo_`); an unknown id is 404.
    let mut looked_up = ok_json(api.get("/v1/events/ride-1"));
    let operator_token = common::key_for(api.addr, "operator:town-bus").unwrap();
    assert_eq!(looked_up["principal"], operator_token[4..20], "{looked_up}");
    looked_up.as_object_mut().unwrap().remove("principal");
    assert_eq!(looked_up, results[1]);
    let missing = api.get("/v1/events/never-sent");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");

    // GET /v1/accounts/{id}: by name (and by the hex id it reports), balances read as a clerk does.
    let wallet = ok_json(api.get("/v1/accounts/rider:r-1:JPY"));
    assert_eq!(wallet["balance"], "950", "{wallet}");
    assert_eq!(wallet["normal_balance"], "credit");
    let by_hex = ok_json(api.get(&format!(
        "/v1/accounts/{}",
        wallet["id"].as_str().expect("hex id")
    )));
    assert_eq!(by_hex, wallet);
    let station = ok_json(api.get("/v1/accounts/place:station-1:ballot-2026"));
    assert_eq!(station["balance"], "1", "{station}");
    assert_eq!(api.get("/v1/accounts/rider:nobody:JPY").status, 404);
    let bad = api.get("/v1/accounts/not-an-account");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "bad_account");

    // GET /v1/accounts/{id}/transfers: paged by the `after` cursor.
    let first = ok_json(api.get("/v1/accounts/rider:r-1:JPY/transfers?limit=1"));
    let rows = first["transfers"].as_array().expect("transfers");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event"], "t-1");
    assert_eq!(rows[0]["direction"], "credit");
    assert_eq!(rows[0]["reason"], "topup");
    let cursor = first["next_after"]
        .as_u64()
        .expect("a full page has a cursor");
    let second = ok_json(api.get(&format!(
        "/v1/accounts/rider:r-1:JPY/transfers?limit=1&after={cursor}"
    )));
    assert_eq!(second["transfers"][0]["event"], "ride-1");
    assert_eq!(second["transfers"][0]["amount"], 50);
    assert_eq!(
        second["transfers"][0]["counterparty"],
        "operator:town-bus:fares"
    );
    let third = ok_json(api.get(&format!(
        "/v1/accounts/rider:r-1:JPY/transfers?limit=1&after={}",
        second["next_after"].as_u64().expect("a cursor")
    )));
    assert_eq!(
        third["transfers"],
        json!([]),
        "the history has two transfers"
    );
    assert!(third["next_after"].is_null());

    // GET /healthz
    let health = ok_json(api.get("/healthz"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "sqlite");
    assert!(
        health["committed_seq"].as_u64().expect("a number") >= 2,
        "{health}"
    );
    assert_eq!(
        health["committed_events"], 4,
        "riders are not events: {health}"
    );

    // GET /openapi.json: valid JSON describing every route.
    let openapi = api.get("/openapi.json");
    assert_eq!(openapi.status, 200);
    assert!(
        openapi
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json"))
    );
    let document = openapi.json();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with('3')),
        "an OpenAPI 3 document"
    );
    for path in [
        "/v1/events",
        "/v1/events/{id}",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/transfers",
        "/v1/riders",
        "/v1/riders/{id}/passes",
        "/v1/shops",
        "/v1/shops/{id}",
        "/metrics",
        "/healthz",
        "/openapi.json",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "openapi.json describes {path}"
        );
    }

    // GET /v1/riders/{id}/passes: a rider holding no pass has an empty list.
    assert_eq!(
        ok_json(api.get("/v1/riders/r-1/passes")),
        json!({"rider": "r-1", "passes": []})
    );

    // GET /metrics: Prometheus text with kanjo's counters.
    let metrics = api.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("kanjo_events_committed_total"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("kanjo_committed_seq"),
        "{}",
        metrics.body
    );
    api.engine.clone().shutdown();
}

#[test]
fn a_batch_with_bad_items_keeps_the_good_ones_and_answers_each_in_place() {
    let api = Api::start("api-bad-items", |_| {});
    let body = json!([
        topup("good-1", "r-2", "JPY", 300, "2026-11-26T07:00:00+09:00"),
        {"id": "no-amount", "type": "topup", "at": "2026-11-26T07:00:00+09:00", "rider": "r-2", "asset": "JPY"},
        5,
        {"id": "no-offset", "type": "grant", "at": "2026-11-26T07:00:00", "rider": "r-2", "asset": "muro-pt", "amount": 3},
        topup("unknown-asset", "r-2", "GOLD", 1, "2026-11-26T07:00:00+09:00"),
        topup("good-2", "r-2", "JPY", 200, "2026-11-26T07:01:00+09:00"),
    ]);
    let response = api.post("/v1/events", &body.to_string());
    let results = ok_json(response)["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 6, "one answer per item, in order");
    let status: Vec<&str> = results
        .iter()
        .map(|result| result["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        status,
        [
            "accepted", "rejected", "rejected", "rejected", "rejected", "accepted"
        ]
    );
    assert_eq!(results[1]["id"], "no-amount");
    assert_eq!(results[1]["error"]["code"], "bad_event");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("amount")),
        "{}",
        results[1]
    );
    assert!(
        results[2]["id"].is_null(),
        "an item that is not an object has no id: {}",
        results[2]
    );
    assert_eq!(results[3]["error"]["code"], "bad_event");
    assert!(
        results[3]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("offset")),
        "{}",
        results[3]
    );
    assert_eq!(
        results[4]["error"]["code"], "unknown_asset",
        "{}",
        results[4]
    );
    assert_eq!(results[5]["id"], "good-2");
    assert_eq!(
        ok_json(api.get("/v1/accounts/rider:r-2:JPY"))["balance"],
        "500",
        "both good top-ups count"
    );
    assert_eq!(
        api.get("/v1/events/no-amount").status,
        404,
        "a malformed item never reaches the log"
    );

    // NDJSON: a line that is not JSON costs only itself.
    let ndjson = format!(
        "{}\nthis is not json\n\n{}\n",
        topup("nd-1", "r-2", "JPY", 10, "2026-11-26T08:00:00+09:00"),
        topup("nd-2", "r-2", "JPY", 20, "2026-11-26T08:01:00+09:00")
    );
    let results = ok_json(api.post("/v1/events", &ndjson))["results"]
        .as_array()
        .expect("results")
        .clone();
    let status: Vec<&str> = results
        .iter()
        .map(|result| result["status"].as_str().expect("status"))
        .collect();
    assert_eq!(status, ["accepted", "rejected", "accepted"]);
    assert_eq!(
        ok_json(api.get("/v1/accounts/rider:r-2:JPY"))["balance"],
        "530"
    );

    // A body that is not an array of events at all is one 400, not a batch of errors.
    let broken = api.post("/v1/events", "[{\"id\":");
    assert_eq!(broken.status, 400);
    assert_eq!(broken.json()["error"]["code"], "bad_body");
}

#[test]
fn more_than_8190_events_in_one_request_is_413_and_none_is_applied() {
    let api = Api::start("api-too-large", |_| {});
    let events: Vec<Value> = (0..=SUBMISSION_EVENTS_MAX)
        .map(|index| {
            grant(
                &format!("big-{index}"),
                "r-3",
                "muro-pt",
                1,
                "2026-11-26T07:00:00+09:00",
            )
        })
        .collect();
    assert_eq!(events.len(), 8191);
    let response = api.post("/v1/events", &array_body(&events));
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], "too_large");
    assert_eq!(api.get("/v1/events/big-0").status, 404);
    // 8 190 is allowed.
    let results = api.post_events(&events[..SUBMISSION_EVENTS_MAX]);
    assert_eq!(results.len(), SUBMISSION_EVENTS_MAX);
    assert_eq!(
        ok_json(api.get("/v1/accounts/rider:r-3:muro-pt"))["balance"],
        "8190"
    );
}

#[test]
fn riders_carrying_a_my_number_are_refused_and_never_stored() {
    const MY_NUMBER: &str = "123456789018";
    let api = Api::start("api-my-number", |_| {});
    let body = [
        json!({"rider": "r-4", "my_number": MY_NUMBER, "birth_date": "1950-01-01"}),
        json!({"rider": "r-5", "birth_date": "1950-01-01", "note": "4567 8901 2345"}),
        json!({"rider": "r-6", "MyNumber": MY_NUMBER}),
        json!({"rider": "r-7", "birth_date": "1950-01-01", "residence": "012050"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let results = ok_json(api.post("/v1/riders", &body))["results"]
        .as_array()
        .expect("results")
        .clone();
    let status: Vec<&str> = results
        .iter()
        .map(|result| result["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        status,
        ["rejected", "rejected", "rejected", "accepted"],
        "{results:?}"
    );
    assert_eq!(results[0]["error"]["code"], "bad_rider");
    assert!(
        results[0]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("my_number")),
        "{}",
        results[0]
    );
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("My Number")),
        "{}",
        results[1]
    );

    // Nothing of the refused records reached the store's files.
    api.engine.clone().shutdown();
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(api.dir.join("store")).expect("the store directory") {
        stored
            .extend(std::fs::read(entry.expect("a store file").path()).expect("read a store file"));
    }
    assert!(!stored.is_empty());
    for secret in [MY_NUMBER.as_bytes(), b"4567 8901 2345".as_slice()] {
        assert!(
            !stored.windows(secret.len()).any(|window| window == secret),
            "a refused number is in the store"
        );
    }
    assert!(
        stored.windows(3).any(|window| window == b"r-7"),
        "the accepted rider is"
    );
}

/// Holds the machine thread on a query until the returned sender is dropped or sent to.
fn hold_machine(engine: &Engine) -> std::sync::mpsc::Sender<()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let _answer = engine
        .query(move |_| {
            let _ = held.recv();
        })
        .expect("a query is queued");
    release
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_millis(SETTLE_TIMEOUT_MS),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_full_queue_is_429_with_retry_after_and_the_queued_work_still_completes() {
    let api = Api::start("api-queue-full", |config| config.queue_events_max = 4);
    let release = hold_machine(&api.engine);

    // In process: the first submission always fits; the next one past the limit is QueueFull.
    let first: Vec<Prepared> = (0..4)
        .map(|index| {
            Prepared::new(event(&grant(
                &format!("q-{index}"),
                "r-8",
                "muro-pt",
                1,
                "2026-11-26T07:00:00+09:00",
            )))
        })
        .collect();
    let first_answers = api
        .engine
        .submit_prepared(first)
        .expect("an empty queue takes a submission");
    assert_eq!(api.engine.queued_events(), 4);
    let refused = api
        .engine
        .submit_prepared(vec![Prepared::new(event(&grant(
            "q-4",
            "r-8",
            "muro-pt",
            1,
            "2026-11-26T07:00:00+09:00",
        )))])
        .expect_err("past queue_events_max");
    assert_eq!(refused, SubmitError::QueueFull { queued: 4 });

    // Over HTTP: 429, a Retry-After, and a JSON error.
    let response = api.post(
        "/v1/events",
        &array_body(&[grant(
            "q-5",
            "r-8",
            "muro-pt",
            1,
            "2026-11-26T07:00:00+09:00",
        )]),
    );
    assert_eq!(response.status, 429, "{}", response.body);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.json()["error"]["code"], "queue_full");

    // Released, the queued submission completes and the refused ones left no trace.
    drop(release);
    let answers = first_answers
        .blocking_recv()
        .expect("answered")
        .expect("committed");
    assert!(answers.iter().all(|answer| answer.outcome.is_accepted()));
    assert_eq!(api.get("/v1/events/q-5").status, 404);
    assert_eq!(api.get("/v1/events/q-4").status, 404);
    assert_eq!(
        ok_json(api.get("/v1/accounts/rider:r-8:muro-pt"))["balance"],
        "4"
    );
    wait_until("the queue drains", || api.engine.queued_events() == 0);
    let retried = api.post_events(&[grant(
        "q-5",
        "r-8",
        "muro-pt",
        1,
        "2026-11-26T07:00:00+09:00",
    )]);
    assert_eq!(
        retried[0]["status"], "accepted",
        "a retry after the queue drained is taken"
    );
}

fn tap(id: &str, direction: &str, stop: &str, at: &str) -> Value {
    json!({"id": id, "type": "tap", "direction": direction, "at": at, "operator": "town-bus",
           "stop": stop, "vehicle": "town-bus-1", "rider": "r-9", "media": "cash"})
}

#[test]
fn an_empty_submission_is_answered_with_no_answers_not_stopped() {
    let api = Api::start("api-empty", |_| {});
    assert_eq!(
        api.engine.submit(Vec::new()),
        Ok(Vec::new()),
        "the engine is running"
    );
    let riders = api
        .engine
        .submit_riders(Vec::new())
        .expect("queued")
        .blocking_recv();
    assert!(
        matches!(riders, Ok(Ok(ref results)) if results.is_empty()),
        "{riders:?}"
    );
    assert_eq!(
        ok_json(api.post("/v1/events", "[]")),
        json!({"results": []})
    );
}

#[test]
fn one_event_dated_years_ahead_does_not_expire_other_riders_taps() {
    let api = Api::start("api-watermark", |_| {});
    // Taps of the last few minutes: the watermark may follow real time, never a device's wrong clock.
    let now = jiff::Timestamp::now();
    let minutes_ago = |minutes: i64| (now - jiff::SignedDuration::from_mins(minutes)).to_string();
    let on = api.post_events(&[tap("tap-on", "on", "stop-a", &minutes_ago(20))]);
    assert_eq!(on[0]["tap"], "pending", "{}", on[0]);
    // Another rider's device with a wrong clock: a valid top-up, dated 2031.
    let far = api.post_events(&[topup(
        "far-ahead",
        "r-10",
        "JPY",
        100,
        "2031-01-01T00:00:00+09:00",
    )]);
    assert_eq!(far[0]["status"], "accepted", "{}", far[0]);
    let off = api.post_events(&[tap("tap-off", "off", "stop-b", &minutes_ago(1))]);
    let on_now = ok_json(api.get("/v1/events/tap-on"));
    assert_eq!(
        off[0]["tap"], "paired",
        "the tap-off nineteen minutes later completes the ride: {}; the tap-on now reads {on_now}",
        off[0]
    );
}

/// The value of an unlabelled Prometheus sample, if the text has it.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// `kanjo serve` in its own process, so the counters start at zero.
#[test]
fn the_committed_events_counter_counts_events_not_rider_records() {
    let dir = TempDir::new("api-metrics");
    let server =
        common::Server::start(&["--data", dir.join("store").to_str().expect("a UTF-8 path")]);
    let riders: Vec<Value> = ["m-1", "m-2", "m-3"]
        .iter()
        .map(|rider| licence_returned_rider(rider))
        .collect();
    assert_eq!(
        server
            .post("/v1/riders", &Value::Array(riders).to_string())
            .status,
        200
    );
    let events = [
        topup("m-t1", "m-1", "JPY", 100, "2026-11-26T07:00:00+09:00"),
        topup("m-t2", "m-2", "JPY", 100, "2026-11-26T07:00:00+09:00"),
    ];
    assert_eq!(server.post("/v1/events", &array_body(&events)).status, 200);
    let health = server.get("/healthz").json();
    assert_eq!(health["committed_events"], 2, "{health}");
    let metrics = server.get("/metrics").body;
    assert_eq!(
        sample(&metrics, "kanjo_events_committed_total"),
        Some(2.0),
        "{metrics}"
    );
}

/// Follows `next_after` from the first page to the end; the events of the transfers in page order.
fn page_through(api: &Api, account: &str, newest_first: bool) -> Vec<String> {
    let mut events = Vec::new();
    let mut query = format!("limit=1&newest_first={newest_first}");
    for _ in 0..10 {
        let page = ok_json(api.get(&format!("/v1/accounts/{account}/transfers?{query}")));
        for transfer in page["transfers"].as_array().expect("transfers") {
            events.push(transfer["event"].as_str().expect("an event id").to_owned());
        }
        match page["next_after"].as_u64() {
            Some(cursor) => query = format!("limit=1&newest_first={newest_first}&after={cursor}"),
            None => return events,
        }
    }
    panic!("the history of {account} did not end after 10 pages: {events:?}")
}

#[test]
fn a_transfer_history_pages_through_every_transfer_in_either_order() {
    let api = Api::start("api-history", |_| {});
    api.post_events(&[
        topup("h-topup", "r-h", "JPY", 1_000, "2026-11-26T07:00:00+09:00"),
        town_bus_wallet_ride("h-ride-1", "r-h", "2026-11-26T07:30:00+09:00"),
        town_bus_wallet_ride("h-ride-2", "r-h", "2026-11-26T08:30:00+09:00"),
    ]);
    assert_eq!(
        page_through(&api, "rider:r-h:JPY", false),
        ["h-topup", "h-ride-1", "h-ride-2"]
    );
    assert_eq!(
        page_through(&api, "rider:r-h:JPY", true),
        ["h-ride-2", "h-ride-1", "h-topup"]
    );
}

/// The largest amount one event may carry, twice, from two banks: per account each fits a u64,
/// their sum per asset does not. The ledger keeps u128 totals; every statement must too.
#[test]
fn amounts_summing_past_u64_keep_the_trial_balance_and_the_engine_alive() {
    let api = Api::start("api-u64", |_| {});
    let huge = |id: &str, rider: &str, bank: &str| {
        json!({"id": id, "type": "topup", "at": "2026-11-26T07:00:00+09:00", "rider": rider,
               "asset": "JPY", "amount": u64::MAX, "source": bank})
    };
    let results = api.post_events(&[
        huge("max-1", "r-u1", "bank-a"),
        huge("max-2", "r-u2", "bank-b"),
    ]);
    for result in &results {
        // Accepting them is allowed, and so is refusing them with a clear error.
        assert!(
            result["status"] == "accepted" || result["error"]["code"].is_string(),
            "{result}"
        );
    }
    let balance = api
        .engine
        .query_blocking(kanjo_engine::report::trial_balance);
    let health = api.get("/healthz");
    assert_eq!(health.status, 200, "the engine still runs: {}", health.body);
    let balance = balance.expect("the trial balance is answered");
    assert!(balance.balanced, "{balance:?}");
}

/// Riders are pseudonymous: a 12-digit rider reference could be a My Number, in an event as in a
/// rider record (which `POST /v1/riders` already refuses).
#[test]
fn events_naming_a_twelve_digit_rider_are_refused_and_never_stored() {
    const MY_NUMBER: &str = "123456789018";
    let api = Api::start("api-my-number-events", |_| {});
    let results = api.post_events(&[
        topup("mn-1", MY_NUMBER, "JPY", 1_000, "2026-11-26T07:00:00+09:00"),
        grant(
            "mn-2",
            "1234 5678 9018",
            "ballot-2026",
            1,
            "2026-12-01T09:00:00+09:00",
        ),
        grant("mn-ok", "r-ok", "muro-pt", 1, "2026-11-26T07:00:00+09:00"),
    ]);
    let status: Vec<&str> = results
        .iter()
        .map(|result| result["status"].as_str().expect("status"))
        .collect();
    assert_eq!(status, ["rejected", "rejected", "accepted"], "{results:?}");
    assert!(
        results[..2]
            .iter()
            .all(|result| result["error"]["code"] == "bad_event"),
        "{results:?}"
    );
    api.engine.clone().shutdown();
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(api.dir.join("store")).expect("the store directory") {
        stored
            .extend(std::fs::read(entry.expect("a store file").path()).expect("read a store file"));
    }
    for secret in [MY_NUMBER.as_bytes(), b"1234 5678 9018".as_slice()] {
        assert!(
            !stored.windows(secret.len()).any(|window| window == secret),
            "a 12-digit number is in the store"
        );
    }
}

/// The log keeps an event's canonical form only: a ballot's content or any other field a client
/// adds never reaches the store.
#[test]
fn fields_outside_the_event_schema_such_as_a_vote_are_dropped_before_the_log() {
    let api = Api::start("api-ballot-content", |_| {});
    let mut check_in = redeem(
        "vote-x",
        "r-v",
        "ballot-2026",
        "station-3",
        "2026-12-13T08:00:00+09:00",
    );
    check_in["vote"] = json!("Candidate Sakura Tanaka");
    check_in["note"] = json!("voted for Sakura Tanaka");
    let results = api.post_events(&[
        grant(
            "ballot-x",
            "r-v",
            "ballot-2026",
            1,
            "2026-12-01T09:00:00+09:00",
        ),
        check_in,
    ]);
    assert!(
        results.iter().all(|result| result["status"] == "accepted"),
        "{results:?}"
    );
    api.engine.clone().shutdown();
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(api.dir.join("store")).expect("the store directory") {
        stored
            .extend(std::fs::read(entry.expect("a store file").path()).expect("read a store file"));
    }
    assert!(
        stored.windows(6).any(|window| window == b"vote-x"),
        "the check-in itself is stored"
    );
    assert!(
        !stored.windows(6).any(|window| window == b"Tanaka"),
        "the vote is not"
    );
}
