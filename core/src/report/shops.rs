//! The shop statement (`kanjo report shops`, `GET /v1/reports/shops`): per shop, local day and
//! asset, what the shop sold, what the town charged it, what it gave back, and what it keeps.
//!
//! It is read off the ledger alone: every shop payment leg names its shop account, its reason
//! and (in `user_data_64`) the local day of the event that posted it (`shops::day_stamp`). So the
//! statement needs nothing the machine would have to remember for it, and it reconciles with the
//! shop accounts by construction: per shop and asset, Σ net over the days = the account balance.
//!
//! - sales: purchase parts and captured amounts, on the day of the purchase or capture;
//! - fees: fees charged less fees a refund gave back, on the day of each (so a day with only a
//!   refund can show a negative fee);
//! - refunds: value given back to riders, on the day of the refund;
//! - net = sales − fees − refunds: what the shop account gained that day.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hashbrown::HashMap;
use kanjo_ledger::{AccountId, Transfer, TransferFlags};
use serde::Serialize;

use crate::chart::Reason;
use crate::machine::Machine;
use crate::shops::day_of_stamp;

/// One shop's day in one asset. Sums are u128/i128: many u64 amounts can sum past u64.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShopDay {
    pub shop: String,
    pub shop_name: String,
    /// Local `YYYY-MM-DD` in the programme's time zone.
    pub date: String,
    pub asset: String,
    pub sales_minor: u128,
    /// Fees charged less fees returned by refunds, this day.
    pub fees_minor: i128,
    pub refunds_minor: u128,
    pub net_minor: i128,
    /// Purchases and captures that paid in this asset this day.
    pub payments: u64,
    pub refunds: u64,
}

/// Every shop's total in one asset, over all days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShopAssetTotal {
    pub asset: String,
    pub sales_minor: u128,
    pub fees_minor: i128,
    pub refunds_minor: u128,
    pub net_minor: i128,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShopReport {
    /// By shop id, then date, then the programme's asset order.
    pub days: Vec<ShopDay>,
    /// Per asset, in the programme's order; only assets some shop was paid in.
    pub totals: Vec<ShopAssetTotal>,
}

/// What one leg does to one shop's day.
enum Effect {
    Sale(u64),
    Fee(u64),
    FeeBack(u64),
    Refund(u64),
}

/// (shop account, day stamp, asset) — the asset id keeps the programme's order.
type DayKey = (AccountId, u64, u32);

/// The statement, from every transfer on the ledger.
pub fn shop_report(machine: &Machine) -> ShopReport {
    let ledger = machine.ledger();
    let mut sums: HashMap<DayKey, ShopDay> = HashMap::new();
    for transfer in ledger.transfers() {
        let Some((shop_account, effect)) = effect(machine, transfer) else {
            continue;
        };
        let key = (
            shop_account,
            transfer.user_data_64,
            transfer_asset(machine, transfer),
        );
        let day = sums.entry(key).or_default();
        match effect {
            Effect::Sale(amount) => {
                day.sales_minor += u128::from(amount);
                day.payments += 1;
            }
            Effect::Fee(amount) => day.fees_minor += i128::from(amount),
            Effect::FeeBack(amount) => day.fees_minor -= i128::from(amount),
            Effect::Refund(amount) => {
                day.refunds_minor += u128::from(amount);
                day.refunds += 1;
            }
        }
    }
    let mut ordered: BTreeMap<(String, u64, u32), ShopDay> = BTreeMap::new();
    for ((account, stamp, asset), mut day) in sums {
        let code = asset_code(machine, asset);
        let shop = shop_of_account(machine, account, &code)
            .expect("effect() only keeps shop accounts")
            .to_owned();
        day.shop_name = machine
            .shop(&shop)
            .map_or_else(String::new, |spec| spec.name.clone());
        day.date = day_of_stamp(stamp).map_or_else(|| "?".to_owned(), |date| date.to_string());
        day.asset = code;
        day.net_minor = day.sales_minor as i128 - day.fees_minor - day.refunds_minor as i128;
        day.shop.clone_from(&shop);
        ordered.insert((shop, stamp, asset), day);
    }
    let days: Vec<ShopDay> = ordered.into_values().collect();
    ShopReport {
        totals: totals(machine, &days),
        days,
    }
}

