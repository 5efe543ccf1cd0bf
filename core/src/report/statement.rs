//! A party's statement for one settlement (issue 10): `kanjo statement`, JSON or CSV (UTF-8 with
//! a BOM, so Excel opens the Japanese labels intact).
//!
//! - an operator: per day of the period, rides, fares, paid by media (wallet, cash, IC), cap
//!   waived and the subsidy due per budget (from the operator report);
//! - a shop: per day and asset of the period, sales, fees, refunds and net (from the shop
//!   statement);
//! - both: the settlement's lines for the party (adjustments name their day), the net payable
//!   per asset and what is paid of it;
//! - operators: the IC clearing receivable per asset (what the IC clearing house owes for the
//!   period's IC fares; the house pays it, not the town);
//! - shops: what the settlement took from the receipts to repay the town's refund advances, and
//!   the coin receipts less fees the issuing bank pays on redemption.
//!
//! The period is the days after the previous settlement's date through this one's. When a
//! statement is made, its lines per asset must sum to what the settlement moved on the ledger
//! (the settlement transfer into the payable), to the yen; otherwise no statement is made.

//! - per period: rides by rider class and by fare rule (`classes`), fares, paid by media,
//!   discounts by budget and caps waived (operators); purchases by asset with fees, refunds and
//!   net (shops).
//!
//! The days are the period's as the settlement closed them (`closed`): an event arriving late
//! for a closed day goes to the next settlement's adjustment lines and never changes this one.
//!
//! Checks when a statement is made (no statement otherwise): both breakdowns sum to the ride
//! totals and the media to what riders paid; per source, the period's (non-adjustment) lines
//! equal the days' subsidy per budget or shop net; the lines per asset equal the ledger's.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kanjo_ledger::{AccountFilter, AccountFlags, AccountId};
use serde::Serialize;
use thiserror::Error;

use crate::chart::AccountName;
use crate::machine::Machine;
use crate::report::OperatorDay;
use crate::report::classes::{RideSums, group, label};
use crate::report::closed::{ClosedDays, closed_days};
use crate::report::shops::ShopDay;
use crate::settlement::{
    COIN_NET_SOURCE, IC_CLEARING_SOURCE, Pot, Settlement, SettlementLine, advance_account_id,
    ic_receivable_account_id, party_account, payable_account_id,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub settlement: String,
    pub party: String,
    /// The shop's name, or the operator's code.
    pub party_name: String,
    /// First and last local day of the period (`None` for the first: from the beginning).
    pub period_from: Option<String>,
    pub period_through: String,
    /// Operators only: the period's rides, summed and broken down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rides: Option<RideSummary>,
    /// Shops only: the period's purchases per asset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub purchases: Vec<PurchaseTotal>,
    /// Operators only: their days in the period.
    pub operator_days: Vec<OperatorDay>,
    /// Shops only: their days in the period, per asset.
    pub shop_days: Vec<ShopDay>,
    /// What the settlement took for the party, adjustments (late events, naming their day)
    /// included.
    pub lines: Vec<SettlementLine>,
    pub payables: Vec<StatementPayable>,
    /// Operators only: what the IC clearing house owes for the period's IC fares, per asset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receivables: Vec<StatementReceivable>,
    /// Shops only: what the settlement took from the receipts to repay the town's advances for
    /// refunds after close, per asset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advances_recovered: Vec<StatementReceivable>,
    /// Shops only: the period's stablecoin receipts less fees, which the issuing bank pays on
    /// redemption (they stay in the shop's coin account), per coin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coin_receipts: Vec<StatementReceivable>,
}

/// An operator's rides in the period. Yen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RideSummary {
    pub totals: RideSums,
    pub paid_wallet: u64,
    pub paid_cash: u64,
    pub paid_ic: u64,
    /// Rides charged the highest fare because the tap-off never came.
    pub unfinished_rides: u64,
    /// Budget id → discount it funded (the subsidy due).
    pub discounts_by_budget: BTreeMap<String, u64>,
    /// By rider class (`classes`): each ride in exactly one.
    pub by_class: Vec<Breakdown>,
    /// By the fare rules that changed the ride: each ride in exactly one.
    pub by_rule: Vec<Breakdown>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// `general` / `none`, a rule id, `a+b` or `pass:{product}`.
    pub key: String,
    /// What a clerk reads (Japanese for the built-in keys).
    pub label: String,
    #[serde(flatten)]
    pub sums: RideSums,
}

