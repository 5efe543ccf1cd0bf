//! Period close and payouts (issue 10), one rule per test, on the machine alone.
//!
//! November (see `settlement_common::november`): a senior's cash ride on the 26th owes
//! donan-bus ¥330 of `transit-subsidy`; on the 27th 室蘭書店 sells ¥1 000 in yen (fee 5, net
//! 995) and 300 muro-pt (no fee).

mod settlement_common;

use kanjo_core::settlement::Pot;
use settlement_common::*;

const SHOTEN: &str = "shop:muroran-shoten";
const DONAN: &str = "operator:donan-bus";

#[test]
fn closing_a_month_moves_subsidy_and_shop_receipts_into_payables_and_leaves_them_zero() {
    let mut town = Town::new();
    november(&mut town);
    assert_eq!(town.balance("operator:donan-bus:subsidy"), 330);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 995);

    let settlement = town.settle("2026-11-30").expect("settled");

    assert_eq!(settlement.id, "settle-2026-11-30");
    assert_eq!(settlement.number, 20261130);
    assert_eq!(town.balance("operator:donan-bus:subsidy"), 0);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
    assert_eq!(town.balance("shop:muroran-shoten:muro-pt"), 0);
    assert_eq!(town.payable(DONAN, "JPY"), 330);
    assert_eq!(town.payable(SHOTEN, "JPY"), 995);
    assert_eq!(town.payable(SHOTEN, "muro-pt"), 300);
    let lines: Vec<(&str, &str, &str, &str, i128, bool)> = settlement
        .lines
        .iter()
        .map(|l| {
            let (p, a, d, s) = (&*l.party, &*l.asset, &*l.day, &*l.source);
            (p, a, d, s, l.amount_minor, l.adjustment)
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                DONAN,
                "JPY",
                "2026-11-26",
                "subsidy:transit-subsidy",
                330,
                false
            ),
            (SHOTEN, "JPY", "2026-11-27", "shop_net", 995, false),
            (SHOTEN, "muro-pt", "2026-11-27", "shop_net", 300, false),
        ]
    );
    assert!(settlement.carried.is_empty());
}

#[test]
fn settlement_transfers_carry_the_settlement_number_and_are_linked_per_party() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let legs: Vec<_> = town
        .machine
        .ledger()
        .transfers()
        .filter(|t| t.code == kanjo_core::chart::Reason::Settlement as u16)
        .collect();
    assert_eq!(legs.len(), 3);
    assert!(legs.iter().all(|t| t.user_data_64 == 20261130));
    let linked = legs
        .iter()
        .filter(|t| t.flags.contains(kanjo_ledger::TransferFlags::LINKED))
        .count();
    // The shop's two legs are one chain (the first linked to the last); the operator's is alone.
    assert_eq!(linked, 1);
}

#[test]
fn settling_the_same_date_again_answers_the_same_settlement_and_posts_nothing() {
    let mut town = Town::new();
    november(&mut town);
    let first = town.settle("2026-11-30").expect("settled");
    let digest = town.digest();
    let again = town.settle("2026-11-30").expect("settled again");
    assert_eq!(first, again);
    assert_eq!(town.digest(), digest);
    assert_eq!(town.machine.settle_book().settlements().len(), 1);
}

#[test]
fn days_after_the_date_stay_open_for_the_next_settlement() {
    let mut town = Town::new();
    november(&mut town);
    town.events(&[senior_ride("r-dec", "2026-12-01T07:45:00+09:00")]);
    town.settle("2026-11-30").expect("settled");
    assert_eq!(town.balance("operator:donan-bus:subsidy"), 330);
    assert_eq!(town.payable(DONAN, "JPY"), 330);
    let december = town.settle("2026-12-31").expect("settled");
    assert_eq!(december.previous_through.as_deref(), Some("2026-11-30"));
    assert_eq!(town.payable(DONAN, "JPY"), 660);
    assert!(december.lines.iter().all(|line| !line.adjustment));
}

#[test]
fn a_late_event_for_a_closed_day_lands_in_the_next_settlement_as_an_adjustment_naming_its_day() {
    let mut town = Town::new();
    november(&mut town);
    let november_closed = town.settle("2026-11-30").expect("settled");
    // An offline validator uploads a ride of 28 November in December.
    town.events(&[senior_ride("r-late", "2026-11-28T08:00:00+09:00")]);
    assert_eq!(town.balance("operator:donan-bus:subsidy"), 330);

    let december = town.settle("2026-12-31").expect("settled");

    let adjustments: Vec<_> = december.lines.iter().filter(|l| l.adjustment).collect();
    assert_eq!(adjustments.len(), 1);
    assert_eq!(adjustments[0].day, "2026-11-28");
    assert_eq!(adjustments[0].amount_minor, 330);
    assert_eq!(town.balance("operator:donan-bus:subsidy"), 0);
    let closed = town
        .machine
        .settle_book()
        .settlement("settle-2026-11-30")
        .expect("kept");
    assert_eq!(
        *closed, november_closed,
        "a closed settlement never changes"
    );
}

