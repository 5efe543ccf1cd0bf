//! Election-day workload: a city of `voters` gets one ballot entitlement each; some have voted early
//! at networked early-voting stations; on the day, check-ins run 07:00–20:00 with an opening spike
//! over `stations` polling stations; 2 % of voters try again at another station, and every such
//! retry must be rejected.
//!
//! Nothing is kept per voter: a voter's fate, station and retry are hashes of (seed, voter), and
//! the day's check-ins walk a seeded permutation of the voters at increasing times (the inverse of
//! the day profile), so the stream is in time order with constant memory apart from pending retries.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use jiff::ToSpan;
use jiff::civil::{Date, date};

use super::clock::LocalDay;
use super::rider::{KOBE_CODE, RiderRecord};
use super::rng::{mix, reduce};
use kanjo_core::event::{Event, EventKind, Grant, Redeem};

const STREAM_FATE: u64 = 11;
const STREAM_RETRY: u64 = 12;
const STREAM_STATION: u64 = 13;
const STREAM_DETAIL: u64 = 14;
const STREAM_PERMUTATION: u64 = 15;

/// Kobe is 1.5 M people; ten times that is not a city.
pub const VOTERS_MAX: u64 = 20_000_000;
pub const STATIONS_MAX: u32 = 100_000;

pub const POLLS_OPEN_S: i64 = 7 * 3600;
pub const POLLS_CLOSE_S: i64 = 20 * 3600;

#[derive(Clone, Debug)]
pub struct ElectionConfig {
    pub seed: u64,
    pub voters: u64,
    pub stations: u32,
    pub early_stations: u32,
    pub election_date: Date,
    /// Of all voters: who voted early, and who votes in total (early included).
    pub early_per_mille: u32,
    pub turnout_per_mille: u32,
    /// Of all voters: who try to vote a second time, at another station.
    pub retry_per_mille: u32,
    pub asset: String,
    pub id_prefix: String,
}