/// A shop's purchases in one asset over the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PurchaseTotal {
    pub asset: String,
    pub payments: u64,
    pub sales_minor: u128,
    pub fees_minor: i128,
    pub refunds: u64,
    pub refunds_minor: u128,
    pub net_minor: i128,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementPayable {
    pub asset: String,
    /// Σ of the lines in this asset: the net payable.
    pub net_payable_minor: u64,
    pub paid_minor: u64,
}

/// What a settlement moved or listed for the party in one asset outside its payable: its IC
/// clearing receivable, the refund advance it recovered, or its coin receipts (Σ that pot's
/// lines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementReceivable {
    pub asset: String,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StatementError {
    #[error("no settlement {0}")]
    UnknownSettlement(String),
    #[error("settlement {settlement} settled nothing for {party}")]
    UnknownParty { settlement: String, party: String },
    #[error("{party} {asset}: the lines sum to {lines} but the ledger moved {ledger}")]
    Disagrees {
        party: String,
        asset: String,
        lines: i128,
        ledger: u64,
    },
    #[error("{party}: the rides {what} sum to {sums:?}, the totals are {totals:?}")]
    BreakdownDisagrees {
        party: String,
        what: &'static str,
        // Boxed: keeps the error small (it travels in every `Result` of a statement).
        sums: Box<RideSums>,
        totals: Box<RideSums>,
    },
    #[error("{party} {asset} {kind}: the period's lines sum to {lines}, its days to {days}")]
    DaysDisagree {
        party: String,
        asset: String,
        /// The lines' source: `subsidy:{budget}` or `shop_net`.
        kind: String,
        lines: i128,
        days: i128,
    },
}