#[test]
fn a_date_before_the_last_closed_one_is_refused_as_period_closed() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let digest = town.digest();
    let refused = town.settle("2026-11-15").expect_err("closed");
    assert_eq!(refused.code(), "period_closed");
    assert_eq!(town.digest(), digest);
}

#[test]
fn a_settle_command_with_a_date_that_does_not_exist_is_refused_at_the_edge() {
    for text in [
        r#"{"through":"2026-02-30"}"#,
        r#"{"through":"2026-1-5"}"#,
        r#"{"through":"soon"}"#,
        r#"{"through":"2026-11-30","extra":1}"#,
        r#"{}"#,
    ] {
        let refused = kanjo_core::settlement::SettleCommand::parse(text).expect_err(text);
        assert_eq!(refused.code(), "bad_settlement", "{text}");
    }
}

#[test]
fn a_refund_after_a_closed_period_nets_against_the_next_one() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    town.events(&[
        purchase(
            "p-dec",
            "2026-12-02T12:00:00+09:00",
            "muroran-shoten",
            2_000,
            "JPY",
        ),
        refund("rf-1", "2026-12-03T12:00:00+09:00", "p-dec", 500),
    ]);
    let shop_before = town.balance("shop:muroran-shoten:JPY");
    let december = town.settle("2026-12-31").expect("settled");
    let net: i128 = december
        .lines
        .iter()
        .filter(|l| l.party == SHOTEN && l.asset == "JPY")
        .map(|l| l.amount_minor)
        .sum();
    assert_eq!(net, shop_before);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
    assert_eq!(town.payable(SHOTEN, "JPY"), 995 + shop_before);
}

#[test]
fn a_payout_marks_a_payable_paid_and_only_payouts_bring_it_down() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let record = town
        .payout(&pay("po-1", "settle-2026-11-30", SHOTEN, "JPY", 900))
        .expect("paid");
    assert_eq!(record.remaining_minor, 95);
    assert_eq!(town.payable(SHOTEN, "JPY"), 95);
    let rest = town
        .payout(&pay("po-2", "settle-2026-11-30", SHOTEN, "JPY", 95))
        .expect("paid");
    assert_eq!(rest.remaining_minor, 0);
    assert_eq!(town.payable(SHOTEN, "JPY"), 0);
}

#[test]
fn a_payout_beyond_what_is_payable_is_refused_and_changes_nothing() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let digest = town.digest();
    let refused = town
        .payout(&pay("po-1", "settle-2026-11-30", DONAN, "JPY", 331))
        .expect_err("too much");
    assert_eq!(refused.code(), "payout_exceeds_payable");
    let unknown = town
        .payout(&pay("po-2", "settle-2026-10-31", DONAN, "JPY", 1))
        .expect_err("no such settlement");
    assert_eq!(unknown.code(), "unknown_settlement");
    let nobody = town
        .payout(&pay(
            "po-3",
            "settle-2026-11-30",
            "shop:yakitori-ippei",
            "JPY",
            1,
        ))
        .expect_err("nothing payable");
    assert_eq!(nobody.code(), "nothing_payable");
    assert_eq!(town.digest(), digest);
}

#[test]
fn a_payout_id_answers_its_first_answer_and_another_body_under_it_is_a_conflict() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    let first = town
        .payout(&pay("po-1", "settle-2026-11-30", DONAN, "JPY", 100))
        .expect("paid");
    let again = town
        .payout(&pay("po-1", "settle-2026-11-30", DONAN, "JPY", 100))
        .expect("same answer");
    assert_eq!(first, again);
    assert_eq!(town.payable(DONAN, "JPY"), 230);
    let conflict = town
        .payout(&pay("po-1", "settle-2026-11-30", DONAN, "JPY", 200))
        .expect_err("conflict");
    assert_eq!(conflict.code(), "payout_id_conflict");
    assert_eq!(town.payable(DONAN, "JPY"), 230);
}

