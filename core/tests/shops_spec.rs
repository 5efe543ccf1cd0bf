//! Paying shops (issue 15, spec/purchases.md), one test per rule, on the machine alone with the
//! programme of spec/purchases-example: JPY; the SUZU coin; `kids-voucher` points usable at
//! childcare shops; `bus-pt` points usable at transport; `muro-pt` points usable anywhere. Shops:
//! `books` (SUZU and JPY 50 bp), `taxi` (transport, SUZU 50 bp), `kids` (childcare, SUZU 50 bp,
//! JPY 300 bp) and `closed` (suspended).

mod shops_common;

use kanjo_core::event::Event;
use kanjo_core::machine::{MachineConfig, event_id_hash, transfer_id};
use kanjo_core::shops::{ShopSpec, ShopStatus};
use kanjo_ledger::TransferFlags;
use serde_json::json;
use shops_common::*;

/// A rider holding a little of everything.
fn town_with_rider() -> Town {
    let mut town = Town::example();
    let answers = town.batch(&[
        topup("t-1", "09:00", "r-1", "JPY", 5000),
        topup("t-2", "09:00", "r-1", "SUZU", 3000),
        grant("g-1", "09:00", "r-1", "muro-pt", 500),
        grant("g-2", "09:00", "r-1", "bus-pt", 400),
        grant("g-3", "09:00", "r-1", "kids-voucher", 300),
    ]);
    assert!(answers.iter().all(|answer| answer["status"] == "accepted"));
    town
}

// ---- Shops ----

#[test]
fn shops_come_from_the_programme() {
    let town = Town::example();
    let books = town
        .machine
        .shop("books")
        .expect("books is in the programme");
    assert_eq!(books.name_kana, "ﾑﾛﾗﾝｼﾖﾃﾝ");
    assert_eq!(books.fees_bp["SUZU"], 50);
    assert_eq!(
        town.machine.shop("closed").unwrap().status,
        ShopStatus::Suspended
    );
    assert_eq!(town.machine.shops_known(), 4);
}

#[test]
fn an_unknown_shop_is_unknown_shop_and_a_suspended_one_shop_suspended() {
    let mut town = town_with_rider();
    assert_eq!(
        refused(&town.one(purchase("p-1", "10:00", "nowhere", "r-1", 100))),
        "unknown_shop"
    );
    assert_eq!(
        refused(&town.one(purchase("p-2", "10:00", "closed", "r-1", 100))),
        "shop_suspended"
    );
    assert_eq!(
        refused(&town.one(authorize("a-1", "10:00", "closed", "r-1", 100))),
        "shop_suspended"
    );
}

#[test]
fn a_shop_record_adds_a_shop_or_replaces_the_one_with_its_id() {
    let mut town = town_with_rider();
    let mut books = town.machine.shop("books").unwrap().clone();
    books.status = ShopStatus::Suspended;
    town.machine.upsert_shop(books).unwrap();
    assert_eq!(
        refused(&town.one(purchase("p-1", "10:00", "books", "r-1", 100))),
        "shop_suspended"
    );

    let bakery = ShopSpec {
        id: "bakery".into(),
        name: "室蘭パン".into(),
        name_kana: "ﾑﾛﾗﾝﾊﾟﾝ".into(),
        categories: vec!["grocery".into()],
        fees_bp: [("SUZU".to_owned(), 100)].into(),
        status: ShopStatus::Active,
        bank: None,
    };
    town.machine.upsert_shop(bakery).unwrap();
    let answer = town.one(purchase_with(
        "p-2",
        "10:01",
        "bakery",
        "r-1",
        300,
        &["SUZU"],
    ));
    assert_eq!(answer["fees"], list(&[("SUZU", 3)]));
    assert_eq!(town.machine.shops_known(), 5);
}

#[test]
fn a_shop_record_that_breaks_a_limit_is_refused() {
    let mut town = Town::example();
    let mut shop = town.machine.shop("books").unwrap().clone();
    shop.name_kana = "ムロラン".into(); // full-width: a bank transfer can't carry it
    assert!(town.machine.upsert_shop(shop).is_err());
    let mut shop = town.machine.shop("books").unwrap().clone();
    shop.fees_bp.insert("SUZU".into(), 10_001);
    assert!(town.machine.upsert_shop(shop).is_err());
}

