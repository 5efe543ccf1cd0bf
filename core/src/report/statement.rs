//! A party's statement for one settlement (issue 10): `kanjo statement`, JSON or CSV (UTF-8 with
//! a BOM, so Excel opens the Japanese labels intact).
//!
//! - an operator: per day of the period, rides, fares, paid by media (wallet, cash, IC), cap
//!   waived and the subsidy due per budget (from the operator report);
//! - a shop: per day and asset of the period, sales, fees, refunds and net (from the shop
//!   statement);
//! - both: the settlement's lines for the party (adjustments name their day), the net payable
//!   per asset and what is paid of it.
//!
//! The period is the days after the previous settlement's date through this one's. When a
//! statement is made, its lines per asset must sum to what the settlement moved on the ledger
//! (the settlement transfer into the payable), to the yen; otherwise no statement is made.

use std::fmt::Write as _;

use serde::Serialize;
use thiserror::Error;

use crate::machine::Machine;
use crate::report::shops::ShopDay;
use crate::report::{OperatorDay, operator_days, shop_report};
use crate::settlement::{SettlementLine, party_account, payable_account_id};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub settlement: String,
    pub party: String,
    /// The shop's name, or the operator's code.
    pub party_name: String,
    /// First and last local day of the period (`None` for the first: from the beginning).
    pub period_from: Option<String>,
    pub period_through: String,
    /// Operators only: their days in the period.
    pub operator_days: Vec<OperatorDay>,
    /// Shops only: their days in the period, per asset.
    pub shop_days: Vec<ShopDay>,
    /// What the settlement took for the party, adjustments included.
    pub lines: Vec<SettlementLine>,
    pub payables: Vec<StatementPayable>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementPayable {
    pub asset: String,
    /// Σ of the lines in this asset: the net payable.
    pub net_payable_minor: u64,
    pub paid_minor: u64,
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
}

/// The statement of `party` in `settlement`, checked against the ledger.
pub fn statement(
    machine: &Machine,
    settlement: &str,
    party: &str,
) -> Result<Statement, StatementError> {
    let book = machine.settle_book();
    let found = book
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
    let after = found.previous_through.as_deref().unwrap_or("");
    let in_period = |day: &str| day > after && day <= found.through.as_str();
    let mut payables = Vec::new();
    for payable in found.payables.iter().filter(|p| p.party == party) {
        let sum: i128 = lines
            .iter()
            .filter(|line| line.asset == payable.asset)
            .map(|line| line.amount_minor)
            .sum();
        let ledger = settled_on_ledger(machine, found.number, party, &payable.asset);
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
            paid_minor: book.paid_minor(settlement, party, &payable.asset),
        });
    }
    let (operator, shop) = (party.strip_prefix("operator:"), party.strip_prefix("shop:"));
    let operator_days: Vec<OperatorDay> = operator
        .map(|code| {
            operator_days(machine)
                .into_iter()
                .filter(|day| day.operator == code && in_period(&day.date))
                .collect()
        })
        .unwrap_or_default();
    let shop_days: Vec<ShopDay> = shop
        .map(|id| {
            shop_report(machine)
                .days
                .into_iter()
                .filter(|day| day.shop == id && in_period(&day.date))
                .collect()
        })
        .unwrap_or_default();
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
        operator_days,
        shop_days,
        lines,
        payables,
    })
}

/// What the settlement's transfers moved from the party's account into its payable.
fn settled_on_ledger(machine: &Machine, number: u64, party: &str, asset: &str) -> u64 {
    let (from, to) = (
        party_account(party, asset),
        payable_account_id(party, asset),
    );
    machine
        .ledger()
        .transfers()
        .filter(|t| {
            t.code == crate::chart::Reason::Settlement as u16
                && t.user_data_64 == number
                && t.debit_account_id == from
                && t.credit_account_id == to
        })
        .map(|t| t.amount)
        .sum()
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

impl Statement {
    /// UTF-8 CSV with a BOM and CR LF, Japanese column labels: 区分 / 日付 / 資産 / 項目 / 金額.
    /// Amounts are plain integers in minor units (yen and points are whole units).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("\u{feff}");
        let mut row = |cells: &[&str]| {
            let cells: Vec<String> = cells.iter().map(|cell| field(cell)).collect();
            let _ = write!(out, "{}\r\n", cells.join(","));
        };
        row(&["区分", "日付", "資産", "項目", "金額"]);
        let from = self.period_from.as_deref().unwrap_or("");
        row(&["精算", from, "", &self.settlement, &self.period_through]);
        row(&["相手先", "", "", &self.party, &self.party_name]);
        for day in &self.operator_days {
            let n = |label: &str, value: u64| (label.to_owned(), value.to_string());
            let mut items = vec![
                n("乗車回数", day.rides),
                n("運賃", day.fares),
                n("支払_ウォレット", day.paid_wallet),
                n("支払_現金", day.paid_cash),
                n("支払_IC", day.paid_ic),
                n("上限による免除", day.cap_waived),
            ];
            for (budget, amount) in &day.subsidy_due {
                items.push((format!("補助金_{budget}"), amount.to_string()));
            }
            for (label, value) in &items {
                row(&["運行", &day.date, "JPY", label, value]);
            }
        }
        for day in &self.shop_days {
            for (label, value) in [
                ("売上", day.sales_minor.to_string()),
                ("手数料", day.fees_minor.to_string()),
                ("返金", day.refunds_minor.to_string()),
                ("純額", day.net_minor.to_string()),
            ] {
                row(&["店舗", &day.date, &day.asset, label, &value]);
            }
        }
        for line in &self.lines {
            let section = if line.adjustment {
                "調整"
            } else {
                "精算明細"
            };
            let amount = line.amount_minor.to_string();
            row(&[section, &line.day, &line.asset, &line.source, &amount]);
        }
        for payable in &self.payables {
            let net = payable.net_payable_minor.to_string();
            let paid = payable.paid_minor.to_string();
            row(&["合計", "", &payable.asset, "支払予定額", &net]);
            row(&["合計", "", &payable.asset, "支払済額", &paid]);
        }
        out
    }
}
