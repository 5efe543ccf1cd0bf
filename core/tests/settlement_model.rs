//! Properties of period close over random months (issue 10): rides and purchases on random days
//! (late ones included), settlements through random dates, partial payouts.
//!
//! - closing is idempotent: the same date again answers the same settlement and posts nothing;
//! - a refused close (a date before the last) changes nothing;
//! - closed settlements never change, whatever arrives later, and neither do their statements
//!   (each is made, with its checks against the ledger, when the settlement closes and again
//!   after every later step; only what is paid of it moves);
//! - Σ a settlement's lines = what its transfers moved on the ledger, per party, asset and pot
//!   (payable, or IC clearing receivable), and the IC receivables hold what the clearing house
//!   owed for the settled days;
//! - payables only go down by payouts: each payable account's debits = Σ payouts, its credits =
//!   Σ what settlements moved into it, and its balance = Σ what its settlements still owe unpaid;
//! - refund advances: each advance account's debits = Σ what refunds after close advanced, its
//!   credits = Σ what settlements recovered;
//! - refunds after close (on random days, of random purchases) are accepted or refused only as
//!   `refund_exceeds_shop_funds` / `refund_exceeds_purchase`, never by the ledger;
//! - at close, each operator's statement holds exactly the operator report's days of the period;
//! - the Zengin file of the last settlement pays exactly Σ its unpaid yen and points payables;
//! - a settlement through a day after the batch clock's local date is `period_not_over` and
//!   changes nothing.

mod settlement_common;

use std::collections::BTreeMap;

use kanjo_core::report::statement::{Statement, statements};
use kanjo_core::settlement::{
    Pot, Settlement, advance_account_id, ic_receivable_account_id, payable_account_id,
};
use proptest::prelude::*;
use settlement_common::*;

#[derive(Clone, Debug)]
enum Step {
    Ride {
        day: u8,
        ic: bool,
    },
    Purchase {
        day: u8,
        amount: u16,
        /// Paid in town points (`muro-pt`, which the town reimburses at ¥1) instead of yen.
        points: bool,
    },
    Refund {
        of: u8,
        amount: u16,
        day: u8,
    },
    Settle {
        day: u8,
    },
    /// A day after the batch clock's local date (2027-01-15 in Tokyo).
    SettleFuture {
        days_ahead: u16,
    },
    Payout {
        per_mille: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..60, any::<bool>()).prop_map(|(day, ic)| Step::Ride { day, ic }),
        4 => (0u8..60, 1u16..3000, any::<bool>()).prop_map(|(day, amount, points)| Step::Purchase { day, amount, points }),
        2 => (0u8..20, 1u16..3000, 0u8..60).prop_map(|(of, amount, day)| Step::Refund { of, amount, day }),
        1 => (1u16..4000).prop_map(|days_ahead| Step::SettleFuture { days_ahead }),
        2 => (0u8..60).prop_map(|day| Step::Settle { day }),
        1 => (1u16..=1000).prop_map(|per_mille| Step::Payout { per_mille }),
    ]
}

fn date(day: u8) -> String {
    let first = kanjo_rules::LocalDate::parse("2026-11-01").expect("a date");
    first
        .add_days(i32::from(day))
        .expect("in range")
        .to_string()
}