#[test]
fn replaying_the_same_commands_gives_the_same_ledger_and_settlements() {
    let run = || {
        let mut town = Town::new();
        november(&mut town);
        town.settle("2026-11-30").expect("settled");
        town.events(&[senior_ride("r-late", "2026-11-28T08:00:00+09:00")]);
        town.payout(&pay("po-1", "settle-2026-11-30", DONAN, "JPY", 330))
            .expect("paid");
        town.settle("2026-12-31").expect("settled");
        (
            town.digest(),
            town.machine.settle_book().settlements().to_vec(),
        )
    };
    assert_eq!(run(), run());
}

/// The towns' batch clock (`Town::new`) is 2027-01-15 08:00 UTC, 17:00 in Tokyo.
#[test]
fn a_settlement_through_a_day_after_the_batch_clocks_local_date_is_refused_as_not_over() {
    let mut town = Town::new();
    november(&mut town);
    let digest = town.digest();
    for through in ["2027-01-16", "9999-12-31"] {
        let refused = town.settle(through).expect_err(through);
        assert_eq!(refused.code(), "period_not_over", "{through}");
        assert_eq!(town.digest(), digest);
    }
    assert!(town.machine.settle_book().settlements().is_empty());
    let today = town.settle("2027-01-15").expect("today may be closed");
    assert_eq!(today.id, "settle-2027-01-15");
}

/// 室蘭書店 refunds ¥500 of 27 November's ¥1 000 on 3 December, after November was settled:
/// its fee falls from 5 to ⌊500 × 50 / 10 000⌋ = 2, so 3 comes back and the shop gives 497.
/// Debit balance of `advance:shop:muroran-shoten:{asset}`: what the town advanced for refunds.
fn advanced(town: &Town, asset: &str) -> i128 {
    town.machine
        .ledger()
        .account(kanjo_core::settlement::advance_account_id(SHOTEN, asset))
        .map_or(0, |account| -account.credit_balance_posted())
}

/// (day, source, amount, adjustment) of the shop's JPY lines.
fn shop_jpy_lines(
    settlement: &kanjo_core::settlement::Settlement,
) -> Vec<(&str, &str, i128, bool)> {
    settlement
        .lines
        .iter()
        .filter(|l| l.party == SHOTEN && l.asset == "JPY")
        .map(|l| (&*l.day, &*l.source, l.amount_minor, l.adjustment))
        .collect()
}

#[test]
fn a_refund_after_close_with_no_receipts_is_advanced_by_the_town_and_the_payable_is_untouched() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);

    // ¥500 back; the shop gets 3 of its fee back, the town advances the other 497.
    town.events(&[refund("rf-1", "2026-12-03T12:00:00+09:00", "p-1", 500)]);

    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
    assert_eq!(advanced(&town, "JPY"), 497);
    assert_eq!(
        town.payable(SHOTEN, "JPY"),
        995,
        "payables only go down by payouts"
    );
    let book = town.machine.settle_book();
    assert_eq!(book.unpaid_minor("settle-2026-11-30", SHOTEN, "JPY"), 995);
    assert_eq!(book.refunds_after_close()[0].advanced_minor, 497);
    town.payout(&pay("po-1", "settle-2026-11-30", SHOTEN, "JPY", 995))
        .expect("the whole payable is still owed");
    assert_eq!(town.payable(SHOTEN, "JPY"), 0);

    // December: no receipts to repay the advance from, so the shop is carried.
    let december = town.settle("2026-12-31").expect("settled");
    assert_eq!(
        shop_jpy_lines(&december),
        Vec::<(&str, &str, i128, bool)>::new()
    );
    let carried: Vec<(&str, kanjo_core::settlement::Pot, i128)> = december
        .carried
        .iter()
        .map(|c| (&*c.party, c.pot, c.amount_minor))
        .collect();
    assert_eq!(
        carried,
        vec![
            (SHOTEN, Pot::Payable, -497),
            (SHOTEN, Pot::RefundAdvance, 497),
        ]
    );

    // January: the shop sells ¥2 000 (net 1 990); 497 repays the advance, 1 493 is payable.
    town.events(&[purchase(
        "p-jan",
        "2027-01-05T12:00:00+09:00",
        "muroran-shoten",
        2_000,
        "JPY",
    )]);
    let january = town.settle("2027-01-15").expect("settled");
    assert_eq!(
        shop_jpy_lines(&january),
        vec![
            ("2026-11-27", "refund", -497, true),
            ("2027-01-05", "shop_net", 1_990, false),
            ("2026-11-27", "refund_advance", 497, true),
        ]
    );
    assert_eq!(advanced(&town, "JPY"), 0, "the advance is repaid");
    assert_eq!(town.payable(SHOTEN, "JPY"), 1_493);
    assert_eq!(january.advances_recovered[0].amount_minor, 497);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
}