// ---- The payment order ----

#[test]
fn restricted_points_the_shop_accepts_pay_first_then_points_then_coin_then_yen() {
    let mut town = town_with_rider();
    town.one(send("s-0", "09:05", "r-1", "r-9", "SUZU", 2700)); // r-1 keeps 300 SUZU
    let answer = town.one(purchase("p-1", "10:00", "taxi", "r-1", 1500));
    assert_eq!(
        answer["paid"],
        list(&[
            ("bus-pt", 400),
            ("muro-pt", 500),
            ("SUZU", 300),
            ("JPY", 300)
        ])
    );
}

#[test]
fn restricted_points_never_pay_where_no_category_matches() {
    let mut town = town_with_rider();
    let answer = town.one(purchase("p-1", "10:00", "books", "r-1", 1000));
    assert_eq!(answer["paid"], list(&[("muro-pt", 500), ("SUZU", 500)]));
    assert_eq!(town.balance("rider:r-1:bus-pt"), 400);
    assert_eq!(town.balance("rider:r-1:kids-voucher"), 300);
}

#[test]
fn within_a_group_assets_pay_in_programme_order_and_entitlements_never_pay() {
    let text = r#"
        [town]
        code = "012050"
        [[assets]]
        code = "ballot"
        kind = "entitlement"
        [[assets]]
        code = "b-pt"
        kind = "points"
        [[assets]]
        code = "a-pt"
        kind = "points"
        [[shops]]
        id = "shop"
        name = "店"
        name_kana = "ﾐｾ"
        categories = ["grocery"]
    "#;
    let mut town = Town::from_toml(&example_programme(), text, MachineConfig::default());
    town.batch(&[
        grant("g-1", "09:00", "r-1", "a-pt", 100),
        grant("g-2", "09:00", "r-1", "b-pt", 100),
        grant("g-3", "09:00", "r-1", "ballot", 1),
    ]);
    let answer = town.one(purchase("p-1", "10:00", "shop", "r-1", 150));
    assert_eq!(answer["paid"], list(&[("b-pt", 100), ("a-pt", 50)]));
    assert_eq!(
        refused(&town.one(purchase_with("p-2", "10:00", "shop", "r-1", 1, &["ballot"]))),
        "insufficient_funds"
    );
}

#[test]
fn pay_with_removes_the_other_assets_but_keeps_the_order() {
    let mut town = town_with_rider();
    let answer = town.one(purchase_with(
        "p-1",
        "10:00",
        "books",
        "r-1",
        700,
        &["JPY", "muro-pt"],
    ));
    assert_eq!(answer["paid"], list(&[("muro-pt", 500), ("JPY", 200)]));
    assert_eq!(answer["fees"], list(&[("JPY", 1)]));
    assert_eq!(town.balance("rider:r-1:SUZU"), 3000);
}

#[test]
fn pay_with_naming_an_asset_the_programme_lacks_is_refused() {
    let mut town = town_with_rider();
    let answer = town.one(purchase_with("p-1", "10:00", "books", "r-1", 10, &["DOGE"]));
    assert_eq!(refused(&answer), "unknown_asset");
}

#[test]
fn short_funds_are_insufficient_funds_and_nothing_moves() {
    let mut town = town_with_rider();
    let before = town.digest();
    // 500 muro-pt + 3000 SUZU + 5000 JPY can pay at books; 8501 is one yen short.
    assert_eq!(
        refused(&town.one(purchase("p-1", "10:00", "books", "r-1", 8501))),
        "insufficient_funds"
    );
    assert_eq!(
        refused(&town.one(authorize("a-1", "10:00", "books", "r-1", 8501))),
        "insufficient_funds"
    );
    assert_eq!(
        refused(&town.one(purchase("p-2", "10:00", "books", "nobody", 1))),
        "insufficient_funds"
    );
    assert_eq!(town.digest(), before, "not a unit moved, no account opened");
    let answer = town.one(purchase("p-3", "10:00", "books", "r-1", 8500));
    assert_eq!(
        answer["paid"],
        list(&[("muro-pt", 500), ("SUZU", 3000), ("JPY", 5000)])
    );
}

