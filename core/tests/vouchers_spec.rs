//! Premium vouchers (issue 9), one test per rule, on the machine alone. 下呂 sells `gero-v`:
//! pay ¥10 000, get 12 000 voucher units spendable at grocery shops, at most 3 sets a person,
//! in July 2026 (JST), with a ¥9 000 premium budget: premiums for 4 sets, and ¥1 000 over.
//! `flat-v` is a voucher without a premium, spendable anywhere.

mod shops_common;

use kanjo_core::chart::{AssetBook, AssetSection};
use kanjo_core::machine::MachineConfig;
use kanjo_core::report::trial_balance;
use serde_json::Value;
use shops_common::*;

const PROGRAMME: &str = r#"
[town]
code = "212202"
name = "下呂市"
timezone = "Asia/Tokyo"

[[assets]]
code = "JPY"
kind = "yen"

[[assets]]
code = "gero-v"
kind = "points"
usable_at = ["grocery"]

[assets.voucher]
price = 10000
face = 12000
limit_sets = 3
sale_starts_at = "2026-07-01T09:00:00+09:00"
sale_ends_at = "2026-08-01T00:00:00+09:00"
premium_budget = 9000

[[assets]]
code = "flat-v"
kind = "points"

[assets.voucher]
price = 1000
face = 1000
limit_sets = 10
sale_starts_at = "2026-07-01T00:00:00+09:00"
sale_ends_at = "2026-08-01T00:00:00+09:00"
premium_budget = 0

[[assets]]
code = "gero-pt"
kind = "points"

[[shops]]
id = "grocer"
name = "下呂食品"
name_kana = "ｹﾞﾛｼﾖｸﾋﾝ"
categories = ["grocery"]

[[shops]]
id = "books"
name = "下呂書店"
name_kana = "ｹﾞﾛｼﾖﾃﾝ"
categories = ["books"]
"#;

const IN_JULY: &str = "2026-07-10T10:00:00+09:00";

fn gero() -> Town {
    Town::from_toml(&example_programme(), PROGRAMME, MachineConfig::default())
}

fn buy(id: &str, at: &str, rider: &str, asset: &str, sets: u32, media: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"voucher_purchase","at":"{at}","rider":"{rider}","asset":"{asset}","sets":{sets},"media":"{media}"}}"#
    )
}

fn buy_cash(id: &str, rider: &str, sets: u32) -> String {
    buy(id, IN_JULY, rider, "gero-v", sets, "cash")
}

fn accepted(answer: &Value) -> &Value {
    assert_eq!(answer["status"], "accepted", "{answer}");
    answer
}

#[test]
fn a_wallet_purchase_pays_the_price_and_gets_the_face_with_the_premium_from_the_budget() {
    let mut town = gero();
    accepted(&town.one(topup("t-1", "09:00", "r-1", "JPY", 25_000)));
    let answer = town.one(buy("v-1", IN_JULY, "r-1", "gero-v", 2, "wallet"));
    assert_eq!(
        accepted(&answer).clone(),
        serde_json::json!({
            "id": "v-1", "status": "accepted", "type": "voucher_purchase", "asset": "gero-v",
            "sets": 2, "yen_paid": 20_000, "units_received": 24_000, "premium_funded": 4_000,
            "media": "wallet", "sets_bought": 2,
        })
    );
    assert_eq!(town.balance("rider:r-1:JPY"), 5_000);
    assert_eq!(town.balance("rider:r-1:gero-v"), 24_000);
    assert_eq!(
        town.balance("voucher-sales:gero-v:JPY"),
        24_000,
        "price and premium"
    );
    assert_eq!(town.balance("voucher-budget:gero-v:JPY"), 5_000);
    assert_eq!(town.balance("issuer:gero-v"), 24_000, "units outstanding");
}

#[test]
fn a_cash_purchase_takes_the_price_at_the_counter() {
    let mut town = gero();
    accepted(&town.one(buy_cash("v-1", "r-1", 1)));
    assert_eq!(town.balance("voucher-cash:gero-v:JPY"), 10_000);
    assert_eq!(town.balance("voucher-sales:gero-v:JPY"), 12_000);
    assert_eq!(town.balance("rider:r-1:gero-v"), 12_000);
    assert_eq!(town.balance("rider:r-1:JPY"), 0, "no wallet needed");
}