/// The statement of `party` in `settlement`, checked against its days and the ledger.
pub fn statement(
    machine: &Machine,
    settlement: &str,
    party: &str,
) -> Result<Statement, StatementError> {
    let found = machine
        .settle_book()
        .settlement(settlement)
        .ok_or_else(|| StatementError::UnknownSettlement(settlement.to_owned()))?;
    let lines: Vec<SettlementLine> = found
        .lines
        .iter()
        .filter(|line| line.party == party)
        .cloned()
        .collect();
    if lines.is_empty() {
        return Err(StatementError::UnknownParty {
            settlement: settlement.to_owned(),
            party: party.to_owned(),
        });
    }
    let payables = checked_payables(machine, found, party, &lines)?;
    let receivables = checked_moved(machine, found, party, &lines, Pot::IcReceivable)?;
    let advances_recovered = checked_moved(machine, found, party, &lines, Pot::RefundAdvance)?;
    let coin_receipts = checked_moved(machine, found, party, &lines, Pot::CoinReceipts)?;
    let computed;
    let days = match machine.closed_days(found.number) {
        Some(days) => days,
        None => {
            computed = closed_days(machine, found.previous_through.as_deref(), &found.through);
            &computed
        }
    };
    let (operator, shop) = (party.strip_prefix("operator:"), party.strip_prefix("shop:"));
    let operator_days: Vec<OperatorDay> = operator
        .map(|code| {
            days.operator_days
                .iter()
                .filter(|day| day.operator == code)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let shop_days: Vec<ShopDay> = shop
        .map(|id| {
            days.shop_days
                .iter()
                .filter(|day| day.shop == id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let rides = operator
        .map(|code| ride_summary(party, days, code, &operator_days))
        .transpose()?;
    let purchases = purchase_totals(&shop_days);
    let moved = refunds_moved_to_adjustments(machine, found, party);
    check_days(
        party,
        &lines,
        &payables,
        (&receivables, &coin_receipts),
        &operator_days,
        (&shop_days, &moved),
    )?;
    let party_name = shop
        .and_then(|id| machine.shop(id).map(|spec| spec.name.clone()))
        .or(operator.map(str::to_owned))
        .unwrap_or_default();
    Ok(Statement {
        settlement: settlement.to_owned(),
        party: party.to_owned(),
        party_name,
        period_from: found
            .previous_through
            .as_ref()
            .and_then(|day| next_day(day)),
        period_through: found.through.clone(),
        rides,
        purchases,
        operator_days,
        shop_days,
        lines,
        payables,
        receivables,
        advances_recovered,
        coin_receipts,
    })
}

/// Every party of the settlement (operators, then shops, by id), each checked.
pub fn statements(machine: &Machine, settlement: &str) -> Result<Vec<Statement>, StatementError> {
    parties(machine, settlement)?
        .iter()
        .map(|party| statement(machine, settlement, party))
        .collect()
}

/// The parties a settlement has lines for, in order.
pub fn parties(machine: &Machine, settlement: &str) -> Result<Vec<String>, StatementError> {
    let found = machine
        .settle_book()
        .settlement(settlement)
        .ok_or_else(|| StatementError::UnknownSettlement(settlement.to_owned()))?;
    let mut parties: Vec<String> = found.lines.iter().map(|line| line.party.clone()).collect();
    parties.sort();
    parties.dedup();
    Ok(parties)
}

/// Per payable: Σ lines = the settlement's payable = what the ledger moved, to the yen.
fn checked_payables(
    machine: &Machine,
    found: &Settlement,
    party: &str,
    lines: &[SettlementLine],
) -> Result<Vec<StatementPayable>, StatementError> {
    let book = machine.settle_book();
    let mut payables = Vec::new();
    for payable in found.payables.iter().filter(|p| p.party == party) {
        let sum = lines_sum(lines, Pot::Payable, &payable.asset);
        let (from, to) = (
            party_account(party, &payable.asset),
            payable_account_id(party, &payable.asset),
        );
        let ledger = settled_on_ledger(machine, found.number, from, to);
        if sum != i128::from(ledger) || ledger != payable.amount_minor {
            return Err(StatementError::Disagrees {
                party: party.to_owned(),
                asset: payable.asset.clone(),
                lines: sum,
                ledger,
            });
        }
        payables.push(StatementPayable {
            asset: payable.asset.clone(),
            net_payable_minor: payable.amount_minor,
            paid_minor: book.paid_minor(&found.id, party, &payable.asset),
        });
    }
    Ok(payables)
}

/// Per IC receivable (or advance recovered): Σ its pot's lines = what the settlement says it
/// moved = what the ledger moved (into the receivable from the clearing house's account, or from
/// the shop's receipts into its advance account), to the yen. Coin receipts move nothing: Σ
/// their lines = what the settlement lists.
fn checked_moved(
    machine: &Machine,
    found: &Settlement,
    party: &str,
    lines: &[SettlementLine],
    pot: Pot,
) -> Result<Vec<StatementReceivable>, StatementError> {
    let moved = match pot {
        Pot::IcReceivable => &found.receivables,
        Pot::RefundAdvance => &found.advances_recovered,
        Pot::CoinReceipts => &found.coin_receipts,
        Pot::Payable => unreachable!("payables are checked with what is paid of them"),
    };
    let mut receivables = Vec::new();
    for receivable in moved.iter().filter(|r| r.party == party) {
        let asset = &receivable.asset;
        let sum = lines_sum(lines, pot, asset);
        let (from, to) = match pot {
            Pot::CoinReceipts => {
                if sum != i128::from(receivable.amount_minor) {
                    return Err(StatementError::Disagrees {
                        party: party.to_owned(),
                        asset: format!("{asset} (coin receipts)"),
                        lines: sum,
                        ledger: receivable.amount_minor,
                    });
                }
                receivables.push(StatementReceivable {
                    asset: asset.clone(),
                    amount_minor: receivable.amount_minor,
                });
                continue;
            }
            Pot::IcReceivable => (
                ic_receivable_account_id(party, asset),
                AccountName::IcClearing.id(),
            ),
            _ => (
                party_account(party, asset),
                advance_account_id(party, asset),
            ),
        };
        let ledger = settled_on_ledger(machine, found.number, from, to);
        if sum != i128::from(ledger) || ledger != receivable.amount_minor {
            return Err(StatementError::Disagrees {
                party: party.to_owned(),
                asset: format!("{asset} ({pot:?})"),
                lines: sum,
                ledger,
            });
        }
        receivables.push(StatementReceivable {
            asset: asset.clone(),
            amount_minor: receivable.amount_minor,
        });
    }
    Ok(receivables)
}

fn lines_sum(lines: &[SettlementLine], pot: Pot, asset: &str) -> i128 {
    lines
        .iter()
        .filter(|line| line.pot() == pot && line.asset == asset)
        .map(|line| line.amount_minor)
        .sum()
}

/// The operator's rides: totals from its days, breakdowns from the rated rows; both
/// breakdowns must sum to the totals and the media to what riders paid.
fn ride_summary(
    party: &str,
    days: &ClosedDays,
    code: &str,
    operator_days: &[OperatorDay],
) -> Result<RideSummary, StatementError> {
    let mut summary = RideSummary::default();
    for day in operator_days {
        let totals = &mut summary.totals;
        totals.rides += day.rides;
        totals.fares += day.fares;
        totals.rider_pays += day.paid_by_riders;
        totals.discount += day.subsidy_total();
        totals.cap_waived += day.cap_waived;
        summary.paid_wallet += day.paid_wallet;
        summary.paid_cash += day.paid_cash;
        summary.paid_ic += day.paid_ic;
        summary.unfinished_rides += day.unfinished_rides;
        for (budget, amount) in &day.subsidy_due {
            *summary
                .discounts_by_budget
                .entry(budget.clone())
                .or_default() += amount;
        }
    }
    let rows: Vec<_> = days
        .rated
        .iter()
        .filter(|row| row.operator == code)
        .cloned()
        .collect();
    for (what, by_rule) in [("by class", false), ("by rule", true)] {
        let grouped: Vec<Breakdown> = group(&rows, by_rule)
            .into_iter()
            .map(|(key, sums)| Breakdown {
                label: label(&key),
                key,
                sums,
            })
            .collect();
        let mut sums = RideSums::default();
        grouped.iter().for_each(|row| sums.add(&row.sums));
        if sums != summary.totals {
            return Err(StatementError::BreakdownDisagrees {
                party: party.to_owned(),
                what,
                sums: Box::new(sums),
                totals: Box::new(summary.totals),
            });
        }
        if by_rule {
            summary.by_rule = grouped;
        } else {
            summary.by_class = grouped;
        }
    }
    let media = summary.paid_wallet + summary.paid_cash + summary.paid_ic;
    if media != summary.totals.rider_pays {
        let mut sums = summary.totals;
        sums.rider_pays = media;
        return Err(StatementError::BreakdownDisagrees {
            party: party.to_owned(),
            what: "paid by media",
            sums: Box::new(sums),
            totals: Box::new(summary.totals),
        });
    }
    Ok(summary)
}

fn purchase_totals(shop_days: &[ShopDay]) -> Vec<PurchaseTotal> {
    let mut by_asset: Vec<PurchaseTotal> = Vec::new();
    for day in shop_days {
        let at = match by_asset.iter().position(|total| total.asset == day.asset) {
            Some(at) => at,
            None => {
                by_asset.push(PurchaseTotal {
                    asset: day.asset.clone(),
                    ..PurchaseTotal::default()
                });
                by_asset.len() - 1
            }
        };
        let total = &mut by_asset[at];
        total.payments += day.payments;
        total.sales_minor += day.sales_minor;
        total.fees_minor += day.fees_minor;
        total.refunds += day.refunds;
        total.refunds_minor += day.refunds_minor;
        total.net_minor += day.net_minor;
    }
    by_asset
}

/// Per asset: what refunds in the period of purchases on closed days, accepted before the
/// settlement was made, took out of their refund day's net. Their lines name the purchase's day
/// instead (`settlement::refunds`), so the period's `shop_net` lines hold that much more than
/// its days. (A refund accepted later is in a later settlement's adjustments.)
fn refunds_moved_to_adjustments(
    machine: &Machine,
    found: &Settlement,
    party: &str,
) -> BTreeMap<String, i128> {
    let after = found.previous_through.as_deref().unwrap_or("");
    let mut moved = BTreeMap::new();
    for refund in machine.settle_book().refunds_before(&found.id) {
        let day = refund.refund_day.as_str();
        if refund.party == party && refund.closed && day > after && day <= found.through.as_str() {
            *moved.entry(refund.asset.clone()).or_default() += i128::from(refund.net_minor);
        }
    }
    moved
}

/// For every asset the party was paid in: the period's lines per source equal its days'
/// figures (subsidy per budget and IC fares for operators, net for shops, less the refunds
/// moved to their purchase's day), to the yen.
fn check_days(
    party: &str,
    lines: &[SettlementLine],
    payables: &[StatementPayable],
    (receivables, coins): (&[StatementReceivable], &[StatementReceivable]),
    operator_days: &[OperatorDay],
    (shop_days, refunds_moved): (&[ShopDay], &BTreeMap<String, i128>),
) -> Result<(), StatementError> {
    let mut expected: BTreeMap<(String, String), (i128, i128)> = BTreeMap::new();
    for line in lines.iter().filter(|line| !line.adjustment) {
        if line.source.starts_with("subsidy:")
            || line.source == "shop_net"
            || line.source == COIN_NET_SOURCE
            || line.source == IC_CLEARING_SOURCE
        {
            // A coin's receipts are its shop net, kept instead of swept.
            let source = if line.source == COIN_NET_SOURCE {
                "shop_net"
            } else {
                &line.source
            };
            let key = (line.asset.clone(), source.to_owned());
            expected.entry(key).or_default().0 += line.amount_minor;
        }
    }
    for day in operator_days {
        for (budget, amount) in &day.subsidy_due {
            let key = (crate::chart::YEN.to_owned(), format!("subsidy:{budget}"));
            expected.entry(key).or_default().1 += i128::from(*amount);
        }
        if day.paid_ic > 0 {
            let key = (crate::chart::YEN.to_owned(), IC_CLEARING_SOURCE.to_owned());
            expected.entry(key).or_default().1 += i128::from(day.paid_ic);
        }
    }
    for day in shop_days {
        let key = (day.asset.clone(), "shop_net".to_owned());
        expected.entry(key).or_default().1 += day.net_minor;
    }
    for (asset, net) in refunds_moved {
        let key = (asset.clone(), "shop_net".to_owned());
        expected.entry(key).or_default().1 += net;
    }
    for ((asset, source), (lines, days)) in expected {
        // An asset without a payable, receivable or coin receipts was carried: no lines to
        // match.
        let paid_in = if source == IC_CLEARING_SOURCE {
            receivables
                .iter()
                .any(|receivable| receivable.asset == asset)
        } else {
            let listed = |list: &[StatementReceivable]| list.iter().any(|x| x.asset == asset);
            payables.iter().any(|payable| payable.asset == asset) || listed(coins)
        };
        if paid_in && lines != days {
            return Err(StatementError::DaysDisagree {
                party: party.to_owned(),
                asset,
                kind: source,
                lines,
                days,
            });
        }
    }
    Ok(())
}

/// What the settlement's transfers moved from `from` to `to`, read from the history of
/// `to`, or of `from` for an IC receivable: the payable, receivable or advance account, which
/// the settlement opened with history. A page at a time, so the cost is that account's
/// transfers, not the ledger's.
fn settled_on_ledger(machine: &Machine, number: u64, from: AccountId, to: AccountId) -> u64 {
    let ledger = machine.ledger();
    let history = if ledger
        .account(to)
        .is_some_and(|account| account.flags.contains(AccountFlags::HISTORY))
    {
        to
    } else {
        from
    };
    let mut filter = AccountFilter::default();
    let mut moved = 0u64;
    loop {
        let page = ledger.account_transfers(history, &filter);
        moved += page
            .iter()
            .filter(|t| {
                t.code == crate::chart::Reason::Settlement as u16
                    && t.user_data_64 == number
                    && t.debit_account_id == from
                    && t.credit_account_id == to
            })
            .map(|t| t.amount)
            .sum::<u64>();
        match page.last() {
            Some(last) if page.len() == filter.limit as usize => {
                filter.timestamp_min = last.timestamp + 1;
            }
            _ => return moved,
        }
    }
}

fn next_day(day: &str) -> Option<String> {
    kanjo_rules::LocalDate::parse(day)
        .ok()?
        .add_days(1)
        .map(|next| next.to_string())
}

/// One CSV field, quoted when it must be (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Column labels of the CSV and XLSX statements: Japanese, with English for a maintainer.
pub const COLUMNS: [&str; 6] = [
    "相手先 party",
    "区分 section",
    "日付 date",
    "資産 asset",
    "項目 item",
    "金額 amount",
];

/// Sections of a statement's rows (区分).
pub mod section {
    pub const SETTLEMENT: &str = "精算 settlement";
    pub const PERIOD: &str = "期間 period";
    pub const PARTY: &str = "相手先 party";
    pub const RIDES: &str = "乗車 rides";
    pub const BY_CLASS: &str = "乗客区分別 by rider class";
    pub const BY_RULE: &str = "適用規則別 by fare rule";
    pub const BY_BUDGET: &str = "予算別割引 discounts by budget";
    pub const OPERATOR_DAY: &str = "運行日 operator day";
    pub const PURCHASES: &str = "購入 purchases";
    pub const SHOP_DAY: &str = "店舗日 shop day";
    pub const LINE: &str = "精算明細 settlement line";
    pub const ADJUSTMENT: &str = "調整 adjustment";
    pub const IC_LINE: &str = "IC精算明細 IC clearing line";
    pub const IC_ADJUSTMENT: &str = "IC精算調整 IC clearing adjustment";
    pub const ADVANCE: &str = "返金立替回収 refund advance recovered";
    pub const TOTAL: &str = "合計 total";
}

/// Items of the total rows (項目).
pub const NET_PAYABLE: &str = "支払予定額 net payable";
pub const PAID: &str = "支払済額 paid";
/// What the IC clearing house owes an operator (not paid by the town).
pub const IC_RECEIVABLE: &str = "IC精算受取額 IC clearing receivable";
/// What the settlement took from a shop's receipts to repay the town's refund advances.
pub const ADVANCE_RECOVERED: &str = "返金立替回収額 refund advance recovered";
/// A shop's coin receipts less fees: the issuing bank pays them when the shop redeems them.
pub const COIN_RECEIPTS: &str = "コイン受取額 coin receipts (bank pays on redemption)";

/// One row of a statement as a clerk reads it; `amount` is a count or minor units (yen and
/// points are whole units), `None` on the heading rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub section: &'static str,
    pub date: String,
    pub asset: String,
    pub item: String,
    pub amount: Option<i128>,
}

fn row(section: &'static str, date: &str, asset: &str, item: &str, amount: i128) -> Row {
    Row {
        section,
        date: date.to_owned(),
        asset: asset.to_owned(),
        item: item.to_owned(),
        amount: Some(amount),
    }
}

/// Counts and yen of a group of rides, as (item, amount) pairs.
fn ride_items(sums: &RideSums) -> [(&'static str, u64); 5] {
    [
        ("乗車回数 rides", sums.rides),
        ("運賃 fares", sums.fares),
        ("利用者負担 rider pays", sums.rider_pays),
        ("割引 discount", sums.discount),
        ("上限免除 cap waived", sums.cap_waived),
    ]
}

impl Statement {
    /// Every row but the totals, in reading order: heading, rides, purchases, days, lines.
    pub fn rows(&self) -> Vec<Row> {
        let heading = |section, date: &str, item: String| Row {
            section,
            date: date.to_owned(),
            asset: String::new(),
            item,
            amount: None,
        };
        let mut rows = vec![
            heading(
                section::SETTLEMENT,
                &self.period_through,
                self.settlement.clone(),
            ),
            heading(
                section::PERIOD,
                self.period_from.as_deref().unwrap_or(""),
                format!("〜 {}", self.period_through),
            ),
            heading(section::PARTY, "", self.party_name.clone()),
        ];
        if let Some(rides) = &self.rides {
            self.ride_rows(rides, &mut rows);
        }
        self.purchase_rows(&mut rows);
        for line in &self.lines {
            let section = match (line.pot(), line.adjustment) {
                (Pot::Payable, false) => section::LINE,
                (Pot::Payable, true) => section::ADJUSTMENT,
                (Pot::IcReceivable, false) => section::IC_LINE,
                (Pot::IcReceivable, true) => section::IC_ADJUSTMENT,
                (Pot::RefundAdvance, _) => section::ADVANCE,
                (Pot::CoinReceipts, false) => section::LINE,
                (Pot::CoinReceipts, true) => section::ADJUSTMENT,
            };
            rows.push(row(
                section,
                &line.day,
                &line.asset,
                &line.source,
                line.amount_minor,
            ));
        }
        rows
    }

    fn ride_rows(&self, rides: &RideSummary, rows: &mut Vec<Row>) {
        let yen = crate::chart::YEN;
        let mut totals: Vec<(&str, u64)> = ride_items(&rides.totals).to_vec();
        totals.extend([
            ("支払_ウォレット paid wallet", rides.paid_wallet),
            ("支払_現金 paid cash", rides.paid_cash),
            ("支払_IC paid IC", rides.paid_ic),
            ("未完了乗車 unfinished rides", rides.unfinished_rides),
        ]);
        for (item, amount) in totals {
            rows.push(row(section::RIDES, "", yen, item, i128::from(amount)));
        }
        for (section, breakdown) in [
            (section::BY_CLASS, &rides.by_class),
            (section::BY_RULE, &rides.by_rule),
        ] {
            for group in breakdown {
                for (item, amount) in ride_items(&group.sums) {
                    let item = format!("{}: {item}", group.label);
                    rows.push(row(section, "", yen, &item, i128::from(amount)));
                }
            }
        }
        for (budget, amount) in &rides.discounts_by_budget {
            rows.push(row(
                section::BY_BUDGET,
                "",
                yen,
                budget,
                i128::from(*amount),
            ));
        }
        for day in &self.operator_days {
            let sums = RideSums {
                rides: day.rides,
                fares: day.fares,
                rider_pays: day.paid_by_riders,
                discount: day.subsidy_total(),
                cap_waived: day.cap_waived,
            };
            for (item, amount) in ride_items(&sums) {
                rows.push(row(
                    section::OPERATOR_DAY,
                    &day.date,
                    yen,
                    item,
                    i128::from(amount),
                ));
            }
        }
    }

    fn purchase_rows(&self, rows: &mut Vec<Row>) {
        for total in &self.purchases {
            let asset = total.asset.as_str();
            for (item, amount) in [
                ("件数 payments", i128::from(total.payments)),
                ("売上 sales", total.sales_minor as i128),
                ("手数料 fees", total.fees_minor),
                ("返金件数 refunds", i128::from(total.refunds)),
                ("返金 refunded", total.refunds_minor as i128),
                ("純額 net", total.net_minor),
            ] {
                rows.push(row(section::PURCHASES, "", asset, item, amount));
            }
        }
        for day in &self.shop_days {
            for (item, amount) in [
                ("売上 sales", day.sales_minor as i128),
                ("手数料 fees", day.fees_minor),
                ("返金 refunded", day.refunds_minor as i128),
                ("純額 net", day.net_minor),
            ] {
                rows.push(row(section::SHOP_DAY, &day.date, &day.asset, item, amount));
            }
        }
    }

    /// The total rows: per asset, the net payable (Σ lines) and what is paid of it; then the
    /// IC clearing receivable (Σ IC lines).
    pub fn total_rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for payable in &self.payables {
            let net = i128::from(payable.net_payable_minor);
            let paid = i128::from(payable.paid_minor);
            rows.push(row(section::TOTAL, "", &payable.asset, NET_PAYABLE, net));
            rows.push(row(section::TOTAL, "", &payable.asset, PAID, paid));
        }
        let moved = [
            (IC_RECEIVABLE, &self.receivables),
            (ADVANCE_RECOVERED, &self.advances_recovered),
            (COIN_RECEIPTS, &self.coin_receipts),
        ];
        for (item, totals) in moved {
            for total in totals {
                let amount = i128::from(total.amount_minor);
                rows.push(row(section::TOTAL, "", &total.asset, item, amount));
            }
        }
        rows
    }

    /// This statement's CSV rows (no BOM, no header), CR LF.
    pub fn csv_rows(&self, out: &mut String) {
        for line in self.rows().iter().chain(&self.total_rows()) {
            let amount = line.amount.map_or_else(String::new, |a| a.to_string());
            let cells = [
                field(&self.party),
                field(line.section),
                field(&line.date),
                field(&line.asset),
                field(&line.item),
                amount,
            ];
            let _ = write!(out, "{}\r\n", cells.join(","));
        }
    }

    /// UTF-8 CSV with a BOM and CR LF, one header row (`COLUMNS`). Amounts are plain integers
    /// in minor units.
    pub fn to_csv(&self) -> String {
        statements_csv(std::slice::from_ref(self))
    }
}

/// Several parties' statements in one CSV: a header, then each party's rows in turn.
pub fn statements_csv(statements: &[Statement]) -> String {
    let mut out = String::from("\u{feff}");
    let _ = write!(out, "{}\r\n", COLUMNS.join(","));
    for statement in statements {
        statement.csv_rows(&mut out);
    }
    out
}