// ---- Fees ----

#[test]
fn the_fee_is_the_floor_of_part_times_bp_on_each_money_part_and_points_pay_none() {
    let mut town = town_with_rider();
    let answer = town.one(purchase("p-1", "10:00", "books", "r-1", 1200));
    assert_eq!(answer["paid"], list(&[("muro-pt", 500), ("SUZU", 700)]));
    // 700 × 50 / 10 000 = 3.5 → 3; the 500 points pay nothing.
    assert_eq!(answer["fees"], list(&[("SUZU", 3)]));
    assert_eq!(answer["net"], list(&[("muro-pt", 500), ("SUZU", 697)]));

    let answer = town.one(purchase_with("p-2", "10:01", "books", "r-1", 199, &["JPY"]));
    assert_eq!(
        answer["fees"],
        json!([]),
        "199 × 50 / 10 000 rounds down to nothing"
    );
}

#[test]
fn the_shop_receives_the_part_less_the_fee_and_the_town_the_fee() {
    let mut town = town_with_rider();
    town.one(purchase("p-1", "10:00", "books", "r-1", 1200));
    assert_eq!(town.balance("shop:books:SUZU"), 697);
    assert_eq!(town.balance("shop:books:muro-pt"), 500);
    assert_eq!(town.balance("fees:SUZU"), 3);
    assert_eq!(town.balance("rider:r-1:SUZU"), 2300);
    assert_eq!(town.balance("rider:r-1:muro-pt"), 0);
}

// ---- Every accepted event is one linked chain ----

#[test]
fn every_accepted_payment_is_one_linked_chain() {
    let mut town = town_with_rider();
    town.one(purchase("p-1", "10:00", "books", "r-1", 1200));
    let event = event_id_hash("p-1");
    let legs: Vec<_> = (0..=3u8)
        .map(|leg| {
            town.machine
                .ledger()
                .transfer(transfer_id(event, leg))
                .copied()
        })
        .collect();
    // muro-pt part, SUZU part, SUZU fee: linked, linked, last.
    assert!(legs[3].is_none(), "three legs, no more");
    let flags: Vec<bool> = legs[..3]
        .iter()
        .map(|leg| leg.expect("posted").flags.contains(TransferFlags::LINKED))
        .collect();
    assert_eq!(flags, [true, true, false]);
    assert!(
        legs[..3]
            .iter()
            .all(|leg| leg.unwrap().user_data_128 == event)
    );
}

// ---- Authorisations ----

#[test]
fn an_authorization_holds_the_parts_without_paying() {
    let mut town = town_with_rider();
    let answer = town.one(authorize("a-1", "10:00", "kids", "r-1", 1000));
    assert_eq!(
        answer["held"],
        list(&[("kids-voucher", 300), ("muro-pt", 500), ("SUZU", 200)])
    );
    assert_eq!(
        town.available("rider:r-1:SUZU"),
        2800,
        "held, so not spendable"
    );
    assert_eq!(town.balance("rider:r-1:SUZU"), 3000, "but not paid");
    assert_eq!(town.balance("shop:kids:SUZU"), 0);
}

#[test]
fn a_capture_pays_the_held_parts_in_held_order_up_to_its_amount_and_releases_the_rest() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "kids", "r-1", 1000));
    let answer = town.one(capture("c-1", "10:05", "a-1", 700));
    assert_eq!(answer["type"], "capture");
    assert_eq!(
        answer["paid"],
        list(&[("kids-voucher", 300), ("muro-pt", 400)])
    );
    assert_eq!(answer["fees"], json!([]));
    assert_eq!(answer["released"], list(&[("muro-pt", 100), ("SUZU", 200)]));
    assert_eq!(town.available("rider:r-1:SUZU"), 3000);
    assert_eq!(town.balance("rider:r-1:muro-pt"), 100);
    assert_eq!(town.balance("shop:kids:muro-pt"), 400);
}

