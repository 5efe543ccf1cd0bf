//! 10 000 voters each hold one ballot; every one tries to check in twice, at two different
//! stations, in submissions racing on different threads. Exactly 10 000 check-ins are accepted,
//! every other one is refused as `already_redeemed` naming where and when the ballot was used,
//! and the polling stations' accounts add up to 10 000, before and after a restart (replay).

mod common;

use std::collections::BTreeMap;

use common::{TempDir, event, grant, redeem, sqlite, start_engine};
use kanjo_engine::answer::{Outcome, RejectionCode};
use kanjo_engine::chart::AccountName;
use kanjo_engine::event::Event;
use kanjo_engine::pipeline::{Answer, Engine};

const VOTERS: u64 = 10_000;
const STATIONS: u64 = 12;
const ASSET: &str = "ballot-2026";
/// Events per submission: small, so each thread sends many and they interleave.
const SUBMISSION_EVENTS: usize = 250;
/// Threads per group of attempts (two groups race for the same voters).
const THREADS_PER_GROUP: u64 = 2;

fn voter(index: u64) -> String {
    format!("voter-{index:05}")
}

fn station(index: u64) -> String {
    format!("station-{:02}", index % STATIONS)
}

/// A check-in attempt: where, at what local time, and its event.
#[derive(Clone)]
struct Attempt {
    id: String,
    place: String,
    local_minute: String,
    event: Event,
}

/// Attempt 0 is at the voter's home station in the morning; attempt 1 at the next station in the
/// afternoon, so the refusal's station and time tell which one was used.
fn attempt(voter_index: u64, which: u64) -> Attempt {
    let minutes = voter_index % 300 + which * 330;
    let (hour, minute) = (7 + minutes / 60, minutes % 60);
    let place = station(voter_index + which);
    let id = format!("check-in-{voter_index:05}-{which}");
    let at = format!("2026-12-13T{hour:02}:{minute:02}:00+09:00");
    Attempt {
        event: event(&redeem(&id, &voter(voter_index), ASSET, &place, &at)),
        id,
        place,
        local_minute: format!("2026-12-13 {hour:02}:{minute:02}"),
    }
}

fn grant_ballots(engine: &Engine) {
    let grants: Vec<Event> = (0..VOTERS)
        .map(|index| {
            event(&grant(
                &format!("ballot-{index:05}"),
                &voter(index),
                ASSET,
                1,
                "2026-12-01T09:00:00+09:00",
            ))
        })
        .collect();
    for chunk in grants.chunks(kanjo_engine::pipeline::SUBMISSION_EVENTS_MAX) {
        let answers = engine
            .submit(chunk.to_vec())
            .expect("grants are accepted into the log");
        assert!(
            answers.iter().all(|answer| answer.outcome.is_accepted()),
            "every voter gets a ballot"
        );
    }
}

/// Sends the attempts from racing threads in two groups: group g sends voter v's attempt
/// (v + g) % 2, group 0 in voter order and group 1 in reverse, each group over THREADS_PER_GROUP
/// threads taking alternate chunks. Each voter's two attempts so travel in different submissions
/// from different threads, and however the threads are scheduled, both attempts win for some voters.
fn race_check_ins(engine: &Engine) -> Vec<Answer> {
    std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for group in 0..2 {
            for lane in 0..THREADS_PER_GROUP {
                let engine = engine.clone();
                threads.push(scope.spawn(move || {
                    let mut voters: Vec<u64> = (0..VOTERS).collect();
                    if group == 1 {
                        voters.reverse();
                    }
                    let mut answers = Vec::new();
                    for (number, chunk) in voters.chunks(SUBMISSION_EVENTS).enumerate() {
                        if number as u64 % THREADS_PER_GROUP != lane {
                            continue;
                        }
                        let events = chunk
                            .iter()
                            .map(|&index| attempt(index, (index + group) % 2).event)
                            .collect();
                        answers.extend(
                            engine
                                .submit(events)
                                .expect("check-ins are accepted into the log"),
                        );
                    }
                    answers
                }));
            }
        }
        threads
            .into_iter()
            .flat_map(|thread| thread.join().expect("a check-in thread"))
            .collect()
    })
}

