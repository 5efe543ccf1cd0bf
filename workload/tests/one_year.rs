//! A year of a town's points on the machine alone (issue 9, "How we will know"): residents earn
//! `year-pt` weekly and spend it at shops, vouchers sell in July, and both lapse at the fiscal
//! year end. Beside the machine runs a tiny model of the residents (one balance per asset: every
//! lot of a fiscal-year asset ends at the same instant, so a year's lots lapse whole), and:
//! - every event is accepted or refused as the model says;
//! - at every month end the trial balance balances and every resident's balances equal the
//!   model's;
//! - breakage per fiscal year (`kanjo report breakage`) equals the model's lapsed balances, and
//!   for the points also Σ granted − Σ spent in that year;
//! - vouchers sell only inside the sale window, and tries outside it are `outside_sale_window`;
//! - live lots never exceed 2 per resident (one per asset), and after the year end none of the
//!   old year's lots is left.
//!
//! The 10 000 residents by default (about 20 s in a debug build):
//! `cargo test -p kanjo-workload --test one_year -- --nocapture` prints the numbers;
//! `KANJO_YEAR_RESIDENTS=1000` is quicker, `KANJO_YEAR_WEEKS=108` runs two fiscal year ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use kanjo_core::answer::{Outcome, RejectionCode};
use kanjo_core::breakage::{breakage_report, fiscal_year_of};
use kanjo_core::chart::{AccountName, AssetBook, AssetSection};
use kanjo_core::event::{Event, EventKind};
use kanjo_core::machine::{Machine, MachineConfig, Prepared};
use kanjo_core::report::trial_balance;
use kanjo_rules::Programme;
use kanjo_workload::year::{
    POINTS, SALE_ENDS_AT, SALE_STARTS_AT, VOUCHER, VOUCHER_FACE_MINOR, VOUCHER_LIMIT_SETS,
};
use kanjo_workload::{Year, YearConfig};

const SEED: u64 = 2026;
/// Event time a batch spans; below the machine's watermark lead (10 minutes).
const BATCH_SPAN_NS: u64 = 5 * 60 * 1_000_000_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |value| value.parse().expect("a whole number"))
}

fn machine_of(year: &Year) -> Machine {
    let text = year.programme_toml();
    let path = Path::new("year.toml");
    let programme = Programme::from_toml(path, &text).expect("the programme loads");
    let section: AssetSection = toml::from_str(&text).expect("the engine section parses");
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    let assets = AssetBook::from_section("year.toml", section, &granted).expect("valid assets");
    Machine::new(Arc::new(programme), assets, MachineConfig::default()).expect("genesis")
}

#[derive(Clone, Copy, Default)]
struct Wallet {
    points: u64,
    vouchers: u64,
    yen: u64,
    sets: u32,
}

/// The residents as the rules say they should be, kept without lots.
struct Model {
    wallets: Vec<Wallet>,
    /// The next 1 April 00:00 JST: where every balance of both assets lapses.
    year_end: Timestamp,
    /// (fiscal year, asset) → lapsed.
    breakage: BTreeMap<(i32, &'static str), u128>,
    granted: BTreeMap<i32, u128>,
    spent: BTreeMap<i32, u128>,
    sale: (Timestamp, Timestamp),
}

fn fiscal_year(at: Timestamp) -> i32 {
    let local = jiff::tz::offset(9).to_datetime(at);
    fiscal_year_of(
        i32::from(local.year()),
        u8::try_from(local.month()).expect("1..=12"),
    )
}

impl Model {
    fn new(residents: u64, first: Timestamp) -> Model {
        let year = fiscal_year(first);
        let year_end = format!("{}-04-01T00:00:00+09:00", year + 1);
        Model {
            wallets: vec![Wallet::default(); usize::try_from(residents).expect("fits")],
            year_end: year_end.parse().expect("an instant"),
            breakage: BTreeMap::new(),
            granted: BTreeMap::new(),
            spent: BTreeMap::new(),
            sale: (
                SALE_STARTS_AT.parse().expect("an instant"),
                SALE_ENDS_AT.parse().expect("an instant"),
            ),
        }
    }

    /// Lapses everything at the year end; true if this event is the first past it.
    fn lapse_before(&mut self, at: Timestamp) -> bool {
        if at < self.year_end {
            return false;
        }
        let ended = fiscal_year(self.year_end) - 1;
        for wallet in &mut self.wallets {
            *self.breakage.entry((ended, POINTS)).or_default() += u128::from(wallet.points);
            *self.breakage.entry((ended, VOUCHER)).or_default() += u128::from(wallet.vouchers);
            wallet.points = 0;
            wallet.vouchers = 0;
        }
        self.year_end = format!("{}-04-01T00:00:00+09:00", ended + 2)
            .parse()
            .expect("an instant");
        true
    }