#[test]
fn a_capture_takes_fees_on_what_it_paid() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "books", "r-1", 1500));
    let answer = town.one(capture("c-1", "10:05", "a-1", 1400));
    assert_eq!(answer["paid"], list(&[("muro-pt", 500), ("SUZU", 900)]));
    assert_eq!(answer["fees"], list(&[("SUZU", 4)]));
    assert_eq!(answer["released"], list(&[("SUZU", 100)]));
    assert_eq!(town.balance("fees:SUZU"), 4);
    assert_eq!(town.balance("shop:books:SUZU"), 896);
}

#[test]
fn a_capture_for_more_than_was_held_is_refused_and_changes_nothing() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "books", "r-1", 300));
    let before = town.digest();
    assert_eq!(
        refused(&town.one(capture("c-1", "10:05", "a-1", 301))),
        "amount_exceeds_authorized"
    );
    assert_eq!(town.digest(), before);
    assert_eq!(
        town.one(capture("c-2", "10:06", "a-1", 300))["status"],
        "accepted"
    );
}

#[test]
fn an_authorization_is_captured_or_voided_at_most_once() {
    let mut town = town_with_rider();
    town.batch(&[
        authorize("a-1", "10:00", "books", "r-1", 100),
        authorize("a-2", "10:00", "books", "r-1", 100),
    ]);
    town.one(capture("c-1", "10:01", "a-1", 50));
    assert_eq!(
        refused(&town.one(capture("c-2", "10:02", "a-1", 50))),
        "already_captured"
    );
    assert_eq!(
        refused(&town.one(void("v-1", "10:02", "a-1"))),
        "already_captured"
    );
    town.one(void("v-2", "10:01", "a-2"));
    assert_eq!(
        refused(&town.one(void("v-3", "10:02", "a-2"))),
        "already_voided"
    );
    assert_eq!(
        refused(&town.one(capture("c-3", "10:02", "a-2", 10))),
        "already_voided"
    );
}

#[test]
fn a_void_releases_everything() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "kids", "r-1", 1000));
    let answer = town.one(void("v-1", "10:01", "a-1"));
    assert_eq!(
        answer["released"],
        list(&[("kids-voucher", 300), ("muro-pt", 500), ("SUZU", 200)])
    );
    for (name, amount) in [
        ("rider:r-1:kids-voucher", 300),
        ("rider:r-1:muro-pt", 500),
        ("rider:r-1:SUZU", 3000),
    ] {
        assert_eq!(town.available(name), amount, "{name}");
    }
    assert_eq!(town.machine.ledger().pending_count(), 0);
}

#[test]
fn unknown_authorizations_are_refused() {
    let mut town = town_with_rider();
    town.one(purchase("p-1", "10:00", "books", "r-1", 100));
    assert_eq!(
        refused(&town.one(capture("c-1", "10:01", "nothing", 1))),
        "unknown_authorization"
    );
    assert_eq!(
        refused(&town.one(void("v-1", "10:01", "p-1"))),
        "unknown_authorization"
    );
}

#[test]
fn a_capture_exactly_at_the_deadline_succeeds_and_one_later_expires_and_releases_the_hold() {
    let mut town = town_with_rider();
    town.batch(&[
        authorize("a-1", "10:00", "books", "r-1", 300),
        authorize("a-2", "10:00", "books", "r-1", 300),
    ]);
    // The programme's timeout is 600 s: the deadline is 10:10:00.
    assert_eq!(
        town.one(capture("c-1", "10:10:00", "a-1", 300))["status"],
        "accepted"
    );
    let answer = town.one(capture("c-2", "10:10:00.000000001", "a-2", 300));
    assert_eq!(refused(&answer), "authorization_expired");
    assert_eq!(
        town.machine.ledger().pending_count(),
        0,
        "the hold is released"
    );
    assert_eq!(
        refused(&town.one(void("v-1", "10:11", "a-2"))),
        "authorization_expired"
    );
}

