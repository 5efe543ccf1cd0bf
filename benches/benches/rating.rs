//! Rating throughput (issue 3): the Muroran GTFS-JP feed loaded, a realistic rider mix
//! (15 % aged 75+, 5 % licence returned, 10 % school children, 20 % visitors, the rest adult
//! residents; 3 % with a disability; 5 % of rides by riders not in the registry) riding real
//! (route, from, to) pairs of the feed's weekday trips (kanjo-workload's `Timetable`).
//!
//! - `rating/rate_commit`: the hot path, `rate` + `commit` on resolved rides (goal ≥ 3 M/s
//!   on one core). Each pass over the rides moves them three days on and forgets older day
//!   tallies, as an engine would, so the state keeps a steady size;
//! - `rating/resolve_rate_commit`: the same rides from strings (RFC 3339 parse, stop and fare
//!   lookups, rider lookup) as an engine sees them;
//! - `rating/load_muroran`: compiling the programme, GTFS feed included.
//!
//! Workload generation is outside the timed region (`iter_custom`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kanjo_benches::bench_mode;
use kanjo_rules::{
    LocalDate, Programme, RatingState, Ride, RideFields, RiderRecord, Riders, commit, rate,
};
use kanjo_workload::Timetable;
use kanjo_workload::rng::SplitMix64 as Rng;
use kanjo_workload::timetable::muroran_feed_dir;

/// Riders in the registry (test mode: fewer): about everyone in Muroran (pop. ~78 000).
const RIDERS_BENCH: usize = 80_000;
const RIDERS_TEST_MODE: usize = 2_000;
/// Rides generated and rated in a cycle (test mode: fewer).
const RIDES_BENCH: usize = 1_000_000;
const RIDES_TEST_MODE: usize = 5_000;
/// Real (route, from, to) pairs sampled from the timetable.
const PAIRS_MAX: usize = 20_000;
const SEED: u64 = 0x6b61_6e6a_6f5f_7261;

fn feed_dir() -> PathBuf {
    muroran_feed_dir()
}

/// A programme like a town would run: the spec example's rules plus a junior-high discount.
fn programme_text() -> String {
    format!(
        r#"
[town]
code = "012050"
name = "室蘭市"
timezone = "Asia/Tokyo"

[[fare_tables]]
operator = "donan-bus"
gtfs = "{feed}"

[[fare_tables]]
operator = "town-bus"
flat_fare = 100

[[budgets]]
id = "transit-subsidy"
fiscal_year = 2026
limit = 100000000000

[[budgets]]
id = "welfare"
fiscal_year = 2026
limit = 100000000000

[[rules]]
id = "senior-free"
kind = "fare_discount"
eligible = {{ min_age = 75, resident_of = "012050" }}
discount = {{ type = "free" }}
funded_by = "transit-subsidy"

[[rules]]
id = "licence-returned-half"
kind = "fare_discount"
eligible = {{ license_returned = true, resident_of = "012050" }}
discount = {{ type = "percent_off", percent = 50, round = "up_10" }}
funded_by = "transit-subsidy"

[[rules]]
id = "child-half"
kind = "fare_discount"
eligible = {{ school_stage = "elementary" }}
discount = {{ type = "percent_off", percent = 50, round = "up_10" }}
funded_by = "welfare"

[[rules]]
id = "junior-high-100"
kind = "fare_discount"
eligible = {{ school_stage = "junior_high", resident_of = "012050" }}
discount = {{ type = "fixed_fare", amount = 100 }}
funded_by = "welfare"

[[rules]]
id = "disability-half"
kind = "fare_discount"
eligible = {{ disability = true }}
discount = {{ type = "percent_off", percent = 50, round = "down_10" }}
funded_by = "welfare"

[[rules]]
id = "resident-200"
kind = "fare_discount"
operators = ["donan-bus"]
eligible = {{ resident_of = "012050" }}
discount = {{ type = "fixed_fare", amount = 200 }}
funded_by = "transit-subsidy"

[[rules]]
id = "day-cap"
kind = "daily_cap"
operators = ["donan-bus"]
amount = 600

[[rules]]
id = "fifth-ride"
kind = "ride_reward"
eligible = {{ license_returned = true }}
every = 5
asset = "drone-delivery"
amount = 1

[[rules]]
id = "ride-points"
kind = "points_per_ride"
eligible = {{ resident_of = "012050" }}
asset = "muro-pt"
amount = 10
"#,
        feed = feed_dir().display()
    )
}

