//! The IC clearing receivable in period close (issue 10): what the IC clearing house owes each
//! operator for its riders' IC fares, per day, settled beside the subsidy but never as a payable
//! the town pays.
//!
//! On donan-bus's ¥330 trip: an anonymous IC card pays all ¥330 by IC; the resident adult pays
//! ¥200 by IC and `transit-subsidy` the other ¥130; a senior's cash ride owes ¥330 of subsidy.

mod settlement_common;

use kanjo_core::report::statement::{IC_RECEIVABLE, statement};
use kanjo_core::settlement::{Pot, ic_receivable_account_id};
use settlement_common::*;

const DONAN: &str = "operator:donan-bus";
const CLEARING: &str = "clearing:ic:JPY";

/// An IC card kanjo knows no rider for: the full fare, by IC.
fn ic_ride(id: &str, at: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"ride","at":"{at}","operator":"donan-bus","route":"100100","from":"0122_A","to":"0391_B","media":"ic"}}"#
    )
}

/// Debit balance of the operator's IC receivable.
fn receivable(town: &Town, party: &str) -> i128 {
    town.machine
        .ledger()
        .account(ic_receivable_account_id(party, "JPY"))
        .map_or(0, |account| -account.credit_balance_posted())
}

/// (day, amount, adjustment) of the IC clearing lines.
fn ic_lines(settlement: &kanjo_core::settlement::Settlement) -> Vec<(String, i128, bool)> {
    settlement
        .lines
        .iter()
        .filter(|l| l.source == "ic_clearing")
        .map(|l| (l.day.clone(), l.amount_minor, l.adjustment))
        .collect()
}

#[test]
fn closing_moves_each_days_ic_fares_from_the_clearing_house_into_the_operators_receivable() {
    let mut town = Town::new();
    town.events(&[
        ic_ride("ic-1", "2026-11-25T08:00:00+09:00"),
        adult_ic_ride("ic-2", "2026-11-26T08:00:00+09:00"),
        adult_ic_ride("ic-3", "2026-11-26T18:00:00+09:00"),
        senior_ride("r-1", "2026-11-26T07:45:00+09:00"),
    ]);
    assert_eq!(town.balance(CLEARING), -730, "the house owes 330 + 2 × 200");

    let settlement = town.settle("2026-11-30").expect("settled");

    assert_eq!(
        ic_lines(&settlement),
        vec![
            ("2026-11-25".into(), 330, false),
            ("2026-11-26".into(), 400, false),
        ]
    );
    assert_eq!(settlement.receivables.len(), 1);
    assert_eq!(settlement.receivables[0].party, DONAN);
    assert_eq!(settlement.receivables[0].amount_minor, 730);
    assert_eq!(
        settlement.receivables[0].account,
        "receivable:ic:operator:donan-bus:JPY"
    );
    assert_eq!(
        town.balance(CLEARING),
        0,
        "the period's IC fares are all settled"
    );
    assert_eq!(receivable(&town, DONAN), 730);
    // The town owes only the subsidy (2 × 130 + 330): the receivable is not in the payable.
    assert_eq!(town.payable(DONAN, "JPY"), 590);
    assert_eq!(settlement.payables.len(), 1);
    assert_eq!(settlement.payables[0].amount_minor, 590);
}

#[test]
fn an_operator_with_only_ic_fares_has_a_statement_with_its_receivable_and_nothing_payable() {
    let mut town = Town::new();
    town.events(&[ic_ride("ic-1", "2026-11-25T08:00:00+09:00")]);
    let settlement = town.settle("2026-11-30").expect("settled");
    assert!(settlement.payables.is_empty());

    let made = statement(&town.machine, &settlement.id, DONAN).expect("a statement");
    assert!(made.payables.is_empty());
    assert_eq!(made.receivables.len(), 1);
    assert_eq!(made.receivables[0].amount_minor, 330);
    assert_eq!(made.rides.as_ref().expect("rides").paid_ic, 330);
    let totals = made.total_rows();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].item, IC_RECEIVABLE);
    assert_eq!(totals[0].amount, Some(330));
    let csv = made.to_csv();
    assert!(csv.contains("IC精算明細 IC clearing line,2026-11-25,JPY,ic_clearing,330\r\n"));

    // The town pays no IC receivable: a payout for it has nothing to pay.
    let refused = town
        .payout(&pay("po-1", &settlement.id, DONAN, "JPY", 330))
        .expect_err("not payable");
    assert_eq!(refused.code(), "nothing_payable");
}

#[test]
fn a_late_ic_ride_for_a_closed_day_is_an_adjustment_in_the_next_settlement_naming_its_day() {
    let mut town = Town::new();
    town.events(&[ic_ride("ic-1", "2026-11-25T08:00:00+09:00")]);
    let first = town.settle("2026-11-30").expect("settled");
    // An offline validator uploads two days late, across the month end.
    town.events(&[
        ic_ride("ic-late", "2026-11-30T21:00:00+09:00"),
        ic_ride("ic-dec", "2026-12-01T08:00:00+09:00"),
    ]);
    let second = town.settle("2026-12-31").expect("settled");

    assert_eq!(
        ic_lines(&second),
        vec![
            ("2026-11-30".into(), 330, true),
            ("2026-12-01".into(), 330, false),
        ]
    );
    assert_eq!(second.lines.len(), 2, "{:?}", second.lines);
    assert_eq!(second.receivables[0].amount_minor, 660);
    assert_eq!(receivable(&town, DONAN), 990);
    assert_eq!(
        town.machine.settle_book().settlement(&first.id),
        Some(&first)
    );
    let made = statement(&town.machine, &second.id, DONAN).expect("a statement");
    assert_eq!(made.receivables[0].amount_minor, 660);
    assert!(
        made.to_csv()
            .contains("IC精算調整 IC clearing adjustment,2026-11-30,JPY,ic_clearing,330\r\n")
    );
}

#[test]
fn the_ic_receivable_and_the_payable_of_one_operator_post_in_one_chain() {
    let mut town = Town::new();
    town.events(&[
        ic_ride("ic-1", "2026-11-25T08:00:00+09:00"),
        senior_ride("r-1", "2026-11-26T07:45:00+09:00"),
    ]);
    let settlement = town.settle("2026-11-30").expect("settled");
    assert_eq!(settlement.payables.len(), 1);
    assert_eq!(settlement.receivables.len(), 1);
    let legs: Vec<_> = town
        .machine
        .ledger()
        .transfers()
        .filter(|t| t.user_data_64 == settlement.number)
        .collect();
    assert_eq!(legs.len(), 2);
    let linked = legs
        .iter()
        .filter(|t| t.flags.contains(kanjo_ledger::TransferFlags::LINKED))
        .count();
    assert_eq!(linked, 1, "the first leg links to the second");
    assert!(
        settlement
            .lines
            .iter()
            .any(|l| l.pot() == Pot::IcReceivable)
    );
}

#[test]
fn each_pot_is_named_on_the_finance_page_as_the_api_serialises_it() {
    for pot in [
        Pot::Payable,
        Pot::IcReceivable,
        Pot::RefundAdvance,
        Pot::CoinReceipts,
    ] {
        let json = serde_json::to_string(&pot).expect("serialises");
        assert_eq!(json, format!("\"{}\"", pot.name()));
    }
}