#[test]
fn a_void_later_than_the_deadline_is_expired_too() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "books", "r-1", 300));
    assert_eq!(
        refused(&town.one(void("v-1", "10:10:01", "a-1"))),
        "authorization_expired"
    );
    assert_eq!(town.available("rider:r-1:muro-pt"), 500);
}

#[test]
fn the_timeout_is_the_programmes_authorization_timeout_s() {
    let text = std::fs::read_to_string(example_programme())
        .unwrap()
        .replace(
            "authorization_timeout_s = 600",
            "authorization_timeout_s = 60",
        );
    let mut town = Town::from_toml(&example_programme(), &text, MachineConfig::default());
    town.batch(&[
        grant("g-1", "09:00", "r-1", "muro-pt", 500),
        authorize("a-1", "10:00", "books", "r-1", 100),
    ]);
    assert_eq!(
        refused(&town.one(capture("c-1", "10:01:01", "a-1", 100))),
        "authorization_expired"
    );
}

#[test]
fn a_hold_nobody_comes_back_for_is_released_once_event_time_passes_the_deadline_and_grace() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "books", "r-1", 300));
    // Deadline 10:10, grace 1 h: a late capture may still arrive until 11:10.
    town.one(grant("g-9", "11:10", "r-2", "muro-pt", 1));
    assert_eq!(town.machine.ledger().pending_count(), 1, "still held");
    town.one(grant("g-10", "11:10:01", "r-2", "muro-pt", 1));
    assert_eq!(
        town.machine.ledger().pending_count(),
        0,
        "released by the sweep"
    );
    assert_eq!(town.available("rider:r-1:muro-pt"), 500);
    assert_eq!(
        refused(&town.one(capture("c-1", "10:05", "a-1", 300))),
        "authorization_expired"
    );
}

// ---- Refunds ----

#[test]
fn a_refund_goes_back_in_reverse_paid_order_and_never_more_than_is_unrefunded() {
    let mut town = town_with_rider();
    town.one(purchase("p-1", "10:00", "books", "r-1", 1200));
    let answer = town.one(refund("f-1", "10:10", "p-1", 800));
    assert_eq!(answer["returned"], list(&[("SUZU", 700), ("muro-pt", 100)]));
    assert_eq!(answer["fees_returned"], list(&[("SUZU", 3)]));
    assert_eq!(
        refused(&town.one(refund("f-2", "10:11", "p-1", 401))),
        "refund_exceeds_purchase"
    );
    let answer = town.one(refund("f-3", "10:12", "p-1", 400));
    assert_eq!(answer["returned"], list(&[("muro-pt", 400)]));
    assert_eq!(answer["fees_returned"], json!([]));
    assert_eq!(
        refused(&town.one(refund("f-4", "10:13", "p-1", 1))),
        "refund_exceeds_purchase"
    );
    assert_eq!(town.balance("rider:r-1:SUZU"), 3000);
    assert_eq!(town.balance("rider:r-1:muro-pt"), 500);
    assert_eq!(town.balance("shop:books:SUZU"), 0);
    assert_eq!(town.balance("fees:SUZU"), 0);
}

#[test]
fn a_refund_leaves_the_shop_exactly_the_fee_its_kept_part_costs() {
    let mut town = town_with_rider();
    let answer = town.one(purchase_with("p-1", "10:00", "kids", "r-1", 1999, &["JPY"]));
    assert_eq!(answer["fees"], list(&[("JPY", 59)])); // 1999 × 300 / 10 000 = 59.97
    // Keeping 999: fee after = floor(999 × 0.03) = 29, so 59 − 29 = 30 comes back.
    let answer = town.one(refund("f-1", "10:01", "p-1", 1000));
    assert_eq!(answer["fees_returned"], list(&[("JPY", 30)]));
    assert_eq!(town.balance("fees:JPY"), 29);
    assert_eq!(town.balance("shop:kids:JPY"), 999 - 29);
    let answer = town.one(refund("f-2", "10:02", "p-1", 999));
    assert_eq!(answer["fees_returned"], list(&[("JPY", 29)]));
    assert_eq!(town.balance("fees:JPY"), 0);
    assert_eq!(town.balance("shop:kids:JPY"), 0);
    assert_eq!(town.balance("rider:r-1:JPY"), 5000);
}

