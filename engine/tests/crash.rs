//! A `kanjo serve` child process under load is killed with SIGKILL at random moments (22 times);
//! after each restart every acknowledged event is present exactly once with the answer it was
//! acknowledged with, no unacknowledged event is half-applied, and the trial balance holds.
//! The same, killed 8 times, on PostgreSQL.
//!
//! The load is batches of one wallet top-up followed by 1–4 wallet rides on the town bus by a
//! licence-returned resident: each ride is a three-leg chain (wallet → fares, budget → subsidy,
//! issuer → points), so half an event or half a batch would show in the balances.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    Server, TempDir, array_body, at, kanjo, licence_returned_rider, topup, town_bus_wallet_ride,
};
use kanjo_engine::store::testdb::TestDatabase;
use kanjo_engine::workload::rng::SplitMix64;
use serde_json::Value;

const KILLS: usize = 22;
/// Fewer on PostgreSQL: the point there is the store's commit, not the count.
const POSTGRES_KILLS: usize = 8;
const RIDERS: u64 = 64;
/// Threads posting batches at the same time, so kills land on group commits of several batches.
const DRIVERS: usize = 3;
const KILL_DELAY_MS_MIN: u64 = 5;
const KILL_DELAY_MS_MAX: u64 = 300;
/// Old acknowledged events re-read after every restart, besides the last round's.
const OLD_EVENTS_SAMPLED: usize = 60;
/// Half of the town bus's 100 yen fare (licence-returned-half), the rest from the subsidy.
const RIDER_PAYS_MINOR: u64 = 50;
const SUBSIDY_MINOR: u64 = 50;
const POINTS_PER_RIDE: u64 = 10;
const DRONE_EVERY_RIDES: u64 = 5;
const TRANSIT_BUDGET_MINOR: i128 = 50_000_000;
const SEED: u64 = 0x6b61_6e6a_6f21;

/// One submission: a top-up, then rides, by one rider.
#[derive(Clone, Debug)]
struct Batch {
    index: u64,
    rider: String,
    topup_minor: u64,
    rides: u64,
    events: Vec<Value>,
}

impl Batch {
    fn new(index: u64) -> Batch {
        let rider = format!("c-{}", index % RIDERS);
        let topup_minor = 1_000 + (index % 7) * 10;
        let rides = 1 + index % 4;
        let mut events = vec![topup(
            &format!("b{index}-topup"),
            &rider,
            "JPY",
            topup_minor,
            &at(index * 10),
        )];
        for ride in 0..rides {
            events.push(town_bus_wallet_ride(
                &format!("b{index}-ride-{ride}"),
                &rider,
                &at(index * 10 + 1 + ride),
            ));
        }
        Batch {
            index,
            rider,
            topup_minor,
            rides,
            events,
        }
    }

    fn ids(&self) -> impl Iterator<Item = &str> {
        self.events
            .iter()
            .map(|event| event["id"].as_str().expect("built with an id"))
    }
}

/// What the test knows: every batch acknowledged so far and its answers.
#[derive(Default)]
struct Model {
    acked: Vec<Batch>,
    answers: HashMap<String, Value>,
}

impl Model {
    fn ack(&mut self, batch: Batch, results: Vec<Value>) {
        assert_eq!(
            results.len(),
            batch.events.len(),
            "one answer per event of batch {}",
            batch.index
        );
        for (id, answer) in batch.ids().zip(&results) {
            check_accepted_answer(id, answer);
            self.answers.insert(id.to_owned(), answer.clone());
        }
        self.acked.push(batch);
    }
}

/// Every event of this load is accepted, with the amounts the programme gives.
fn check_accepted_answer(id: &str, answer: &Value) {
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["status"], "accepted", "{answer}");
    if id.contains("-ride-") {
        assert_eq!(answer["rider_pays"], RIDER_PAYS_MINOR, "{answer}");
        assert_eq!(answer["discount"], SUBSIDY_MINOR, "{answer}");
        assert_eq!(answer["funded_by"], "transit-subsidy", "{answer}");
    }
}

