//! Statements a finance clerk runs: the trial balance, the operator settlement report and the
//! shop statement (`shops`). All read the machine's state (the machine keeps the
//! per-operator-day totals as it posts); the machine knows nothing of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kanjo_ledger::AssetTotals;
use serde::Serialize;

use crate::machine::Machine;

pub mod classes;
pub mod closed;
pub mod shops;
pub mod statement;
pub use shops::{ShopReport, shop_report, shops_to_text};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrialBalanceLine {
    pub asset: String,
    pub debits_posted: u128,
    pub credits_posted: u128,
    pub debits_pending: u128,
    pub credits_pending: u128,
    pub accounts: u64,
}

/// One stablecoin's circulation: issued − redeemed (the backing account), the machine's own
/// totals, and the sum of every other account of the coin. All three must agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CirculationLine {
    pub asset: String,
    pub bank: String,
    pub issued: u128,
    pub redeemed: u128,
    /// The bank's backing liability: the backing account's debits − credits.
    pub backing: i128,
    /// Σ credits − debits posted over every account of the coin but the backing.
    pub in_circulation: i128,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrialBalance {
    pub lines: Vec<TrialBalanceLine>,
    /// One per stablecoin.
    pub circulation: Vec<CirculationLine>,
    pub balanced: bool,
    /// What is wrong, when it is not balanced (or the ledger's invariant check failed).
    pub problems: Vec<String>,
}

/// Sums every account per asset (independently of the ledger's running totals) and checks that
/// debits equal credits, that the sums equal the running totals, and the ledger's invariants.
pub fn trial_balance(machine: &Machine) -> TrialBalance {
    let ledger = machine.ledger();
    let mut sums: BTreeMap<u32, TrialBalanceLine> = BTreeMap::new();
    for (asset_id, spec) in machine.assets().iter() {
        sums.insert(
            asset_id.0,
            TrialBalanceLine {
                asset: spec.code.clone(),
                debits_posted: 0,
                credits_posted: 0,
                debits_pending: 0,
                credits_pending: 0,
                accounts: 0,
            },
        );
    }
    let mut problems = Vec::new();
    for account in ledger.accounts() {
        let Some(line) = sums.get_mut(&account.asset.0) else {
            problems.push(format!(
                "account {:032x} holds an unknown asset {}",
                account.id, account.asset.0
            ));
            continue;
        };
        // u128: many u64 balances can sum past u64.
        line.debits_posted += u128::from(account.debits_posted);
        line.credits_posted += u128::from(account.credits_posted);
        line.debits_pending += u128::from(account.debits_pending);
        line.credits_pending += u128::from(account.credits_pending);
        line.accounts += 1;
    }
    for (asset_id, line) in &sums {
        if line.debits_posted != line.credits_posted {
            problems.push(format!(
                "{}: debits posted {} ≠ credits posted {}",
                line.asset, line.debits_posted, line.credits_posted
            ));
        }
        if line.debits_pending != line.credits_pending {
            problems.push(format!(
                "{}: debits pending {} ≠ credits pending {}",
                line.asset, line.debits_pending, line.credits_pending
            ));
        }
        let running: AssetTotals = ledger.totals(kanjo_ledger::AssetId(*asset_id));
        if running.debits_posted != line.debits_posted
            || running.credits_posted != line.credits_posted
        {
            problems.push(format!(
                "{}: the ledger's running totals disagree with the account sums",
                line.asset
            ));
        }
    }
    if let Err(violation) = ledger.check_invariants() {
        problems.push(format!("ledger invariant: {violation}"));
    }
    let circulation = circulation_lines(machine, &mut problems);
    TrialBalance {
        lines: sums.into_values().collect(),
        circulation,
        balanced: problems.is_empty(),
        problems,
    }
}