fn check_ledger_agrees(town: &Town, paid: &BTreeMap<(String, String), u64>) {
    let book = town.machine.settle_book();
    let mut advanced: BTreeMap<(String, String), u64> = BTreeMap::new();
    for refund in book.refunds_after_close() {
        *advanced
            .entry((refund.party.clone(), refund.asset.clone()))
            .or_default() += refund.advanced_minor;
    }
    let mut recovered: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut unpaid: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut settled: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut ic_settled: BTreeMap<String, u64> = BTreeMap::new();
    for settlement in book.settlements() {
        let mut lines: BTreeMap<(String, String, Pot), i128> = BTreeMap::new();
        for line in &settlement.lines {
            *lines
                .entry((line.party.clone(), line.asset.clone(), line.pot()))
                .or_default() += line.amount_minor;
        }
        // Lines that net to zero are settled with nothing to move.
        lines.retain(|_, sum| *sum != 0);
        let mut payables: BTreeMap<(String, String, Pot), i128> = BTreeMap::new();
        for payable in &settlement.payables {
            let key = (payable.party.clone(), payable.asset.clone());
            *unpaid.entry(key.clone()).or_default() +=
                book.unpaid_minor(&settlement.id, &payable.party, &payable.asset);
            let amount = i128::from(payable.amount_minor);
            payables.insert((key.0.clone(), key.1.clone(), Pot::Payable), amount);
            *settled.entry(key).or_default() += payable.amount_minor;
        }
        for receivable in &settlement.receivables {
            let key = (
                receivable.party.clone(),
                receivable.asset.clone(),
                Pot::IcReceivable,
            );
            payables.insert(key, i128::from(receivable.amount_minor));
            *ic_settled.entry(receivable.party.clone()).or_default() += receivable.amount_minor;
        }
        for advance in &settlement.advances_recovered {
            let key = (advance.party.clone(), advance.asset.clone());
            let amount = advance.amount_minor;
            payables.insert(
                (key.0.clone(), key.1.clone(), Pot::RefundAdvance),
                i128::from(amount),
            );
            *recovered.entry(key).or_default() += amount;
        }
        assert_eq!(
            lines, payables,
            "Σ lines = what moved, per pot, in {}",
            settlement.id
        );
        let moved: u64 = town
            .machine
            .ledger()
            .transfers()
            .filter(|t| {
                t.code == kanjo_core::chart::Reason::Settlement as u16
                    && t.user_data_64 == settlement.number
            })
            .map(|t| t.amount)
            .sum();
        let total: i128 = payables.values().sum();
        assert_eq!(
            i128::from(moved),
            total,
            "the ledger moved what {} says",
            settlement.id
        );
    }
    // What the clearing house owed for settled days is in the receivables; the rest of its
    // balance is what it owes for days not yet settled.
    let mut ic_owed_settled = 0i128;
    for (party, amount) in &ic_settled {
        let account = town
            .machine
            .ledger()
            .account(ic_receivable_account_id(party, "JPY"))
            .expect("a receivable account");
        assert_eq!(
            account.debits_posted, *amount,
            "the receivable holds what was settled"
        );
        assert_eq!(
            account.credits_posted, 0,
            "nothing pays a receivable down in kanjo"
        );
        ic_owed_settled += i128::from(*amount);
    }
    let ic_fares: u64 = kanjo_core::report::operator_days(&town.machine)
        .iter()
        .map(|day| day.paid_ic)
        .sum();
    assert_eq!(
        -town.balance("clearing:ic:JPY") + ic_owed_settled,
        i128::from(ic_fares),
        "clearing + receivables = every IC fare"
    );
    for ((party, asset), amount) in &advanced {
        let account = town
            .machine
            .ledger()
            .account(advance_account_id(party, asset));
        let Some(account) = account else {
            assert_eq!(*amount, 0, "an advance opens its account");
            continue;
        };
        assert_eq!(
            account.debits_posted, *amount,
            "advanced by refunds after close"
        );
        let back = recovered
            .get(&(party.clone(), asset.clone()))
            .copied()
            .unwrap_or(0);
        assert_eq!(account.credits_posted, back, "recovered by settlements");
    }
    for ((party, asset), credited) in &settled {
        let account = town
            .machine
            .ledger()
            .account(payable_account_id(party, asset))
            .expect("a payable account");
        assert_eq!(account.credits_posted, *credited);
        let paid_out = paid
            .get(&(party.clone(), asset.clone()))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            account.debits_posted, paid_out,
            "payables only go down by payouts"
        );
        assert_eq!(
            account.credit_balance_posted(),
            i128::from(unpaid[&(party.clone(), asset.clone())]),
            "the payable holds what its settlements still owe"
        );
    }
}

/// The Zengin file of a settlement pays Σ its unpaid yen and points payables (¥1 a point), one
/// record per party, or there is nothing to pay.
fn check_zengin_pays_what_is_unpaid(town: &Town, settlement: &str) {
    use kanjo_core::settlement::payout_file::{payout_file, unpaid_yen};
    let date = kanjo_rules::LocalDate::parse("2027-02-01").expect("a date");
    let book = town.machine.settle_book();
    let found = book.settlement(settlement).expect("closed");
    let unpaid: u64 = found
        .payables
        .iter()
        .map(|p| book.unpaid_minor(settlement, &p.party, &p.asset))
        .sum();
    let parties = unpaid_yen(&town.machine, settlement).expect("known").len();
    match payout_file(&town.machine, settlement, date) {
        Ok(bytes) => {
            let trailer = bytes.chunks(122).nth(parties + 1).expect("a trailer");
            assert_eq!(trailer[0], b'8');
            assert_eq!(&trailer[1..7], format!("{parties:06}").as_bytes());
            assert_eq!(
                &trailer[7..19],
                format!("{unpaid:012}").as_bytes(),
                "Σ unpaid"
            );
        }
        Err(refusal) => {
            assert_eq!(refusal.code(), "nothing_to_pay");
            assert_eq!(unpaid, 0);
        }
    }
}

/// At close, each operator's statement shows exactly the operator report's days of the period.
fn operator_report_agrees(town: &Town, settlement: &Settlement, made: &[Statement]) {
    let after = settlement.previous_through.as_deref().unwrap_or("");
    let report = kanjo_core::report::operator_days(&town.machine);
    for statement in made {
        let Some(code) = statement.party.strip_prefix("operator:") else {
            continue;
        };
        let expected: Vec<_> = report
            .iter()
            .filter(|day| day.operator == code)
            .filter(|day| day.date.as_str() > after && day.date <= settlement.through)
            .cloned()
            .collect();
        assert_eq!(
            statement.operator_days, expected,
            "the operator report reconciles"
        );
    }
}

