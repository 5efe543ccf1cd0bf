//! `kanjo report breakage`: what of each points asset lapsed, per Japanese fiscal year (April to
//! March), so a town can book the breakage of its points and vouchers (issue 9).
//!
//! Breakage is every posted credit to `expired:{asset}`, in two kinds:
//! - `expiry`: a lapsed lot swept from a rider. Its fiscal year is that of the lot's last usable
//!   local day (the sweep's leg carries it), so points ending 1 April 00:00 JST count in the year
//!   that ended, even when the sweep ran on a later event.
//! - `refund`: a shop refund of points whose lot had already lapsed. Its fiscal year is that of
//!   the refund's local day.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kanjo_ledger::{AccountId, AssetId, Transfer, TransferFlags};
use serde::Serialize;

use crate::chart::{AccountName, Reason};
use crate::machine::Machine;
use crate::shops::day_of_stamp;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BreakageReport {
    pub years: Vec<BreakageYear>,
}

/// One asset's breakage in one fiscal year.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BreakageYear {
    /// The fiscal year by the calendar year it starts in (FY2026: April 2026 to March 2027).
    pub fiscal_year: i32,
    pub asset: String,
    /// Lapsed lots swept to breakage.
    pub expired_minor: u128,
    /// Refunds of points from lapsed lots, paid to breakage.
    pub refunded_minor: u128,
    pub total_minor: u128,
}

/// The fiscal year a local day falls in: April to March, named by its starting calendar year.
pub fn fiscal_year_of(year: i32, month: u8) -> i32 {
    if month >= 4 { year } else { year - 1 }
}

/// Breakage per fiscal year and asset (programme order), of every points asset or only `asset`.
pub fn breakage_report(machine: &Machine, asset: Option<&str>) -> Result<BreakageReport, String> {
    let mut wanted: Vec<(AssetId, AccountId, String)> = Vec::new();
    for (id, spec) in machine.assets().iter() {
        if asset.is_some_and(|code| code != spec.code) {
            continue;
        }
        let expired = AccountName::Expired { asset: &spec.code }.id();
        wanted.push((id, expired, spec.code.clone()));
    }
    if let Some(code) = asset
        && wanted.is_empty()
    {
        return Err(format!("no asset {code:?} in this programme"));
    }
    // (fiscal year, asset id) → (expired, refunded).
    let mut sums: BTreeMap<(i32, u32), (u128, u128)> = BTreeMap::new();
    for transfer in machine.ledger().transfers() {
        let Some((asset_id, reason)) = breakage_leg(transfer, &wanted) else {
            continue;
        };
        let year = day_of_stamp(transfer.user_data_64)
            .map_or(0, |day| fiscal_year_of(i32::from(day.year), day.month));
        let sum = sums.entry((year, asset_id.0)).or_default();
        if reason == Reason::Expiry as u16 {
            sum.0 += u128::from(transfer.amount);
        } else {
            sum.1 += u128::from(transfer.amount);
        }
    }
    let years = sums
        .into_iter()
        .map(
            |((fiscal_year, asset_id), (expired_minor, refunded_minor))| {
                let code = wanted
                    .iter()
                    .find(|(id, _, _)| id.0 == asset_id)
                    .map(|(_, _, code)| code.clone())
                    .expect("only wanted assets are summed");
                BreakageYear {
                    fiscal_year,
                    asset: code,
                    expired_minor,
                    refunded_minor,
                    total_minor: expired_minor + refunded_minor,
                }
            },
        )
        .collect();
    Ok(BreakageReport { years })
}

/// A posted single-phase credit to a wanted `expired:` account: its asset and reason.
fn breakage_leg(
    transfer: &Transfer,
    wanted: &[(AssetId, AccountId, String)],
) -> Option<(AssetId, u16)> {
    // Nothing is ever held towards breakage: expiry and refund legs post at once.
    if transfer.flags.intersects(
        TransferFlags::PENDING
            .union(TransferFlags::POST_PENDING)
            .union(TransferFlags::VOID_PENDING),
    ) {
        return None;
    }
    let (asset_id, _, _) = wanted
        .iter()
        .find(|(_, expired, _)| *expired == transfer.credit_account_id)?;
    Some((*asset_id, transfer.code))
}

impl BreakageReport {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "失効ポイント 年度別 (breakage per fiscal year)");
        let _ = writeln!(
            out,
            "{:<8} {:<16} {:>14} {:>14} {:>14}",
            "年度 FY", "資産 asset", "失効額 expired", "返金分 refund", "合計 total"
        );
        for year in &self.years {
            let _ = writeln!(
                out,
                "{:<8} {:<16} {:>14} {:>14} {:>14}",
                year.fiscal_year,
                year.asset,
                year.expired_minor,
                year.refunded_minor,
                year.total_minor
            );
        }
        out
    }
}