#[test]
fn the_per_person_limit_counts_every_set_already_bought() {
    let mut town = gero();
    accepted(&town.one(buy_cash("v-1", "r-1", 2)));
    assert_eq!(
        refused(&town.one(buy_cash("v-2", "r-1", 2))),
        "limit_reached"
    );
    let third = town.one(buy_cash("v-3", "r-1", 1));
    assert_eq!(accepted(&third)["sets_bought"], 3);
    assert_eq!(
        refused(&town.one(buy_cash("v-4", "r-1", 1))),
        "limit_reached"
    );
    // The limit is per person, and more than it at once is refused whole.
    assert_eq!(
        refused(&town.one(buy_cash("v-5", "r-2", 4))),
        "limit_reached"
    );
    accepted(&town.one(buy_cash("v-6", "r-2", 1)));
    assert_eq!(town.balance("rider:r-1:gero-v"), 36_000);
}

#[test]
fn the_last_set_the_budget_can_fund_is_sold_and_the_next_is_sold_out() {
    let mut town = gero();
    accepted(&town.one(buy_cash("v-1", "r-1", 3)));
    assert_eq!(town.balance("voucher-budget:gero-v:JPY"), 3_000);
    // Two sets need ¥4 000 of premium: no partial sets.
    let before = town.digest();
    assert_eq!(refused(&town.one(buy_cash("v-2", "r-2", 2))), "sold_out");
    assert_eq!(town.digest(), before, "nothing moved");
    let last = town.one(buy_cash("v-3", "r-2", 1));
    assert_eq!(
        accepted(&last)["sets_bought"],
        1,
        "the refused sets counted nothing"
    );
    assert_eq!(town.balance("voucher-budget:gero-v:JPY"), 1_000);
    assert_eq!(refused(&town.one(buy_cash("v-4", "r-3", 1))), "sold_out");
    // A voucher without a premium needs no budget.
    accepted(&town.one(buy("v-5", IN_JULY, "r-3", "flat-v", 1, "cash")));
}

#[test]
fn the_sale_window_opens_at_its_start_and_closes_at_its_end() {
    let mut town = gero();
    for (id, at, code) in [
        (
            "v-1",
            "2026-07-01T08:59:59+09:00",
            Some("outside_sale_window"),
        ),
        ("v-2", "2026-07-01T09:00:00+09:00", None),
        ("v-3", "2026-07-31T23:59:59.999+09:00", None),
        (
            "v-4",
            "2026-08-01T00:00:00+09:00",
            Some("outside_sale_window"),
        ),
        // The same instant as the close, written in UTC.
        ("v-5", "2026-07-31T15:00:00Z", Some("outside_sale_window")),
    ] {
        let answer = town.one(buy(id, at, id, "gero-v", 1, "cash"));
        match code {
            Some(code) => assert_eq!(refused(&answer), code, "{at}"),
            None => assert_eq!(answer["status"], "accepted", "{at}: {answer}"),
        }
    }
}

#[test]
fn a_wallet_short_of_the_price_buys_nothing() {
    let mut town = gero();
    town.one(topup("t-1", "09:00", "r-1", "JPY", 19_999));
    let before = town.digest();
    assert_eq!(
        refused(&town.one(buy("v-1", IN_JULY, "r-1", "gero-v", 2, "wallet"))),
        "insufficient_funds"
    );
    assert_eq!(town.digest(), before);
    let one = town.one(buy("v-2", IN_JULY, "r-1", "gero-v", 1, "wallet"));
    assert_eq!(
        accepted(&one)["sets_bought"],
        1,
        "the refusal counted no sets"
    );
}

#[test]
fn only_a_voucher_asset_is_sold_as_vouchers() {
    let mut town = gero();
    for (id, asset, code) in [
        ("v-1", "gero-pt", "not_a_voucher"),
        ("v-2", "JPY", "not_a_voucher"),
        ("v-3", "nothing", "unknown_asset"),
    ] {
        assert_eq!(
            refused(&town.one(buy(id, IN_JULY, "r-1", asset, 1, "cash"))),
            code
        );
    }
}