/// A statement as closed: what is paid of it is the one figure that changes later (payouts).
fn without_paid(mut made: Vec<Statement>) -> Vec<Statement> {
    for statement in &mut made {
        for payable in &mut statement.payables {
            payable.paid_minor = 0;
        }
    }
    made
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn settlements_keep_their_invariants_over_random_months(steps in prop::collection::vec(step(), 1..40)) {
        let mut town = Town::new();
        town.events(&[
            topup("t-0", "2026-10-01T09:00:00+09:00", "adult", "JPY", 1_000_000),
            grant("g-0", "2026-10-01T09:00:00+09:00", "adult", "muro-pt", 200_000),
        ]);
        let mut closed: Vec<Settlement> = Vec::new();
        let mut closed_statements: Vec<Vec<Statement>> = Vec::new();
        let mut paid: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut purchases: Vec<String> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Ride { day, ic } => {
                    let at = format!("{}T08:{:02}:00+09:00", date(*day), n % 60);
                    let id = format!("ride-{n}");
                    town.events(&[if *ic { adult_ic_ride(&id, &at) } else { senior_ride(&id, &at) }]);
                }
                Step::Purchase { day, amount, points } => {
                    let at = format!("{}T12:{:02}:00+09:00", date(*day), n % 60);
                    let id = format!("p-{n}");
                    let asset = if *points { "muro-pt" } else { "JPY" };
                    town.events(&[purchase(&id, &at, "muroran-shoten", u64::from(*amount), asset)]);
                    purchases.push(id);
                }
                Step::Refund { of, amount, day } => {
                    // After close the shop's receipts may be in its payable: the town advances
                    // what receipts lack, or the refund is refused by name when that would be
                    // more than the town still owes the shop.
                    if let Some(id) = purchases.get(usize::from(*of)) {
                        let at = format!("{}T20:{:02}:00+09:00", date(*day), n % 60);
                        let before = town.digest();
                        let codes = town.events_answered(&[refund(&format!("rf-{n}"), &at, id, u64::from(*amount))]);
                        match codes[0].as_str() {
                            "accepted" => {}
                            "refund_exceeds_shop_funds" | "refund_exceeds_purchase" => {
                                prop_assert_eq!(town.digest(), before);
                            }
                            other => prop_assert!(false, "refund refused as {}", other),
                        }
                    }
                }
                Step::SettleFuture { days_ahead } => {
                    let through = kanjo_rules::LocalDate::parse("2027-01-15")
                        .expect("a date")
                        .add_days(i32::from(*days_ahead))
                        .expect("in range")
                        .to_string();
                    let before = town.digest();
                    let refused = town.settle(&through).expect_err("not over");
                    prop_assert_eq!(refused.code(), "period_not_over");
                    prop_assert_eq!(town.digest(), before);
                }
                Step::Settle { day } => {
                    let through = date(*day);
                    let before = town.digest();
                    match town.settle(&through) {
                        Ok(settlement) => {
                            let digest = town.digest();
                            let again = town.settle(&through).expect("the same date again");
                            prop_assert_eq!(&again, &settlement);
                            prop_assert_eq!(town.digest(), digest);
                            if !closed.iter().any(|c| c.id == settlement.id) {
                                let made = statements(&town.machine, &settlement.id)
                                    .map(without_paid)
                                    .expect("a closed settlement's statements pass their checks");
                                operator_report_agrees(&town, &settlement, &made);
                                closed_statements.push(made);
                                closed.push(settlement);
                            }
                        }
                        Err(refusal) => {
                            prop_assert_eq!(refusal.code(), "period_closed");
                            prop_assert_eq!(town.digest(), before);
                        }
                    }
                }
                Step::Payout { per_mille } => {
                    let Some(last) = closed.last() else { continue };
                    for payable in last.payables.clone() {
                        let left = town.machine.settle_book().unpaid_minor(&last.id, &payable.party, &payable.asset);
                        let amount = left * u64::from(*per_mille) / 1000;
                        if amount == 0 {
                            continue;
                        }
                        let id = format!("po-{n}-{}-{}", payable.party, payable.asset);
                        town.payout(&pay(&id, &last.id, &payable.party, &payable.asset, amount))
                            .expect("within what is payable");
                        *paid.entry((payable.party.clone(), payable.asset.clone())).or_default() += amount;
                    }
                }
            }
            check_ledger_agrees(&town, &paid);
            if let Some(last) = closed.last() {
                check_zengin_pays_what_is_unpaid(&town, &last.id);
            }
            for (settlement, made) in closed.iter().zip(&closed_statements) {
                let again = statements(&town.machine, &settlement.id)
                    .map(without_paid)
                    .expect("still made");
                prop_assert_eq!(&again, made, "late events never change a closed statement");
            }
        }
        let book = town.machine.settle_book();
        for settlement in &closed {
            prop_assert_eq!(book.settlement(&settlement.id), Some(settlement), "closed settlements never change");
        }
    }
}