#[test]
fn a_capture_counts_as_a_purchase_under_the_captures_id() {
    let mut town = town_with_rider();
    town.one(authorize("a-1", "10:00", "books", "r-1", 1500));
    town.one(capture("c-1", "10:05", "a-1", 1000));
    assert_eq!(
        refused(&town.one(refund("f-1", "10:06", "a-1", 10))),
        "unknown_purchase"
    );
    let answer = town.one(refund("f-2", "10:06", "c-1", 1000));
    assert_eq!(answer["returned"], list(&[("SUZU", 500), ("muro-pt", 500)]));
    assert_eq!(answer["fees_returned"], list(&[("SUZU", 2)]));
}

#[test]
fn a_refund_of_nothing_known_is_unknown_purchase() {
    let mut town = town_with_rider();
    assert_eq!(
        refused(&town.one(refund("f-1", "10:00", "p-404", 1))),
        "unknown_purchase"
    );
    town.one(purchase("p-1", "10:00", "nowhere", "r-1", 100)); // refused, so not a purchase
    assert_eq!(
        refused(&town.one(refund("f-2", "10:00", "p-1", 1))),
        "unknown_purchase"
    );
}

// ---- Sends ----

#[test]
fn sends_move_only_transferable_assets() {
    let mut town = town_with_rider();
    let answer = town.one(send("s-1", "10:00", "r-1", "r-2", "SUZU", 200));
    assert_eq!(
        answer,
        json!({"id": "s-1", "status": "accepted", "type": "send", "asset": "SUZU", "amount": 200})
    );
    assert_eq!(town.balance("rider:r-2:SUZU"), 200);
    assert_eq!(
        refused(&town.one(send("s-2", "10:00", "r-1", "r-2", "muro-pt", 10))),
        "not_transferable"
    );
    assert_eq!(
        refused(&town.one(send("s-3", "10:00", "r-1", "r-2", "JPY", 10))),
        "not_transferable"
    );
    assert_eq!(
        refused(&town.one(send("s-4", "10:00", "r-2", "r-1", "SUZU", 201))),
        "insufficient_funds"
    );
    assert_eq!(
        refused(&town.one(send("s-5", "10:00", "r-2", "r-1", "DOGE", 1))),
        "unknown_asset"
    );
}

#[test]
fn points_marked_transferable_move() {
    let text = std::fs::read_to_string(example_programme())
        .unwrap()
        .replace(
            "code = \"muro-pt\"\nkind = \"points\"",
            "code = \"muro-pt\"\nkind = \"points\"\ntransferable = true",
        );
    let mut town = Town::from_toml(&example_programme(), &text, MachineConfig::default());
    town.one(grant("g-1", "09:00", "r-1", "muro-pt", 50));
    assert_eq!(
        town.one(send("s-1", "10:00", "r-1", "r-2", "muro-pt", 50))["status"],
        "accepted"
    );
}

// ---- Idempotency ----

#[test]
fn the_same_id_and_body_answers_the_same_and_another_body_is_id_conflict() {
    let mut town = town_with_rider();
    let first = town.one(purchase("p-1", "10:00", "books", "r-1", 1200));
    let before = town.digest();
    assert_eq!(
        town.one(purchase("p-1", "10:00", "books", "r-1", 1200)),
        first
    );
    assert_eq!(
        refused(&town.one(purchase("p-1", "10:50", "books", "r-1", 999))),
        "id_conflict"
    );
    assert_eq!(town.digest(), before);
}

#[test]
fn pay_with_in_another_order_is_the_same_purchase() {
    let one = Event::parse(&purchase_with(
        "p",
        "10:00",
        "books",
        "r",
        5,
        &["SUZU", "JPY"],
    ))
    .unwrap();
    let two = Event::parse(&purchase_with(
        "p",
        "10:00",
        "books",
        "r",
        5,
        &["JPY", "SUZU"],
    ))
    .unwrap();
    assert_eq!(one.canonical_json(), two.canonical_json());
}