fn date(year: i16, month: u8, day: u8) -> Option<LocalDate> {
    LocalDate::new(year, month, day.min(28))
}

/// The rider mix of issue 3.
fn riders(count: usize, rng: &mut Rng) -> Riders {
    let mut riders = Riders::new();
    for i in 0..count {
        let roll = rng.below(100);
        let (month, day) = (1 + rng.below(12) as u8, 1 + rng.below(28) as u8);
        let (birth_year, residence, returned) = match roll {
            0..15 => (1925 + rng.below(27) as i16, "012050", rng.below(4) == 0),
            15..20 => (1945 + rng.below(10) as i16, "012050", true),
            20..30 => (
                2011 + rng.below(9) as i16,
                if rng.below(5) == 0 {
                    "011002"
                } else {
                    "012050"
                },
                false,
            ),
            30..50 => (1950 + rng.below(55) as i16, "011002", false),
            _ => (1952 + rng.below(53) as i16, "012050", false),
        };
        let record = RiderRecord {
            rider: format!("r-{i:07}"),
            birth_date: date(birth_year, month, day),
            residence: Some(residence.to_string()),
            license_returned_on: returned
                .then(|| date(2024, 1 + rng.below(12) as u8, 1 + rng.below(28) as u8))
                .flatten(),
            disability: Some(rng.below(100) < 3),
            verified_at: date(2026, 4, 1),
            valid_until: if rng.below(50) == 0 {
                date(2026, 10, 31)
            } else {
                date(2027, 3, 31)
            },
            attributes: Default::default(),
        };
        riders.upsert(record).expect("generated riders are valid");
    }
    riders
}

/// (route, from, to) pairs of real trips: boarding before alighting on one trip.
fn timetable_pairs(rng: &mut Rng) -> Vec<(String, String, String)> {
    let timetable =
        Timetable::load(&feed_dir(), "weekday").expect("the Muroran feed is in the repository");
    let mut pairs = Vec::with_capacity(PAIRS_MAX);
    while pairs.len() < PAIRS_MAX {
        let trip = &timetable.trips[rng.below(timetable.trips.len() as u64) as usize];
        let calls = &trip.calls;
        let from = rng.below(calls.len() as u64 - 1) as usize;
        let to = from + 1 + rng.below((calls.len() - from - 1) as u64) as usize;
        pairs.push((
            trip.route_id.clone(),
            timetable.stops[calls[from].stop as usize].clone(),
            timetable.stops[calls[to].stop as usize].clone(),
        ));
    }
    pairs
}

/// Ride events as strings: 90 % on the GTFS operator, over three days from 06:00 to 22:00
/// (callers sort them by time).
fn ride_fields(
    count: usize,
    riders: usize,
    pairs: &[(String, String, String)],
    rng: &mut Rng,
) -> Vec<RideFields> {
    (0..count)
        .map(|_| {
            let (day, minute) = (25 + rng.below(3), 6 * 60 + rng.below(16 * 60));
            let rider = if rng.below(100) < 5 {
                format!("visitor-{}", rng.below(10_000))
            } else {
                format!("r-{:07}", rng.below(riders as u64))
            };
            let at = format!(
                "2026-11-{day}T{:02}:{:02}:00+09:00",
                minute / 60,
                minute % 60
            );
            if rng.below(10) == 0 {
                RideFields {
                    at,
                    operator: "town-bus".into(),
                    route: None,
                    from: None,
                    to: None,
                    rider: Some(rider),
                }
            } else {
                let (route, from, to) = &pairs[rng.below(pairs.len() as u64) as usize];
                RideFields {
                    at,
                    operator: "donan-bus".into(),
                    route: Some(route.clone()),
                    from: Some(from.clone()),
                    to: Some(to.clone()),
                    rider: Some(rider),
                }
            }
        })
        .collect()
}

struct Workload {
    programme: Programme,
    riders: Riders,
    fields: Vec<RideFields>,
    rides: Vec<Ride>,
}

