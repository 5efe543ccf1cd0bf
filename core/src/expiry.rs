//! `kanjo report expiry`: what of a points asset will lapse in the coming days, per day, so a
//! town can warn residents before their points lapse (issue 9).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::machine::Machine;

/// The longest look ahead: a year and a bit covers any fiscal-year asset.
pub const EXPIRY_REPORT_DAYS_MAX: u32 = 400;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExpiryReport {
    pub asset: String,
    pub from: String,
    pub within_days: u32,
    pub days: Vec<ExpiryDay>,
    pub total_minor: u64,
}

/// Lots whose last usable day (local time) is `last_day`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExpiryDay {
    pub last_day: String,
    pub amount_minor: u64,
}

/// What of `asset` stops paying in `[from, from + within_days × 24 h]`, per local last usable day.
pub fn expiry_report(
    machine: &Machine,
    asset: &str,
    from: Timestamp,
    within_days: u32,
) -> Result<ExpiryReport, String> {
    let Some((asset_id, _)) = machine.assets().get(asset) else {
        return Err(format!("no asset {asset:?} in this programme"));
    };
    if !(1..=EXPIRY_REPORT_DAYS_MAX).contains(&within_days) {
        return Err(format!(
            "--within-days must be 1..={EXPIRY_REPORT_DAYS_MAX}, not {within_days}"
        ));
    }
    let from_ns = from.as_nanosecond();
    let until_ns = from_ns + i128::from(within_days) * 86_400 * 1_000_000_000;
    let timezone = machine.programme().timezone().clone();
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for (ends_ns, amount) in machine.lots_ending(asset_id, from_ns, until_ns) {
        // A lot ending at 00:00 pays through the day before: that is its last day.
        let last = Timestamp::from_nanosecond(ends_ns - 1).unwrap_or(from);
        let day = timezone.to_datetime(last).date().to_string();
        *days.entry(day).or_default() += amount;
    }
    let total_minor = days.values().sum();
    Ok(ExpiryReport {
        asset: asset.to_owned(),
        from: from.to_string(),
        within_days,
        days: days
            .into_iter()
            .map(|(last_day, amount_minor)| ExpiryDay {
                last_day,
                amount_minor,
            })
            .collect(),
        total_minor,
    })
}

impl ExpiryReport {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} 失効予定 (lapsing within {} days of {})",
            self.asset, self.within_days, self.from
        );
        let _ = writeln!(out, "{:<12} {:>16}", "最終利用日", "失効額 amount");
        for day in &self.days {
            let _ = writeln!(out, "{:<12} {:>16}", day.last_day, day.amount_minor);
        }
        let _ = writeln!(out, "{:<12} {:>16}", "合計 total", self.total_minor);
        out
    }
}
