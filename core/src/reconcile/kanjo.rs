//! kanjo's own side of each source, read off the machine: what the outside file should say.

use std::collections::BTreeMap;

use kanjo_rules::LocalDate;

use super::files::day_key;
use super::matching::Expected;
use super::{Period, Source};
use crate::chart::Reason;
use crate::machine::Machine;

/// kanjo's items for `source` inside `period` (all when `None`).
pub fn expected(machine: &Machine, source: Source, period: Option<Period>) -> Vec<Expected> {
    match source {
        Source::Bank => bank_movements(machine, period),
        Source::Ic | Source::Operator => operator_days(machine, source, period),
    }
}

/// Top-ups (`deposit/{event id}`) and stablecoin redemptions (`withdrawal/{event id}`), summed
/// per event, dated by the local day kanjo booked them (the ledger's timestamp).
fn bank_movements(machine: &Machine, period: Option<Period>) -> Vec<Expected> {
    let programme = machine.programme();
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for transfer in machine.ledger().transfers() {
        let kind = match transfer.code {
            code if code == Reason::Topup as u16 || code == Reason::CoinIssue as u16 => "deposit",
            code if code == Reason::CoinRedemption as u16 => "withdrawal",
            _ => continue,
        };
        if let Some(period) = period {
            let booked = booked_day(programme, transfer.timestamp);
            if !period.contains(booked) {
                continue;
            }
        }
        let Some(id) = machine.event_id_of(transfer.user_data_128) else {
            continue; // every top-up leg names its event; nothing else carries these codes
        };
        *sums.entry(format!("{kind}/{id}")).or_default() += transfer.amount;
    }
    sums.into_iter()
        .map(|(reference, amount_yen)| Expected {
            reference,
            amount_yen,
            count: None,
        })
        .collect()
}

/// The local day of a ledger timestamp (ns since the epoch) in the programme's time zone.
pub fn booked_day(programme: &kanjo_rules::Programme, timestamp_ns: u64) -> LocalDate {
    let at = jiff::Timestamp::from_nanosecond(i128::from(timestamp_ns))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    programme.local_date(at)
}

/// Per operator and local day of the rides: IC fares owed (`ic`) or rides and fares (`operator`).
/// Days with nothing to report (no IC fares; no rides) are left out, as the files leave them out.
fn operator_days(machine: &Machine, source: Source, period: Option<Period>) -> Vec<Expected> {
    let programme = machine.programme();
    machine
        .operator_day_totals()
        .iter()
        .filter(|((_, day), _)| period.is_none_or(|p| p.contains(*day)))
        .filter_map(|((operator, day), totals)| {
            let reference = day_key(programme.operator_code(*operator), *day);
            match source {
                Source::Ic if totals.paid_ic > 0 => Some(Expected {
                    reference,
                    amount_yen: totals.paid_ic,
                    count: None,
                }),
                Source::Operator if totals.rides > 0 => Some(Expected {
                    reference,
                    amount_yen: totals.fares,
                    count: Some(totals.rides),
                }),
                _ => None,
            }
        })
        .collect()
}