#[test]
fn vouchers_pay_at_shops_as_restricted_points_first() {
    let mut town = gero();
    town.batch(&[
        topup("t-1", "09:00", "r-1", "JPY", 10_000),
        buy_cash("v-1", "r-1", 1),
        grant("g-1", "09:00", "r-1", "gero-pt", 500),
    ]);
    // At a grocery: the restricted voucher first, then points, then yen.
    let grocery = town.one(purchase("p-1", "10:00", "grocer", "r-1", 13_000));
    assert_eq!(
        accepted(&grocery)["paid"],
        list(&[("gero-v", 12_000), ("gero-pt", 500), ("JPY", 500)])
    );
    // The voucher doesn't pay at a bookshop.
    town.one(buy_cash("v-2", "r-1", 1));
    let books = town.one(purchase("p-2", "10:00", "books", "r-1", 1_000));
    assert_eq!(accepted(&books)["paid"], list(&[("JPY", 1_000)]));
    assert_eq!(town.balance("rider:r-1:gero-v"), 12_000);
}

#[test]
fn every_sale_balances_and_the_sales_account_holds_the_face_value_sold() {
    let mut town = gero();
    town.batch(&[
        topup("t-1", "09:00", "r-1", "JPY", 30_000),
        buy("v-1", IN_JULY, "r-1", "gero-v", 2, "wallet"),
        buy_cash("v-2", "r-2", 2),
        buy("v-3", IN_JULY, "r-3", "flat-v", 5, "cash"),
    ]);
    let balance = trial_balance(&town.machine);
    assert!(balance.balanced, "{:?}", balance.problems);
    assert_eq!(town.balance("voucher-sales:gero-v:JPY"), 4 * 12_000);
    assert_eq!(town.balance("voucher-sales:flat-v:JPY"), 5 * 1_000);
    assert_eq!(town.balance("voucher-budget:gero-v:JPY"), 9_000 - 4 * 2_000);
    assert_eq!(
        town.balance("town:212202:treasury"),
        9_000,
        "the treasury funded the premium"
    );
}

#[test]
fn replay_gives_the_same_answers_and_the_same_digest() {
    let day = [
        topup("t-1", "09:00", "r-1", "JPY", 30_000),
        buy("v-1", IN_JULY, "r-1", "gero-v", 2, "wallet"),
        buy_cash("v-2", "r-2", 3),
        buy_cash("v-3", "r-1", 2),
        purchase("p-1", "10:00", "grocer", "r-1", 20_000),
    ];
    let mut first = gero();
    let answers = first.batch(&day);
    let mut second = gero();
    assert_eq!(second.batch(&day), answers);
    assert_eq!(second.digest(), first.digest());
    let before = first.digest();
    assert_eq!(first.batch(&day), answers, "the same ids again");
    assert_eq!(first.digest(), before);
}

#[test]
fn voucher_terms_are_checked_when_the_programme_loads() {
    let load = |terms: &str, kind: &str| {
        let text =
            format!("[[assets]]\ncode = \"v\"\nkind = \"{kind}\"\n\n[assets.voucher]\n{terms}\n");
        let section: AssetSection = toml::from_str(&text).expect("parses");
        AssetBook::from_section("p.toml", section, &[]).map(|_| ())
    };
    let good = "price = 1000\nface = 1200\nlimit_sets = 5\nsale_starts_at = \"2026-07-01T00:00:00+09:00\"\nsale_ends_at = \"2026-08-01T00:00:00+09:00\"\npremium_budget = 100000";
    assert!(load(good, "points").is_ok());
    for (bad, says) in [
        (good.replace("face = 1200", "face = 999"), "face"),
        (good.replace("price = 1000", "price = 0"), "price"),
        (
            good.replace("limit_sets = 5", "limit_sets = 0"),
            "limit_sets",
        ),
        (
            good.replace("limit_sets = 5", "limit_sets = 1001"),
            "limit_sets",
        ),
        (good.replace("2026-08-01", "2026-06-01"), "start before"),
        (
            good.replace("2026-08-01T00:00:00+09:00", "July"),
            "RFC 3339",
        ),
        (
            good.replace(
                "premium_budget = 100000",
                "premium_budget = 9007199254740993",
            ),
            "at most",
        ),
    ] {
        let error = load(&bad, "points").unwrap_err().to_string();
        assert!(error.contains(says), "{bad}: {error}");
    }
    let error = load(good, "stablecoin").unwrap_err().to_string();
    assert!(error.contains("only points can be vouchers"), "{error}");
    let issuer: AssetSection =
        toml::from_str("[[assets]]\ncode = \"pt\"\nkind = \"points\"\nissuer = \"bank\"\n")
            .unwrap();
    assert!(AssetBook::from_section("p.toml", issuer, &[]).is_err());
}