fn workload() -> Workload {
    let (rider_count, ride_count) = if bench_mode() {
        (RIDERS_BENCH, RIDES_BENCH)
    } else {
        (RIDERS_TEST_MODE, RIDES_TEST_MODE)
    };
    let programme = Programme::from_toml(Path::new("bench-programme.toml"), &programme_text())
        .expect("bench programme");
    let mut rng = Rng::new(SEED);
    let riders = riders(rider_count, &mut rng);
    let pairs = timetable_pairs(&mut rng);
    let mut all = ride_fields(ride_count, rider_count, &pairs, &mut rng);
    // Events reach the rater in time order (all `at` share one offset, so text order is time).
    all.sort_by(|a, b| a.at.cmp(&b.at));
    // Real timetable pairs without a fare rule (the feed has a few) are left out.
    let (fields, rides): (Vec<RideFields>, Vec<Ride>) = all
        .into_iter()
        .filter_map(|f| {
            programme
                .resolve_ride(&riders, &f)
                .ok()
                .map(|ride| (f, ride))
        })
        .unzip();
    assert!(
        rides.len() * 10 >= ride_count * 9,
        "most timetable pairs have a fare: {} of {ride_count}",
        rides.len()
    );
    Workload {
        programme,
        riders,
        fields,
        rides,
    }
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    /// On-CPU time of this thread.
    ThreadCpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => EPOCH.with(|epoch| epoch.elapsed()),
            Clock::ThreadCpu => thread_cpu_time(),
        }
    }
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
}

/// On-CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID), exact to the
/// nanosecond, unlike /proc's schedstat which only moves at scheduler ticks.
fn thread_cpu_time() -> Duration {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the valid pointer it is given.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

thread_local! {
    static EPOCH: Instant = Instant::now();
}

/// Moves every ride three days on and forgets the tallies of days before them; back to the
/// first days (with a fresh state) before the budgets' fiscal year ends.
fn next_pass(w: &Workload, rides: &mut [Ride], state: &mut RatingState) {
    let shift = |day: LocalDate| day.add_days(3).expect("dates in 2026-2027");
    let last_day = rides.iter().map(|r| r.day).max().expect("rides");
    if shift(last_day) >= LocalDate::new(2027, 3, 1).expect("valid") {
        rides.copy_from_slice(&w.rides);
        *state = RatingState::new(&w.programme);
        return;
    }
    for ride in rides.iter_mut() {
        ride.day = shift(ride.day);
    }
    let first_day = rides.iter().map(|r| r.day).min().expect("rides");
    state.forget_days_before(first_day);
}

fn rating(c: &mut Criterion) {
    let w = workload();
    let mut group = c.benchmark_group("rating");
    group.throughput(Throughput::Elements(1));

    // Wall-clock time, and (second) this thread's on-CPU time: on a shared 2-core machine the
    // latter is the one-core speed even while other processes take turns on the core.
    for (name, clock) in [
        ("rate_commit", Clock::Wall),
        ("rate_commit_cpu_time", Clock::ThreadCpu),
    ] {
        let mut state = RatingState::new(&w.programme);
        let mut rides = w.rides.clone();
        let mut next = 0usize;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    if next == rides.len() {
                        next_pass(&w, &mut rides, &mut state);
                        next = 0;
                    }
                    let chunk = left.min((rides.len() - next) as u64) as usize;
                    let start = clock.now();
                    for ride in &rides[next..next + chunk] {
                        let rated = rate(&w.programme, &w.riders, &state, ride)
                            .expect("resolved rides rate");
                        commit(&mut state, ride, &rated);
                        std::hint::black_box(&rated);
                    }
                    elapsed += clock.now().saturating_sub(start);
                    next += chunk;
                    left -= chunk as u64;
                }
                elapsed
            })
        });
    }

    let mut state = RatingState::new(&w.programme);
    let mut next = 0usize;
    group.bench_function("resolve_rate_commit", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if next == w.fields.len() {
                    state = RatingState::new(&w.programme);
                    next = 0;
                }
                let chunk = left.min((w.fields.len() - next) as u64) as usize;
                let start = Instant::now();
                for fields in &w.fields[next..next + chunk] {
                    let ride = w
                        .programme
                        .resolve_ride(&w.riders, fields)
                        .expect("resolves");
                    let rated = rate(&w.programme, &w.riders, &state, &ride).expect("rates");
                    commit(&mut state, &ride, &rated);
                    std::hint::black_box(&rated);
                }
                elapsed += start.elapsed();
                next += chunk;
                left -= chunk as u64;
            }
            elapsed
        })
    });
    group.finish();

    let mut group = c.benchmark_group("rating");
    group.sample_size(10);
    let text = programme_text();
    group.bench_function("load_muroran", |b| {
        b.iter(|| Programme::from_toml(Path::new("bench-programme.toml"), &text).expect("loads"))
    });
    group.finish();
}

criterion_group!(benches, rating);
criterion_main!(benches);