#[test]
fn a_refund_after_close_draws_on_the_shops_current_receipts_first() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    town.events(&[
        // ¥2 000 less its fee of 10: 1 990 in the shop's account.
        purchase(
            "p-dec",
            "2026-12-02T12:00:00+09:00",
            "muroran-shoten",
            2_000,
            "JPY",
        ),
        refund("rf-1", "2026-12-03T12:00:00+09:00", "p-1", 500),
    ]);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 1_990 - 497);
    assert_eq!(town.payable(SHOTEN, "JPY"), 995, "the payable is untouched");

    let december = town.settle("2026-12-31").expect("settled");
    let shop: Vec<(&str, &str, i128, bool)> = december
        .lines
        .iter()
        .filter(|l| l.party == SHOTEN && l.asset == "JPY")
        .map(|l| (&*l.day, &*l.source, l.amount_minor, l.adjustment))
        .collect();
    assert_eq!(
        shop,
        vec![
            ("2026-11-27", "refund", -497, true),
            ("2026-12-02", "shop_net", 1_990, false),
        ]
    );
    assert_eq!(town.payable(SHOTEN, "JPY"), 995 + 1_493);
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
}

#[test]
fn a_refund_after_close_that_receipts_only_partly_cover_is_advanced_and_repaid_from_later_receipts()
{
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    town.events(&[
        // ¥100: its fee rounds to 0.
        purchase(
            "p-dec",
            "2026-12-02T12:00:00+09:00",
            "muroran-shoten",
            100,
            "JPY",
        ),
        refund("rf-1", "2026-12-03T12:00:00+09:00", "p-1", 500),
    ]);
    // 100 in receipts and 3 of fee back; the town advances 397.
    assert_eq!(town.balance("shop:muroran-shoten:JPY"), 0);
    assert_eq!(advanced(&town, "JPY"), 397);
    assert_eq!(town.payable(SHOTEN, "JPY"), 995);

    // December nets to zero across the shop's pots, but the receipts hold nothing to repay the
    // advance with: both are carried, nothing moves.
    let december = town.settle("2026-12-31").expect("settled");
    assert!(shop_jpy_lines(&december).is_empty(), "{:?}", december.lines);
    let carried: i128 = december
        .carried
        .iter()
        .filter(|c| c.party == SHOTEN)
        .map(|c| c.amount_minor)
        .sum();
    assert_eq!(carried, 0);
    assert!(december.payables.iter().all(|p| p.party != SHOTEN));

    town.events(&[purchase(
        "p-jan",
        "2027-01-05T12:00:00+09:00",
        "muroran-shoten",
        1_000,
        "JPY",
    )]);
    let january = town.settle("2027-01-15").expect("settled");
    let net: i128 = shop_jpy_lines(&january).iter().map(|l| l.2).sum();
    assert_eq!(net, 995, "{:?}", january.lines);
    assert!(
        shop_jpy_lines(&january)
            .iter()
            .any(|l| l.1 == "refund" && l.0 == "2026-11-27"),
        "the refund names the purchase's day"
    );
    assert_eq!(advanced(&town, "JPY"), 0);
    assert_eq!(town.payable(SHOTEN, "JPY"), 995 + 995 - 397);
}

#[test]
fn a_refund_after_close_that_neither_receipts_nor_unpaid_payables_cover_is_refused_by_name() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    town.payout(&pay("po-1", "settle-2026-11-30", SHOTEN, "JPY", 900))
        .expect("paid");
    let digest = town.digest();

    let codes = town.events_answered(&[refund("rf-1", "2026-12-03T12:00:00+09:00", "p-1", 500)]);

    assert_eq!(codes, vec!["refund_exceeds_shop_funds"]);
    assert_eq!(town.digest(), digest, "a refused refund changes nothing");
    assert_eq!(town.payable(SHOTEN, "JPY"), 95);
    // What is left unpaid still covers a smaller one (95 advanced + 1 of fee back = 96).
    let codes = town.events_answered(&[refund("rf-2", "2026-12-03T12:00:00+09:00", "p-1", 96)]);
    assert_eq!(codes, vec!["accepted"]);
    assert_eq!(advanced(&town, "JPY"), 95);
    assert_eq!(town.payable(SHOTEN, "JPY"), 95, "the payable is untouched");
    // And nothing more: what the town still owes is all advanced.
    let codes = town.events_answered(&[refund("rf-3", "2026-12-03T12:00:00+09:00", "p-1", 1)]);
    assert_eq!(codes, vec!["refund_exceeds_shop_funds"]);
}