fn totals(machine: &Machine, days: &[ShopDay]) -> Vec<ShopAssetTotal> {
    let mut by_asset: BTreeMap<u32, ShopAssetTotal> = BTreeMap::new();
    for day in days {
        let (asset, _) = machine
            .assets()
            .get(&day.asset)
            .expect("the report names book assets");
        let total = by_asset.entry(asset.0).or_insert_with(|| ShopAssetTotal {
            asset: day.asset.clone(),
            ..ShopAssetTotal::default()
        });
        total.sales_minor += day.sales_minor;
        total.fees_minor += day.fees_minor;
        total.refunds_minor += day.refunds_minor;
        total.net_minor += day.net_minor;
    }
    by_asset.into_values().collect()
}

/// The shop account a payment leg touches and what it does to that shop's day; `None` for
/// every other transfer (rides, top-ups, sends, holds, voids).
fn effect(machine: &Machine, transfer: &Transfer) -> Option<(AccountId, Effect)> {
    let amount = transfer.amount;
    let (debit, credit, code) = if transfer.flags.contains(TransferFlags::POST_PENDING) {
        // A capture: the post carries the posted amount, the hold its accounts and reason.
        let pending = machine.ledger().transfer(transfer.pending_id)?;
        (
            pending.debit_account_id,
            pending.credit_account_id,
            pending.code,
        )
    } else if transfer
        .flags
        .intersects(TransferFlags::PENDING | TransferFlags::VOID_PENDING)
    {
        return None;
    } else {
        (
            transfer.debit_account_id,
            transfer.credit_account_id,
            transfer.code,
        )
    };
    let effect = match code {
        c if c == Reason::Purchase as u16 || c == Reason::Authorization as u16 => {
            (credit, Effect::Sale(amount))
        }
        c if c == Reason::ShopFee as u16 => (debit, Effect::Fee(amount)),
        c if c == Reason::FeeReturn as u16 => (credit, Effect::FeeBack(amount)),
        c if c == Reason::Refund as u16 => (debit, Effect::Refund(amount)),
        _ => return None,
    };
    let code = asset_code(machine, transfer_asset(machine, transfer));
    shop_of_account(machine, effect.0, &code)?;
    Some(effect)
}

/// A post inherits its asset from the hold when it names none.
fn transfer_asset(machine: &Machine, transfer: &Transfer) -> u32 {
    if transfer.asset.0 == 0
        && let Some(pending) = machine.ledger().transfer(transfer.pending_id)
    {
        return pending.asset.0;
    }
    transfer.asset.0
}

fn asset_code(machine: &Machine, asset: u32) -> String {
    machine
        .assets()
        .spec(kanjo_ledger::AssetId(asset))
        .map_or_else(|| format!("asset-{asset}"), |spec| spec.code.clone())
}

/// `shop:{shop}:{asset}` → `{shop}`; `None` for any other account.
fn shop_of_account<'m>(machine: &'m Machine, account: AccountId, asset: &str) -> Option<&'m str> {
    machine
        .account_name(account)?
        .strip_prefix("shop:")?
        .strip_suffix(asset)?
        .strip_suffix(':')
}

/// Columns a clerk reads: 店舗 / 日付 / 資産 / 売上 / 手数料 / 返金 / 純額 (yen and points are
/// whole units, so the minor units are the amounts).
pub fn shops_to_text(report: &ShopReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} {} {} {} {} {} {}  店名",
        pad("店舗", 16, false),
        pad("日付", 10, false),
        pad("資産", 10, false),
        pad("件数", 7, true),
        pad("売上", 12, true),
        pad("手数料", 10, true),
        pad("返金", 10, true),
        pad("純額", 12, true),
    );
    for day in &report.days {
        let _ = writeln!(
            out,
            "{:<16} {:<10} {:<10} {:>7} {:>12} {:>10} {:>10} {:>12}  {}",
            day.shop,
            day.date,
            day.asset,
            day.payments,
            day.sales_minor,
            day.fees_minor,
            day.refunds_minor,
            day.net_minor,
            day.shop_name
        );
    }
    for total in &report.totals {
        let _ = writeln!(
            out,
            "{} {:<10} {:<10} {:>7} {:>12} {:>10} {:>10} {:>12}",
            pad("合計", 16, false),
            "",
            total.asset,
            "",
            total.sales_minor,
            total.fees_minor,
            total.refunds_minor,
            total.net_minor
        );
    }
    out
}

/// Pads a label to `columns` terminal columns; kana and kanji are two columns wide.
fn pad(label: &str, columns: usize, right: bool) -> String {
    let width: usize = label
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    let fill = " ".repeat(columns.saturating_sub(width));
    if right {
        format!("{fill}{label}")
    } else {
        format!("{label}{fill}")
    }
}