/// What one run of load saw before the server went away.
struct Driven {
    /// Acknowledged batches with their answers.
    acked: Vec<(Batch, Vec<Value>)>,
    /// Batches sent without an answer.
    unanswered: Vec<Batch>,
    /// Answers a reader got from `GET /v1/events/{id}` for batches still in flight: a read
    /// shows only durable state, so each must survive the kill.
    read: Vec<(String, Value)>,
}

/// Drives the server until it dies: each driver posts batches one after another while a reader
/// asks for the newest batches' top-ups.
fn drive(addr: SocketAddr, next_index: &AtomicU64) -> Driven {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(Mutex::new(Vec::new()));
    let read = std::thread::scope(|scope| {
        for _ in 0..DRIVERS {
            let acked = Arc::clone(&acked);
            let in_flight = Arc::clone(&in_flight);
            scope.spawn(move || {
                loop {
                    let batch = Batch::new(next_index.fetch_add(1, Ordering::SeqCst));
                    match common::http(addr, "POST", "/v1/events", Some(&array_body(&batch.events)))
                    {
                        Ok(response) if response.status == 200 => {
                            let results = response.json()["results"]
                                .as_array()
                                .expect("results")
                                .clone();
                            acked.lock().unwrap().push((batch, results));
                        }
                        Ok(response) => panic!(
                            "batch {}: HTTP {} {}",
                            batch.index, response.status, response.body
                        ),
                        Err(_) => {
                            // The server died with this batch in flight (or before it arrived).
                            in_flight.lock().unwrap().push(batch);
                            return;
                        }
                    }
                }
            });
        }
        let reader = scope.spawn(move || {
            let mut read = Vec::new();
            for attempt in 0u64.. {
                let newest = next_index.load(Ordering::SeqCst);
                let Some(index) = newest.checked_sub(1 + attempt % DRIVERS as u64) else {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                let id = format!("b{index}-topup");
                match common::http(addr, "GET", &format!("/v1/events/{id}"), None) {
                    Ok(response) if response.status == 200 => {
                        let mut answer = response.json();
                        answer.as_object_mut().map(|map| map.remove("principal"));
                        read.push((id, answer));
                    }
                    Ok(response) if response.status == 404 => {}
                    Ok(response) => panic!("GET {id}: HTTP {} {}", response.status, response.body),
                    Err(_) => break,
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            read
        });
        reader
            .join()
            .expect("the reader checks answers and does not panic")
    });
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let unanswered = std::mem::take(&mut *in_flight.lock().unwrap());
    Driven {
        acked,
        unanswered,
        read,
    }
}

/// An event's answer as the restarted server reads it, `None` if it never saw the event.
fn stored_answer(server: &Server, id: &str) -> Option<Value> {
    let response = server.get(&format!("/v1/events/{id}"));
    match response.status {
        200 => {
            // The lookup also names the key that sent the event; the rest is the answer given.
            let mut answer = response.json();
            let principal = answer
                .as_object_mut()
                .and_then(|map| map.remove("principal"));
            assert!(
                principal.as_ref().is_some_and(Value::is_string),
                "{id} names its principal"
            );
            Some(answer)
        }
        404 => None,
        other => panic!("GET /v1/events/{id}: {other} {}", response.body),
    }
}

fn post_batch(server: &Server, batch: &Batch) -> Vec<Value> {
    let response = server.post("/v1/events", &array_body(&batch.events));
    assert_eq!(
        response.status, 200,
        "batch {}: {}",
        batch.index, response.body
    );
    response.json()["results"]
        .as_array()
        .expect("results")
        .clone()
}

/// Each unanswered batch is either wholly in the log or not at all; the client then retries it,
/// as a client without an answer must, and the retry is answered from the log when it is there.
/// Returns how many were already present.
fn settle_in_flight(server: &Server, model: &mut Model, in_flight: Vec<Batch>) -> usize {
    let mut present_count = 0;
    for batch in in_flight {
        let stored: Vec<Option<Value>> = batch.ids().map(|id| stored_answer(server, id)).collect();
        let present = stored.iter().filter(|answer| answer.is_some()).count();
        // A batch is two requests, each all or nothing: the top-up with the bank's key, then the
        // rides with the operator's (no key may send both). So the rides are all there or none,
        // and only after the top-up.
        let rides_present = stored[1..].iter().filter(|answer| answer.is_some()).count();
        assert!(
            rides_present == 0 || (rides_present == stored.len() - 1 && stored[0].is_some()),
            "batch {} is half-applied: {present} of {} events present: {stored:?}",
            batch.index,
            stored.len()
        );
        let retried = post_batch(server, &batch);
        if present > 0 {
            present_count += 1;
            for (answer, stored) in retried.iter().zip(&stored) {
                if let Some(stored) = stored {
                    assert_eq!(
                        answer, stored,
                        "a retry of committed batch {} answers as the log does",
                        batch.index
                    );
                }
            }
        }
        model.ack(batch, retried);
    }
    present_count
}

#[derive(Default)]
struct RiderTotals {
    topups_minor: u64,
    rides: u64,
    event_ids: Vec<String>,
}

/// Every balance equals the sum of the effects of the acknowledged batches, each counted once.
fn check_balances(server: &Server, model: &Model) {
    let mut riders: BTreeMap<&str, RiderTotals> = BTreeMap::new();
    for batch in &model.acked {
        let totals = riders.entry(&batch.rider).or_default();
        totals.topups_minor += batch.topup_minor;
        totals.rides += batch.rides;
        totals.event_ids.extend(batch.ids().map(str::to_owned));
    }
    let rides: u64 = riders.values().map(|totals| totals.rides).sum();
    let topups: u64 = riders.values().map(|totals| totals.topups_minor).sum();
    for (rider, totals) in &riders {
        let wallet = format!("rider:{rider}:JPY");
        assert_eq!(
            server.balance(&wallet),
            i128::from(totals.topups_minor - RIDER_PAYS_MINOR * totals.rides),
            "{wallet}"
        );
        assert_eq!(
            server.balance(&format!("rider:{rider}:muro-pt")),
            i128::from(POINTS_PER_RIDE * totals.rides)
        );
        assert_eq!(
            server.balance(&format!("rider:{rider}:drone-delivery")),
            i128::from(totals.rides / DRONE_EVERY_RIDES),
            "rider {rider}"
        );
        // The wallet's history names each of the rider's events exactly once.
        let mut seen = common::account_history_events(server, &wallet);
        seen.sort();
        let mut expected = totals.event_ids.clone();
        expected.sort();
        assert_eq!(
            seen, expected,
            "{wallet} holds each acknowledged event once"
        );
    }
    let rides = i128::from(rides);
    assert_eq!(
        server.balance("operator:town-bus:fares"),
        rides * i128::from(RIDER_PAYS_MINOR)
    );
    assert_eq!(
        server.balance("operator:town-bus:subsidy"),
        rides * i128::from(SUBSIDY_MINOR)
    );
    assert_eq!(
        server.balance("budget:transit-subsidy:FY2026"),
        TRANSIT_BUDGET_MINOR - rides * i128::from(SUBSIDY_MINOR)
    );
    assert_eq!(server.balance("bank:default:JPY"), i128::from(topups));
    assert_eq!(
        server.balance("issuer:muro-pt"),
        rides * i128::from(POINTS_PER_RIDE)
    );
}

/// The load's riders: licence-returned residents, acknowledged before any kill.
fn register_riders(server: &Server) {
    let riders: Vec<Value> = (0..RIDERS)
        .map(|rider| licence_returned_rider(&format!("c-{rider}")))
        .collect();
    let response = server.post("/v1/riders", &Value::Array(riders).to_string());
    assert_eq!(response.status, 200, "{}", response.body);
    let results = response.json();
    assert!(
        results["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|result| result["status"] == "accepted"),
        "{results}"
    );
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_event_and_half_applies_none() {
    let dir = TempDir::new("crash");
    let data = dir.join("store");
    crash_repeatedly(
        &["--data", data.to_str().expect("a UTF-8 temp path")],
        KILLS,
    );
}

#[test]
fn sigkill_under_load_on_postgresql_loses_no_acknowledged_event() {
    let db = TestDatabase::create()
        .expect("the PostgreSQL test server is reachable (ops/scripts/test starts it)");
    crash_repeatedly(&["--database-url", db.url()], POSTGRES_KILLS);
}

/// Kills the server `kills` times under load and checks the log after each restart.
fn crash_repeatedly(store_args: &[&str], kills: usize) {
    let mut rng = SplitMix64::new(SEED);
    let next_index = AtomicU64::new(0);
    let mut model = Model::default();
    let mut last_round: Vec<Batch> = Vec::new();
    let mut in_flight: Vec<Batch> = Vec::new();
    let mut committed_unanswered = 0;
    let mut unanswered = 0;
    let mut read_before_kill: Vec<(String, Value)> = Vec::new();
    let mut reads = 0;

    for round in 0..=kills {
        let server = Server::start(store_args);
        if round == 0 {
            register_riders(&server);
        } else {
            // Everything acknowledged before the kill reads back with the same answer.
            let mut sampled: Vec<&Batch> = last_round.iter().collect();
            for _ in 0..OLD_EVENTS_SAMPLED.min(model.acked.len()) {
                sampled.push(&model.acked[rng.below(model.acked.len() as u64) as usize]);
            }
            for batch in sampled {
                for id in batch.ids() {
                    let stored = stored_answer(&server, id).unwrap_or_else(|| {
                        panic!(
                            "round {round}: acknowledged event {id} is missing after the restart"
                        )
                    });
                    assert_eq!(stored, model.answers[id], "round {round}: event {id}");
                }
            }
            // Whatever a reader was shown before the kill was durable.
            for (id, answer) in &read_before_kill {
                assert_eq!(
                    stored_answer(&server, id).as_ref(),
                    Some(answer),
                    "round {round}: {id} was read, then lost"
                );
            }
            unanswered += in_flight.len();
            committed_unanswered +=
                settle_in_flight(&server, &mut model, std::mem::take(&mut in_flight));
            // Sending an acknowledged batch again changes nothing and answers the same.
            let again = model.acked[rng.below(model.acked.len() as u64) as usize].clone();
            let answers = post_batch(&server, &again);
            let expected: Vec<Value> = again.ids().map(|id| model.answers[id].clone()).collect();
            assert_eq!(
                answers, expected,
                "round {round}: batch {} sent again",
                again.index
            );
            check_balances(&server, &model);
        }
        if round == kills {
            break;
        }

        let delay_ms = rng.between(KILL_DELAY_MS_MIN, KILL_DELAY_MS_MAX);
        let addr = server.addr;
        let driven = std::thread::scope(|scope| {
            let driver = scope.spawn(|| drive(addr, &next_index));
            std::thread::sleep(Duration::from_millis(delay_ms));
            server.kill();
            driver
                .join()
                .expect("the drivers check answers and do not panic")
        });
        last_round = driven
            .acked
            .iter()
            .map(|(batch, _)| batch.clone())
            .collect();
        for (batch, results) in driven.acked {
            model.ack(batch, results);
        }
        in_flight = driven.unanswered;
        reads += driven.read.len();
        read_before_kill = driven.read;

        // Another process replays the log the killed one left and finds it balanced.
        let report = kanjo(&[&["report", "trial-balance"], store_args].concat());
        let stdout = String::from_utf8_lossy(&report.stdout);
        assert!(
            report.status.success() && stdout.contains("balanced"),
            "round {round}: trial balance after the kill: {}\n{stdout}\n{}",
            report.status,
            String::from_utf8_lossy(&report.stderr)
        );
    }
    let batches = model.acked.len();
    eprintln!(
        "{kills} kills on {}: {batches} batches, {} events; {unanswered} batches were unanswered at a kill, \
         {committed_unanswered} of them already committed; {reads} reads during load survived",
        store_args[0],
        model.answers.len()
    );
    assert!(
        batches > kills,
        "the load reached the server between kills ({batches} batches)"
    );
}

/// Ctrl-C is the graceful path: requests in flight are answered, the process exits 0, and
/// everything answered is in the log.
#[test]
fn sigint_under_load_answers_what_is_in_flight_and_exits_cleanly() {
    const SIGINT_EXIT_TIMEOUT_MS: u64 = 20_000;
    const SIGINT_AFTER_BATCHES: u64 = 30;
    let dir = TempDir::new("crash-sigint");
    let data = dir.join("store");
    let store_args = ["--data", data.to_str().expect("a UTF-8 temp path")];
    let server = Server::start(&store_args);
    register_riders(&server);
    let next_index = AtomicU64::new(0);
    let addr = server.addr;
    let (driven, status) = std::thread::scope(|scope| {
        let driver = scope.spawn(|| drive(addr, &next_index));
        // Interrupt once the load is flowing, however slow the machine.
        let started = std::time::Instant::now();
        while next_index.load(Ordering::SeqCst) < SIGINT_AFTER_BATCHES {
            assert!(
                started.elapsed() < Duration::from_millis(SIGINT_EXIT_TIMEOUT_MS),
                "the load never flowed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = server.interrupt(SIGINT_EXIT_TIMEOUT_MS);
        let driven = driver
            .join()
            .expect("the drivers check answers and do not panic");
        (driven, status)
    });
    let Driven {
        acked,
        unanswered,
        read,
    } = driven;
    assert!(status.success(), "kanjo serve exits 0 on SIGINT: {status}");
    assert!(!acked.is_empty(), "the load reached the server");

    let server = Server::start(&store_args);
    for (id, answer) in &read {
        assert_eq!(
            stored_answer(&server, id).as_ref(),
            Some(answer),
            "{id} was read, then lost"
        );
    }
    let mut model = Model::default();
    for (batch, results) in acked {
        for (id, answer) in batch.ids().zip(&results) {
            assert_eq!(
                stored_answer(&server, id).as_ref(),
                Some(answer),
                "event {id} survives a graceful stop"
            );
        }
        model.ack(batch, results);
    }
    // Requests that arrived after the listener closed were never taken: all or nothing, then retried.
    settle_in_flight(&server, &mut model, unanswered);
    check_balances(&server, &model);
}

/// One store, one writer: a second process opening a live store (here `kanjo import`) must be
/// refused or must coexist; it must never take the live server's next log position and so
/// stop it.
#[test]
fn a_second_writer_on_a_live_store_does_not_stop_the_server() {
    let dir = TempDir::new("crash-second-writer");
    let data = dir.join("store");
    let data_arg = data.to_str().expect("a UTF-8 temp path");
    let server = Server::start(&["--data", data_arg]);
    let first = Batch::new(0);
    post_batch(&server, &first);

    let file = dir.join("import.ndjson");
    let second = Batch::new(1);
    let lines: Vec<String> = second.events.iter().map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n")).expect("write the import file");
    let import = kanjo(&[
        "import",
        "--data",
        data_arg,
        file.to_str().expect("a UTF-8 temp path"),
    ]);
    eprintln!(
        "kanjo import on a live store: {}; {}{}",
        import.status,
        String::from_utf8_lossy(&import.stdout),
        String::from_utf8_lossy(&import.stderr)
    );

    let third = Batch::new(2);
    let response = server.post("/v1/events", &array_body(&third.events));
    assert_eq!(
        response.status, 200,
        "the live server keeps taking events: {}",
        response.body
    );
    assert_eq!(server.get("/healthz").json()["status"], "ok");
}