/// Per stablecoin: coins in circulation = issued − redeemed = the bank's backing liability.
fn circulation_lines(machine: &Machine, problems: &mut Vec<String>) -> Vec<CirculationLine> {
    let ledger = machine.ledger();
    let mut lines = Vec::new();
    for (asset, spec) in machine.assets().iter() {
        let Some(bank) = spec.issuing_bank() else {
            continue;
        };
        let backing_id = crate::chart::AccountName::Backing {
            bank,
            asset: &spec.code,
        }
        .id();
        let (issued, redeemed) = ledger.account(backing_id).map_or((0, 0), |backing| {
            (backing.debits_posted, backing.credits_posted)
        });
        let in_circulation: i128 = ledger
            .accounts()
            .filter(|account| account.asset == asset && account.id != backing_id)
            .map(|account| i128::from(account.credits_posted) - i128::from(account.debits_posted))
            .sum();
        let line = CirculationLine {
            asset: spec.code.clone(),
            bank: bank.to_owned(),
            issued: u128::from(issued),
            redeemed: u128::from(redeemed),
            backing: i128::from(issued) - i128::from(redeemed),
            in_circulation,
        };
        let counted = machine.coin_totals(asset);
        if line.in_circulation != line.backing
            || counted.issued_minor != line.issued
            || counted.redeemed_minor != line.redeemed
        {
            problems.push(format!(
                "{}: in circulation {} ≠ issued {} − redeemed {} (backing {}; the machine counted {} − {})",
                line.asset,
                line.in_circulation,
                line.issued,
                line.redeemed,
                line.backing,
                counted.issued_minor,
                counted.redeemed_minor
            ));
        }
        lines.push(line);
    }
    lines
}

impl TrialBalance {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>16} {:>16} {:>14} {:>14} {:>9}",
            "asset", "debits posted", "credits posted", "debits pend.", "credits pend.", "accounts"
        );
        for line in &self.lines {
            let _ = writeln!(
                out,
                "{:<16} {:>16} {:>16} {:>14} {:>14} {:>9}",
                line.asset,
                line.debits_posted,
                line.credits_posted,
                line.debits_pending,
                line.credits_pending,
                line.accounts
            );
        }
        for line in &self.circulation {
            let _ = writeln!(
                out,
                "{:<16} 発行 issued {} − 償還 redeemed {} = 流通 in circulation {} (backing at {}: {})",
                line.asset,
                line.issued,
                line.redeemed,
                line.in_circulation,
                line.bank,
                line.backing
            );
        }
        if self.balanced {
            let _ = writeln!(out, "balanced: every asset's debits equal its credits");
        } else {
            for problem in &self.problems {
                let _ = writeln!(out, "NOT BALANCED: {problem}");
            }
        }
        out
    }
}

/// One operator's day, for settlement: what riders paid and what each budget owes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OperatorDay {
    pub operator: String,
    pub date: String,
    pub rides: u64,
    pub fares: u64,
    pub paid_by_riders: u64,
    pub paid_wallet: u64,
    pub paid_cash: u64,
    pub paid_ic: u64,
    /// Budget id → subsidy due to the operator.
    pub subsidy_due: BTreeMap<String, u64>,
    pub cap_waived: u64,
    /// Rides charged the highest fare because the tap-off never came.
    pub unfinished_rides: u64,
}

impl OperatorDay {
    pub fn subsidy_total(&self) -> u64 {
        self.subsidy_due.values().sum()
    }
}

/// The settlement report: per operator and local day, in operator then date order.
pub fn operator_days(machine: &Machine) -> Vec<OperatorDay> {
    let programme = machine.programme();
    let budgets = programme.budgets();
    machine
        .operator_day_totals()
        .iter()
        .map(|((operator, day), totals)| {
            let paid = totals.paid_wallet + totals.paid_cash + totals.paid_ic;
            OperatorDay {
                operator: programme.operator_code(*operator).to_owned(),
                date: day.to_string(),
                rides: totals.rides,
                fares: totals.fares,
                paid_by_riders: paid,
                paid_wallet: totals.paid_wallet,
                paid_cash: totals.paid_cash,
                paid_ic: totals.paid_ic,
                subsidy_due: totals
                    .subsidy_by_budget
                    .iter()
                    .map(|(budget, amount)| (budgets[usize::from(*budget)].id.clone(), *amount))
                    .collect(),
                cap_waived: totals.cap_waived,
                unfinished_rides: totals.unfinished_rides,
            }
        })
        .collect()
}

pub fn operators_to_text(days: &[OperatorDay]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}  subsidy due by budget",
        "operator", "date", "rides", "fares", "paid", "wallet", "cash", "ic", "subsidy", "cap"
    );
    for day in days {
        let budgets: Vec<String> = day
            .subsidy_due
            .iter()
            .map(|(budget, amount)| format!("{budget}={amount}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<14} {:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}  {}",
            day.operator,
            day.date,
            day.rides,
            day.fares,
            day.paid_by_riders,
            day.paid_wallet,
            day.paid_cash,
            day.paid_ic,
            day.subsidy_total(),
            day.cap_waived,
            budgets.join(" ")
        );
    }
    out
}