/// Checks the one-ballot rule over every voter's two answers; returns accepted check-ins per station.
fn check_exactly_one_per_voter(outcomes: &BTreeMap<String, Outcome>) -> BTreeMap<String, u64> {
    let mut per_station: BTreeMap<String, u64> = BTreeMap::new();
    for index in 0..VOTERS {
        let attempts = [attempt(index, 0), attempt(index, 1)];
        let answers: Vec<&Outcome> = attempts
            .iter()
            .map(|attempt| {
                outcomes
                    .get(&attempt.id)
                    .unwrap_or_else(|| panic!("{} has an answer", attempt.id))
            })
            .collect();
        let accepted: Vec<usize> = (0..2)
            .filter(|&which| answers[which].is_accepted())
            .collect();
        assert_eq!(
            accepted.len(),
            1,
            "voter {index}: exactly one check-in is accepted: {answers:?}"
        );
        let (used, refused) = (&attempts[accepted[0]], answers[1 - accepted[0]]);
        let Outcome::Rejected(rejection) = refused else {
            unreachable!("the other attempt was not accepted")
        };
        assert_eq!(
            rejection.code,
            RejectionCode::AlreadyRedeemed,
            "voter {index}: {rejection:?}"
        );
        let expected = format!(
            "rider {} already used their {ASSET} at {} at {} local time",
            voter(index),
            used.place,
            used.local_minute
        );
        assert_eq!(&*rejection.message, expected, "voter {index}");
        *per_station.entry(used.place.clone()).or_default() += 1;
    }
    per_station
}

/// Every attempt's stored answer, and each station's balance, read on the machine thread.
fn read_state(engine: &Engine) -> (BTreeMap<String, Outcome>, BTreeMap<String, u64>) {
    engine
        .query_blocking(|machine| {
            let mut outcomes = BTreeMap::new();
            for index in 0..VOTERS {
                for which in 0..2 {
                    let id = attempt(index, which).id;
                    if let Some(outcome) = machine.outcome(&id) {
                        outcomes.insert(id, outcome.clone());
                    }
                }
            }
            let mut balances = BTreeMap::new();
            for index in 0..STATIONS {
                let place = station(index);
                let id = AccountName::Place {
                    place: &place,
                    asset: ASSET,
                }
                .id();
                if let Some(account) = machine.ledger().account(id) {
                    assert_eq!(account.debits_posted, 0, "a station only receives ballots");
                    balances.insert(place, account.credits_posted);
                }
            }
            (outcomes, balances)
        })
        .expect("the engine answers queries")
}

#[test]
fn ten_thousand_voters_trying_twice_at_two_stations_concurrently_vote_exactly_ten_thousand_times() {
    let dir = TempDir::new("double-redeem");
    let store = sqlite(&dir.join("store"));
    let engine = start_engine(store.clone());
    grant_ballots(&engine);

    let answers = race_check_ins(&engine);
    assert_eq!(answers.len() as u64, 2 * VOTERS);
    let accepted = answers
        .iter()
        .filter(|answer| answer.outcome.is_accepted())
        .count() as u64;
    assert_eq!(
        accepted, VOTERS,
        "exactly one check-in per voter is accepted"
    );
    let answered: BTreeMap<String, Outcome> = answers
        .into_iter()
        .map(|answer| (answer.id, answer.outcome))
        .collect();
    let per_station = check_exactly_one_per_voter(&answered);
    let second_won = answered
        .iter()
        .filter(|(id, outcome)| id.ends_with("-1") && outcome.is_accepted())
        .count() as u64;
    assert!(
        0 < second_won && second_won < VOTERS,
        "the race went both ways ({second_won} second attempts won)"
    );

    let (stored, balances) = read_state(&engine);
    assert_eq!(stored, answered, "the machine keeps the answers it gave");
    assert_eq!(
        balances, per_station,
        "each station's account holds the ballots used there"
    );
    assert_eq!(balances.values().sum::<u64>(), VOTERS);
    assert!(
        balances.len() as u64 == STATIONS,
        "the race spread check-ins over every station: {balances:?}"
    );
    engine.shutdown();

    // Replay: the same answers, the same balances, and the rule still holds for new attempts.
    let engine = start_engine(store);
    let (replayed, balances_after) = read_state(&engine);
    assert_eq!(replayed, answered, "replay rebuilds every answer");
    assert_eq!(balances_after, balances);
    let again = race_check_ins(&engine);
    assert!(
        again
            .iter()
            .all(|answer| answered[&answer.id] == answer.outcome),
        "sending every attempt again answers as the first time"
    );
    let third: Vec<Event> = (0..VOTERS)
        .step_by(97)
        .map(|index| {
            event(&redeem(
                &format!("third-{index}"),
                &voter(index),
                ASSET,
                "station-99",
                "2026-12-13T19:59:00+09:00",
            ))
        })
        .collect();
    for answer in engine.submit(third).expect("third attempts are answered") {
        let Outcome::Rejected(rejection) = &answer.outcome else {
            panic!("a third attempt after the restart is refused: {answer:?}")
        };
        assert_eq!(rejection.code, RejectionCode::AlreadyRedeemed, "{answer:?}");
        assert!(
            !rejection.message.contains("station-99"),
            "it names the station used, not this one: {rejection:?}"
        );
    }
    let (_, balances_final) = read_state(&engine);
    assert_eq!(balances_final, balances, "nothing more was redeemed");
    engine.shutdown();
}