    /// Applies one event; whether the rules accept it.
    fn apply(&mut self, year: &Year, event: &Event, resident: usize) -> bool {
        let fy = fiscal_year(event.at);
        let wallet = &mut self.wallets[resident];
        match &event.kind {
            EventKind::Topup(topup) => wallet.yen += topup.amount_minor,
            EventKind::Grant(grant) => {
                wallet.points += grant.amount_minor;
                *self.granted.entry(fy).or_default() += u128::from(grant.amount_minor);
            }
            EventKind::Purchase(payment) => {
                let shop: u32 = payment.shop[payment.shop.len() - 4..].parse().expect("id");
                let vouchers = if year.is_grocery(shop) {
                    wallet.vouchers
                } else {
                    0
                };
                if vouchers + wallet.points + wallet.yen < payment.amount_minor {
                    return false;
                }
                let from_vouchers = vouchers.min(payment.amount_minor);
                let from_points = wallet.points.min(payment.amount_minor - from_vouchers);
                wallet.vouchers -= from_vouchers;
                wallet.points -= from_points;
                wallet.yen -= payment.amount_minor - from_vouchers - from_points;
                *self.spent.entry(fy).or_default() += u128::from(from_points);
            }
            EventKind::VoucherPurchase(purchase) => {
                let inside = self.sale.0 <= event.at && event.at < self.sale.1;
                if !inside || wallet.sets + purchase.sets > VOUCHER_LIMIT_SETS {
                    return false;
                }
                wallet.sets += purchase.sets;
                wallet.vouchers += VOUCHER_FACE_MINOR * u64::from(purchase.sets);
            }
            other => panic!("the year makes no {other:?}"),
        }
        true
    }
}

fn rider_of(event: &Event) -> &str {
    match &event.kind {
        EventKind::Topup(topup) => &topup.rider,
        EventKind::Grant(grant) => &grant.rider,
        EventKind::Purchase(payment) => &payment.rider,
        EventKind::VoucherPurchase(purchase) => &purchase.rider,
        other => panic!("the year makes no {other:?}"),
    }
}

fn balance(machine: &Machine, rider: &str, asset: &str) -> u64 {
    let id = AccountName::Rider { rider, asset }.id();
    let posted = machine
        .ledger()
        .account(id)
        .map_or(0, |account| account.credit_balance_posted());
    u64::try_from(posted).expect("no rider balance is negative")
}

#[derive(Default)]
struct Tally {
    events: u64,
    batches: u64,
    refused: u64,
    vouchers_sold: u64,
    vouchers_outside: u64,
    month_ends: u32,
    peak_live_lots: usize,
}

/// The books at a month end: balanced, every wallet as the model's, breakage as the model's.
fn check_month_end(machine: &Machine, year: &Year, model: &Model, label: &str) {
    let balance_now = trial_balance(machine);
    assert!(balance_now.balanced, "{label}: {:?}", balance_now.problems);
    for (resident, wallet) in model.wallets.iter().enumerate() {
        let rider = year.resident_id(resident as u64);
        assert_eq!(
            balance(machine, &rider, POINTS),
            wallet.points,
            "{label} {rider}"
        );
        assert_eq!(
            balance(machine, &rider, VOUCHER),
            wallet.vouchers,
            "{label} {rider}"
        );
        assert_eq!(
            balance(machine, &rider, "JPY"),
            wallet.yen,
            "{label} {rider}"
        );
    }
    let report = breakage_report(machine, None).expect("every asset");
    let reported: BTreeMap<(i32, &str), u128> = report
        .years
        .iter()
        .filter(|line| line.total_minor > 0)
        .map(|line| {
            assert_eq!(line.refunded_minor, 0, "the year makes no refunds");
            let asset = if line.asset == POINTS {
                POINTS
            } else {
                VOUCHER
            };
            ((line.fiscal_year, asset), line.total_minor)
        })
        .collect();
    let modelled: BTreeMap<(i32, &str), u128> = model
        .breakage
        .iter()
        .filter(|(_, amount)| **amount > 0)
        .map(|(key, amount)| (*key, *amount))
        .collect();
    assert_eq!(reported, modelled, "{label}: breakage per fiscal year");
}

/// After a year end: no lot of either asset ends at or before it.
fn check_old_lots_gone(machine: &Machine, year_end: Timestamp) {
    for asset in [POINTS, VOUCHER] {
        let (id, _) = machine.assets().get(asset).expect("the asset");
        let left = machine.lots_ending(id, 0, year_end.as_nanosecond());
        assert!(left.is_empty(), "{asset}: {left:?} outlived the year end");
    }
}

fn run(machine: &mut Machine, year: &Year, tally: &mut Tally) -> Model {
    let residents = year.config().residents;
    let live_lots_max = 2 * usize::try_from(residents).expect("fits");
    let (sale_starts, sale_ends) = (
        SALE_STARTS_AT.parse::<Timestamp>().unwrap(),
        SALE_ENDS_AT.parse::<Timestamp>().unwrap(),
    );
    let mut model: Option<Model> = None;
    let mut clock_ns: u64 = 0;
    let mut day: Option<(i16, i8, i8)> = None;
    for event in year.events() {
        let local = jiff::tz::offset(9).to_datetime(event.at);
        let today = (local.year(), local.month(), local.day());
        let model = model.get_or_insert_with(|| Model::new(residents, event.at));
        if day != Some(today) {
            if let Some((y, m, _)) = day
                && (y, m) != (today.0, today.1)
            {
                check_month_end(machine, year, model, &format!("end of {y}-{m:02}"));
                tally.month_ends += 1;
            }
            day = Some(today);
        }
        // Batches as the pipeline makes them: processed just after their events, so the
        // event-time watermark (which leads the batch clock by at most minutes) follows.
        let at_ns = u64::try_from(event.at.as_nanosecond()).expect("after 1970");
        if at_ns > clock_ns + BATCH_SPAN_NS {
            clock_ns = at_ns;
            machine.begin_batch(clock_ns);
            tally.batches += 1;
        }
        let year_end = model.year_end;
        let lapsed = model.lapse_before(event.at);
        let rider = rider_of(&event).to_owned();
        let resident: usize = rider[rider.len() - 7..].parse().expect("a resident id");
        let expected = model.apply(year, &event, resident);
        let is_voucher = matches!(event.kind, EventKind::VoucherPurchase(_));
        let outcome = machine.apply(&Prepared::new(event.clone()));
        if lapsed {
            check_old_lots_gone(machine, year_end);
        }
        assert_eq!(outcome.is_accepted(), expected, "{}: {outcome:?}", event.id);
        tally.events += 1;
        tally.refused += u64::from(!expected);
        if is_voucher {
            let inside = sale_starts <= event.at && event.at < sale_ends;
            if expected {
                assert!(inside, "{} sold outside the window", event.id);
                tally.vouchers_sold += 1;
            } else if !inside {
                let Outcome::Rejected(rejection) = &outcome else {
                    unreachable!("refused")
                };
                assert_eq!(rejection.code, RejectionCode::OutsideSaleWindow);
                tally.vouchers_outside += 1;
            }
        }
        let live = machine.live_lots();
        assert!(live <= live_lots_max, "{live} live lots for {residents}");
        tally.peak_live_lots = tally.peak_live_lots.max(live);
    }
    let model = model.expect("a year has events");
    check_month_end(machine, year, &model, "the last day");
    model
}

#[test]
fn a_year_of_points_balances_monthly_and_its_breakage_is_the_lapsed_balances() {
    let residents = env_or("KANJO_YEAR_RESIDENTS", 10_000);
    let mut config = YearConfig::new(SEED, residents);
    config.weeks = u32::try_from(env_or("KANJO_YEAR_WEEKS", 56)).expect("weeks");
    let year = Year::new(config);
    let mut machine = machine_of(&year);
    let started = Instant::now();
    let mut tally = Tally::default();
    let model = run(&mut machine, &year, &mut tally);
    let elapsed_s = started.elapsed().as_secs_f64();

    assert!(tally.month_ends >= 12, "a year has twelve month ends");
    assert!(tally.vouchers_sold > 0 && tally.vouchers_outside > 0);
    let lapsed_years: Vec<i32> = model
        .breakage
        .keys()
        .filter(|(_, asset)| *asset == POINTS)
        .map(|(fy, _)| *fy)
        .collect();
    assert!(!lapsed_years.is_empty(), "a fiscal year ended");
    for fy in lapsed_years {
        let breakage = model.breakage[&(fy, POINTS)];
        assert!(breakage > 0, "some residents hoard: points lapse");
        assert_eq!(
            breakage,
            model.granted[&fy] - model.spent.get(&fy).copied().unwrap_or(0),
            "FY{fy}: breakage = Σ granted − Σ spent (nothing is held past the year end)"
        );
    }
    assert!(
        machine.live_lots() <= usize::try_from(residents).expect("fits"),
        "after the year end only the new year's points lots live"
    );
    let report = breakage_report(&machine, None).expect("every asset");
    eprintln!(
        "one year: {residents} residents, {} events in {} batches ({} refused), {} vouchers sold, {} tries \
         outside the window, {} month ends, peak live lots {}, live lots at the end {}, \
         purchases remembered for refunds {}, {elapsed_s:.1} s",
        tally.events,
        tally.batches,
        tally.refused,
        tally.vouchers_sold,
        tally.vouchers_outside,
        tally.month_ends,
        tally.peak_live_lots,
        machine.live_lots(),
        machine.remembered_purchase_slices(),
    );
    eprint!("{}", report.to_text());
}