impl ElectionConfig {
    /// A Kobe-sized city: 1 200 000 voters at 300 stations.
    pub fn new(seed: u64, voters: u64, stations: u32) -> ElectionConfig {
        ElectionConfig {
            seed,
            voters,
            stations,
            early_stations: 20,
            election_date: date(2026, 12, 13),
            early_per_mille: 200,
            turnout_per_mille: 550,
            retry_per_mille: 20,
            asset: "ballot-2026".to_owned(),
            id_prefix: String::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    VotedEarly,
    VotesOnTheDay,
    Abstains,
}

/// What an event of this workload is, read back from its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionRole {
    Grant,
    EarlyVote,
    CheckIn,
    /// A second attempt: must be rejected.
    Retry,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElectionTotals {
    pub grants: u64,
    pub early_votes: u64,
    pub check_ins: u64,
    pub retries: u64,
}

impl ElectionTotals {
    pub fn events(&self) -> u64 {
        self.grants + self.early_votes + self.check_ins + self.retries
    }
}

/// Relative check-in rate per minute of the day, ×10: a spike at opening, a morning wave, a lull
/// at midday, a small after-work wave.
fn day_weight(minute_of_polls: i64) -> u64 {
    let local_s = POLLS_OPEN_S + minute_of_polls * 60;
    let hour = |h: i64, m: i64| h * 3600 + m * 60;
    if local_s < hour(7, 30) {
        30
    } else if local_s < hour(9, 0) {
        16
    } else if local_s < hour(12, 0) {
        13
    } else if local_s < hour(16, 0) {
        10
    } else if local_s < hour(18, 0) {
        11
    } else {
        8
    }
}

#[derive(Clone, Debug)]
pub struct Election {
    config: ElectionConfig,
    totals: ElectionTotals,
    /// Cumulative `day_weight` per minute of the polling day.
    cumulative_weight: Vec<u64>,
    permutation_multiplier: u64,
    permutation_offset: u64,
    day: LocalDay,
}

impl Election {
    pub fn new(config: ElectionConfig) -> Election {
        assert!(
            (1..=VOTERS_MAX).contains(&config.voters),
            "voters must be 1..={VOTERS_MAX}"
        );
        assert!(
            (2..=STATIONS_MAX).contains(&config.stations),
            "a retry needs another station"
        );
        assert!(config.early_stations >= 1);
        assert!(
            config.early_per_mille <= config.turnout_per_mille && config.turnout_per_mille <= 1000
        );
        assert!(
            config.retry_per_mille <= config.turnout_per_mille,
            "only voters can retry"
        );
        let minutes = (POLLS_CLOSE_S - POLLS_OPEN_S) / 60;
        let mut cumulative_weight = Vec::with_capacity(minutes as usize);
        let mut sum = 0;
        for minute in 0..minutes {
            sum += day_weight(minute);
            cumulative_weight.push(sum);
        }
        let voters = config.voters;
        let mut multiplier = (mix(config.seed, STREAM_PERMUTATION, 0) % voters).max(1);
        while gcd(multiplier, voters) != 1 {
            multiplier = multiplier % voters + 1;
        }
        let permutation_offset = mix(config.seed, STREAM_PERMUTATION, 1) % voters;
        let mut election = Election {
            day: LocalDay::jst(config.election_date),
            config,
            totals: ElectionTotals::default(),
            cumulative_weight,
            permutation_multiplier: multiplier,
            permutation_offset,
        };
        election.totals = election.count_totals();
        election
    }

    fn count_totals(&self) -> ElectionTotals {
        let mut totals = ElectionTotals {
            grants: self.config.voters,
            ..ElectionTotals::default()
        };
        for voter in 0..self.config.voters {
            match self.fate(voter) {
                Fate::VotedEarly => totals.early_votes += 1,
                Fate::VotesOnTheDay => totals.check_ins += 1,
                Fate::Abstains => {}
            }
            totals.retries += u64::from(self.retries(voter));
        }
        totals
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// How many events of each role the stream holds.
    pub fn totals(&self) -> ElectionTotals {
        self.totals
    }

    pub fn fate(&self, voter: u64) -> Fate {
        let slot = reduce(mix(self.config.seed, STREAM_FATE, voter), 1000) as u32;
        if slot < self.config.early_per_mille {
            Fate::VotedEarly
        } else if slot < self.config.turnout_per_mille {
            Fate::VotesOnTheDay
        } else {
            Fate::Abstains
        }
    }

    /// Whether this voter, having voted, tries again at another station.
    pub fn retries(&self, voter: u64) -> bool {
        self.fate(voter) != Fate::Abstains
            && reduce(
                mix(self.config.seed, STREAM_RETRY, voter),
                u64::from(self.config.turnout_per_mille),
            ) < u64::from(self.config.retry_per_mille)
    }

    /// The polling station the voter is registered at.
    pub fn home_station(&self, voter: u64) -> u32 {
        reduce(
            mix(self.config.seed, STREAM_STATION, voter),
            u64::from(self.config.stations),
        ) as u32
    }

    pub fn voter_id(&self, voter: u64) -> String {
        format!("{}voter{voter}", self.config.id_prefix)
    }

    pub fn station_name(station: u32) -> String {
        format!("station-{station:03}")
    }

    pub fn role_of(&self, event_id: &str) -> Option<ElectionRole> {
        let rest = event_id.strip_prefix(self.config.id_prefix.as_str())?;
        match rest.as_bytes().first()? {
            b'g' => Some(ElectionRole::Grant),
            b'e' => Some(ElectionRole::EarlyVote),
            b'c' => Some(ElectionRole::CheckIn),
            b'x' => Some(ElectionRole::Retry),
            _ => None,
        }
    }

    pub fn voter_record(&self, voter: u64) -> RiderRecord {
        let detail = mix(self.config.seed, STREAM_DETAIL, voter);
        let year = i32::from(self.config.election_date.year());
        let years_ago = 19 + reduce(detail, 76) as i32;
        let birth = date(
            (year - years_ago) as i16,
            1 + reduce(mix(detail, 1, 0), 12) as i8,
            1 + reduce(mix(detail, 2, 0), 28) as i8,
        );
        RiderRecord {
            rider: self.voter_id(voter),
            birth_date: birth.to_string(),
            residence: KOBE_CODE.to_owned(),
            license_returned_on: None,
            disability: false,
            verified_at: date(self.config.election_date.year(), 4, 1).to_string(),
            valid_until: date(self.config.election_date.year() + 1, 3, 31).to_string(),
        }
    }

    pub fn voters(&self) -> impl Iterator<Item = RiderRecord> + '_ {
        (0..self.config.voters).map(|voter| self.voter_record(voter))
    }

    /// Local seconds of the `index`-th (0-based) of the day's check-ins: the day profile inverted.
    fn check_in_time_s(&self, index: u64) -> i64 {
        let total_weight = *self
            .cumulative_weight
            .last()
            .expect("the polling day has minutes");
        let count = self.totals.check_ins.max(1);
        // Position within the day's weight, in 1/1000 weight units, at the middle of the index's slot.
        let target =
            (u128::from(index) * 2 + 1) * u128::from(total_weight) * 1000 / (u128::from(count) * 2);
        let target = target as u64;
        let minute = self
            .cumulative_weight
            .partition_point(|&cumulative| cumulative * 1000 <= target);
        let before = if minute == 0 {
            0
        } else {
            self.cumulative_weight[minute - 1] * 1000
        };
        let width = day_weight(minute as i64) * 1000;
        let second_in_minute = (target - before) * 60 / width;
        POLLS_OPEN_S + minute as i64 * 60 + second_in_minute as i64
    }

    fn voter_at_position(&self, position: u64) -> u64 {
        let voters = self.config.voters;
        ((u128::from(self.permutation_multiplier) * u128::from(position)
            + u128::from(self.permutation_offset))
            % u128::from(voters)) as u64
    }

    pub fn events(&self) -> ElectionEvents<'_> {
        ElectionEvents {
            election: self,
            phase: Phase::Grants,
            next_voter: 0,
            next_position: 0,
            check_ins_emitted: 0,
            next_check_in: None,
            retries: BinaryHeap::new(),
        }
    }

    fn redeem(&self, id: String, voter: u64, at_s: i64, day: &LocalDay, place: String) -> Event {
        Event {
            id,
            at: day.at(at_s),
            kind: EventKind::Redeem(Redeem {
                rider: self.voter_id(voter),
                asset: self.config.asset.clone(),
                place,
                amount_minor: 1,
            }),
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Grants,
    EarlyVoting,
    PollingDay,
}

/// Streams an election: all grants, then early votes, then the polling day in time order.
pub struct ElectionEvents<'a> {
    election: &'a Election,
    phase: Phase,
    next_voter: u64,
    next_position: u64,
    check_ins_emitted: u64,
    next_check_in: Option<(i64, u64)>,
    /// Pending second attempts, earliest first: (local seconds, voter, station).
    retries: BinaryHeap<Reverse<(i64, u64, u32)>>,
}

impl ElectionEvents<'_> {
    fn prefix(&self) -> &str {
        &self.election.config.id_prefix
    }

    fn schedule_retry(&mut self, voter: u64, at_s: i64, station: u32) {
        assert!(
            self.retries.len() as u64 <= self.election.totals.retries,
            "more retries than the workload holds"
        );
        self.retries
            .push(Reverse((at_s.min(POLLS_CLOSE_S - 1), voter, station)));
    }

    fn find_next_check_in(&mut self) -> Option<(i64, u64)> {
        if self.next_check_in.is_none() {
            while self.next_position < self.election.config.voters {
                let voter = self.election.voter_at_position(self.next_position);
                self.next_position += 1;
                if self.election.fate(voter) == Fate::VotesOnTheDay {
                    let at_s = self.election.check_in_time_s(self.check_ins_emitted);
                    self.next_check_in = Some((at_s, voter));
                    break;
                }
            }
        }
        self.next_check_in
    }
}

impl Iterator for ElectionEvents<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let election = self.election;
        let config = &election.config;
        loop {
            match self.phase {
                Phase::Grants => {
                    if self.next_voter == config.voters {
                        self.phase = Phase::EarlyVoting;
                        self.next_voter = 0;
                        continue;
                    }
                    let voter = self.next_voter;
                    self.next_voter += 1;
                    let grant_day = LocalDay::jst(config.election_date - 14.days());
                    let at_s = 9 * 3600 + (voter * 8 * 3600 / config.voters) as i64;
                    return Some(Event {
                        id: format!("{}g{voter}", self.prefix()),
                        at: grant_day.at(at_s),
                        kind: EventKind::Grant(Grant {
                            rider: election.voter_id(voter),
                            asset: config.asset.clone(),
                            amount_minor: 1,
                            place: None,
                        }),
                    });
                }
                Phase::EarlyVoting => {
                    if self.next_voter == config.voters {
                        self.phase = Phase::PollingDay;
                        continue;
                    }
                    let voter = self.next_voter;
                    self.next_voter += 1;
                    if election.fate(voter) != Fate::VotedEarly {
                        continue;
                    }
                    let detail = mix(config.seed, STREAM_DETAIL, voter);
                    if election.retries(voter) {
                        // Tries again on the day, at the home station: another station than the early one.
                        let at_s = POLLS_OPEN_S
                            + reduce(mix(detail, 3, 0), (POLLS_CLOSE_S - POLLS_OPEN_S) as u64)
                                as i64;
                        self.schedule_retry(voter, at_s, election.home_station(voter));
                    }
                    let days_before = 7 - (voter * 7 / config.voters) as i64;
                    let early_day = LocalDay::jst(config.election_date - days_before.days());
                    let at_s = 8 * 3600 + 30 * 60 + reduce(mix(detail, 4, 0), 11 * 3600) as i64;
                    let early_station = reduce(mix(detail, 5, 0), u64::from(config.early_stations));
                    let id = format!("{}e{voter}", self.prefix());
                    return Some(election.redeem(
                        id,
                        voter,
                        at_s,
                        &early_day,
                        format!("early-{early_station:02}"),
                    ));
                }
                Phase::PollingDay => {
                    let next_check_in = self.find_next_check_in();
                    let retry_due = match (self.retries.peek(), next_check_in) {
                        (Some(Reverse((retry_s, _, _))), Some((check_in_s, _))) => {
                            *retry_s <= check_in_s
                        }
                        (Some(_), None) => true,
                        (None, _) => false,
                    };
                    if retry_due {
                        let Reverse((at_s, voter, station)) = self.retries.pop().expect("peeked");
                        let id = format!("{}x{voter}", self.prefix());
                        return Some(election.redeem(
                            id,
                            voter,
                            at_s,
                            &election.day,
                            Election::station_name(station),
                        ));
                    }
                    let (at_s, voter) = next_check_in?;
                    self.next_check_in = None;
                    self.check_ins_emitted += 1;
                    let home = election.home_station(voter);
                    if election.retries(voter) {
                        let detail = mix(config.seed, STREAM_DETAIL, voter);
                        let delay_s = 300 + reduce(mix(detail, 6, 0), 7200) as i64;
                        let offset =
                            1 + reduce(mix(detail, 7, 0), u64::from(config.stations - 1)) as u32;
                        self.schedule_retry(
                            voter,
                            at_s + delay_s,
                            (home + offset) % config.stations,
                        );
                    }
                    let id = format!("{}c{voter}", self.prefix());
                    return Some(election.redeem(
                        id,
                        voter,
                        at_s,
                        &election.day,
                        Election::station_name(home),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn small(seed: u64) -> Election {
        Election::new(ElectionConfig::new(seed, 50_000, 40))
    }

    fn local_seconds(event: &Event) -> i64 {
        (event.at.as_second() + 9 * 3600).rem_euclid(86_400)
    }

    #[test]
    fn every_voter_gets_one_ballot_before_anyone_votes() {
        let election = small(1);
        let mut granted = vec![false; 50_000];
        let mut voting_started = false;
        for event in election.events() {
            match &event.kind {
                EventKind::Grant(grant) => {
                    assert!(!voting_started, "a grant after the first vote");
                    let voter: usize = grant.rider.strip_prefix("voter").unwrap().parse().unwrap();
                    assert!(!granted[voter]);
                    granted[voter] = true;
                }
                _ => voting_started = true,
            }
        }
        assert!(granted.iter().all(|&done| done));
    }

    #[test]
    fn about_two_percent_of_voters_retry_and_always_at_another_station() {
        let election = small(2);
        let mut first_place: HashMap<String, String> = HashMap::new();
        let mut retries = 0u64;
        for event in election.events() {
            let EventKind::Redeem(redeem) = &event.kind else {
                continue;
            };
            match election.role_of(&event.id).unwrap() {
                ElectionRole::EarlyVote | ElectionRole::CheckIn => {
                    assert!(
                        first_place
                            .insert(redeem.rider.clone(), redeem.place.clone())
                            .is_none()
                    );
                }
                ElectionRole::Retry => {
                    retries += 1;
                    let first = first_place
                        .get(&redeem.rider)
                        .expect("a retry comes after the voter's vote");
                    assert_ne!(first, &redeem.place);
                }
                ElectionRole::Grant => panic!("a grant is not a redeem"),
            }
        }
        assert_eq!(retries, election.totals().retries);
        let per_mille = retries * 1000 / 50_000;
        assert!((17..=23).contains(&per_mille), "{per_mille} ‰ retried");
    }

    #[test]
    fn the_polling_day_runs_seven_to_eight_in_time_order_with_an_opening_spike() {
        let election = small(3);
        let mut previous = 0i64;
        let mut per_half_hour = [0u64; 26];
        for event in election.events() {
            let role = election.role_of(&event.id).unwrap();
            if role != ElectionRole::CheckIn && role != ElectionRole::Retry {
                continue;
            }
            let local_s = local_seconds(&event);
            assert!(
                (POLLS_OPEN_S..POLLS_CLOSE_S).contains(&local_s),
                "{}",
                event.at
            );
            assert!(local_s >= previous, "out of time order at {}", event.id);
            previous = local_s;
            per_half_hour[((local_s - POLLS_OPEN_S) / 1800) as usize] += 1;
        }
        let opening = per_half_hour[0];
        assert!(
            per_half_hour[1..]
                .iter()
                .all(|&count| count * 3 / 2 < opening),
            "{per_half_hour:?}"
        );
    }

    #[test]
    fn the_totals_match_the_stream_and_early_votes_are_at_early_stations() {
        let election = small(4);
        let mut seen = ElectionTotals::default();
        for event in election.events() {
            match election.role_of(&event.id).unwrap() {
                ElectionRole::Grant => seen.grants += 1,
                ElectionRole::EarlyVote => {
                    seen.early_votes += 1;
                    let EventKind::Redeem(redeem) = &event.kind else {
                        panic!()
                    };
                    assert!(redeem.place.starts_with("early-"));
                    assert!(event.at < LocalDay::jst(election.config().election_date).at(0));
                }
                ElectionRole::CheckIn => seen.check_ins += 1,
                ElectionRole::Retry => seen.retries += 1,
            }
        }
        assert_eq!(seen, election.totals());
        assert!(seen.early_votes * 1000 / 50_000 >= 180 && seen.check_ins * 1000 / 50_000 >= 320);
    }

    #[test]
    fn the_same_seed_gives_the_same_election() {
        let first: Vec<String> = small(5)
            .events()
            .take(60_000)
            .map(|event| event.canonical_json())
            .collect();
        let again: Vec<String> = small(5)
            .events()
            .take(60_000)
            .map(|event| event.canonical_json())
            .collect();
        assert_eq!(first, again);
        let other: Vec<String> = small(6)
            .events()
            .skip(50_000)
            .take(10_000)
            .map(|event| event.canonical_json())
            .collect();
        assert_ne!(first[50_000..], other[..]);
    }
}