#[test]
fn a_points_refund_after_close_is_advanced_against_the_points_payable() {
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");
    town.events(&[refund("rf-pt", "2026-12-03T12:00:00+09:00", "p-2", 100)]);
    assert_eq!(town.payable(SHOTEN, "muro-pt"), 300);
    assert_eq!(advanced(&town, "muro-pt"), 100);
    // No points receipts in December: the refund and the advance wait together.
    let december = town.settle("2026-12-31").expect("settled");
    let carried: Vec<(&str, Pot, i128)> = december
        .carried
        .iter()
        .filter(|c| c.party == SHOTEN)
        .map(|c| (&*c.asset, c.pot, c.amount_minor))
        .collect();
    assert_eq!(
        carried,
        vec![
            ("muro-pt", Pot::Payable, -100),
            ("muro-pt", Pot::RefundAdvance, 100)
        ]
    );
    // 250 points taken in January repay the 100 advanced; 150 are payable.
    town.events(&[purchase(
        "p-jan",
        "2027-01-05T12:00:00+09:00",
        "muroran-shoten",
        250,
        "muro-pt",
    )]);
    let january = town.settle("2027-01-15").expect("settled");
    assert!(
        january
            .lines
            .iter()
            .any(|l| l.asset == "muro-pt" && l.source == "refund" && l.amount_minor == -100)
    );
    assert_eq!(advanced(&town, "muro-pt"), 0);
    assert_eq!(town.payable(SHOTEN, "muro-pt"), 300 + 150);
}

#[test]
fn replaying_refunds_after_close_gives_the_same_ledger_and_settlements() {
    let run = || {
        let mut town = Town::new();
        november(&mut town);
        town.settle("2026-11-30").expect("settled");
        town.events(&[
            purchase(
                "p-dec",
                "2026-12-02T12:00:00+09:00",
                "muroran-shoten",
                100,
                "JPY",
            ),
            refund("rf-1", "2026-12-03T12:00:00+09:00", "p-1", 500),
        ]);
        town.settle("2026-12-31").expect("settled");
        let book = town.machine.settle_book();
        (
            town.digest(),
            book.settlements().to_vec(),
            book.refunds_after_close().to_vec(),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn the_zengin_file_pays_a_shops_yen_and_points_payables_in_one_transfer_and_nothing_else() {
    use kanjo_core::settlement::payout_file::{payout_file, unpaid_yen};
    let mut town = Town::new();
    november(&mut town);
    town.settle("2026-11-30").expect("settled");

    let unpaid = unpaid_yen(&town.machine, "settle-2026-11-30").expect("unpaid");
    let owed: Vec<_> = unpaid
        .iter()
        .map(|u| (u.party.as_str(), u.amount_yen, u.by_asset.clone()))
        .collect();
    let yen = |asset: &str, amount: u64| (asset.to_owned(), amount);
    assert_eq!(
        owed,
        vec![
            (DONAN, 330, vec![yen("JPY", 330)]),
            (SHOTEN, 1_295, vec![yen("JPY", 995), yen("muro-pt", 300)]),
        ]
    );
    for (late, code) in [
        ("2027-12-01", "bad_transfer_date"),
        ("2026-11-29", "bad_transfer_date"),
    ] {
        let date = kanjo_rules::LocalDate::parse(late).expect("a date");
        let refused = payout_file(&town.machine, "settle-2026-11-30", date).expect_err(late);
        assert_eq!(refused.code(), code, "{late}: {refused}");
    }
    let date = kanjo_rules::LocalDate::parse("2026-12-10").expect("a date");
    let bytes = payout_file(&town.machine, "settle-2026-11-30", date).expect("a file");
    // Header, 2 data records, trailer, end: 122 bytes each with CR LF.
    let records: Vec<&[u8]> = bytes.chunks(122).collect();
    assert_eq!(records.len(), 5);
    let trailer = records[3];
    assert_eq!(trailer[0], b'8');
    assert_eq!(&trailer[1..7], b"000002", "合計件数");
    assert_eq!(
        &trailer[7..19],
        b"000000001625",
        "合計金額 = 330 + 995 + 300"
    );

    // Paid in full, points included: nothing is left for a second file.
    for (asset, amount) in [("JPY", 995), ("muro-pt", 300)] {
        town.payout(&pay(
            &format!("po-{asset}"),
            "settle-2026-11-30",
            SHOTEN,
            asset,
            amount,
        ))
        .expect("paid");
    }
    let unpaid = unpaid_yen(&town.machine, "settle-2026-11-30").expect("unpaid");
    assert_eq!(unpaid.len(), 1, "only the operator is left: {unpaid:?}");
}
