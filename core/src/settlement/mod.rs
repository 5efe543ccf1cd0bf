//! Period close (settlement) and payouts, issue 10. Pure: the engine logs each command
//! (`EntryKind::Settlement` 6, `EntryKind::Payout` 7) and replays it through the same functions.
//!
//! **Settlement** (`settle`): closes every open local day through a date. For each party it
//! works out what is owed per (day, source) from the machine's own reports, minus what earlier
//! settlements already took for that same (day, source):
//! - `operator:{op}`, JPY: the subsidy due per budget (`subsidy:{budget}`, from the operator
//!   day totals) and what `per_ride`/`flat` passes owe (`pass`); taken from
//!   `operator:{op}:subsidy`;
//! - `operator:{op}`, JPY: the IC clearing receivable (`ic_clearing`), what the IC clearing house
//!   owes the operator for the day's IC fares (`paid_ic` of the day totals); taken from the
//!   house's `clearing:ic:JPY` into `receivable:ic:{party}:JPY`. The house pays the operator
//!   itself, so a receivable is reported and reconciled (`kanjo reconcile --source ic`), never
//!   in the town's Zengin file or its payouts;
//! - `shop:{shop}`, per yen or points asset: the day's net (sales − fees − refunds, from the shop
//!   statement; points are what the town reimburses); taken from `shop:{shop}:{asset}`.
//! - `shop:{shop}`, per stablecoin with an issuing bank: the day's coin receipts less fees
//!   (`coin_net`, pot `coin_receipts`), which the bank pays out when the shop redeems them
//!   (`withdraw`). Computed and listed (`coin_receipts`) but not posted: they stay in the
//!   shop's coin account, since sweeping them would leave the shop nothing to redeem.
//!
//! Each party's amounts move in one linked chain (one leg per asset and pot, reason `settlement`,
//! `user_data_64` = the settlement number YYYYMMDD) into `payable:{party}:{asset}`, or for the
//! IC clearing receivable into `receivable:ic:{party}:{asset}`. A day at or
//! before an earlier settlement's date that still has something unsettled (an event that
//! arrived late) is settled now as an *adjustment* line naming its day; closed settlements never
//! change. A party whose unsettled total is not positive, or that its account can't pay (a
//! refund after the period left too little), is carried to the next settlement, named in
//! `carried`, and nothing of it is marked settled.
//!
//! **Payout** (`payout`): the bank confirmed paying (part of) a settlement's payable:
//! `payable:{party}:{asset}` → `payouts:{asset}` (reason `payout`). Payables only go down by
//! payouts, and never below zero (the payable account's own ledger limit).
//!
//! **Refunds after close** (`refunds`): what the shop's receipts can't cover the town advances
//! (`advance:{party}:{asset}`), never more than it still owes the shop unpaid; the next
//! settlement shows the refund as an adjustment naming the purchase's day and recovers the
//! advance from the shop's receipts (`refund_advance` lines, pot `refund_advance`).
//!
//! **Not before the day ends**: `through` may be at most the local date (programme time zone) of
//! the batch clock the command is applied under. The batch clock is logged with the batch, so a
//! replay decides the same; a date after it (`period_not_over`) would close days still to come.
//!
//! Idempotent: a settlement is named by its date (`settle-2026-11-30`); settling the same date
//! again answers the same settlement and posts nothing; a date before the last closed one is
//! `period_closed`. A payout id with the same body answers the first answer; another body is
//! `payout_id_conflict`.

pub mod payees;
pub mod payout_file;

use std::collections::BTreeMap;

use hashbrown::HashMap;
use kanjo_ledger::{AccountFlags, AccountId, AssetId, OwnerKind, Transfer};
use kanjo_rules::LocalDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3;

use crate::chart::{AccountName, AssetKindName, Reason};
use crate::machine::Machine;
use crate::machine::settle::FinanceAccount;

mod refunds;
pub use refunds::{REFUND_ADVANCE_SOURCE, REFUNDS_AFTER_CLOSE_MAX, RefundAfterClose};

/// Settlements a log may hold: one a day for 27 years.
pub const SETTLEMENTS_MAX: usize = 10_000;
/// Payout records a log may hold.
pub const PAYOUTS_MAX: usize = 1 << 20;
/// Bytes of a payout's bank reference.
pub const BANK_REFERENCE_BYTES_MAX: usize = 128;

/// `POST /v1/settlements`, `kanjo settle --through`: close every open day through `through`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleCommand {
    /// Local `YYYY-MM-DD` in the programme's time zone.
    pub through: String,
}

impl SettleCommand {
    /// Checked once, at the edge: a real calendar date with a four-digit year.
    pub fn parse(text: &str) -> Result<SettleCommand, FinanceRefusal> {
        let command: SettleCommand = serde_json::from_str(text)
            .map_err(|error| FinanceRefusal::BadSettlement(error.to_string()))?;
        command.check()?;
        Ok(command)
    }

    pub fn check(&self) -> Result<LocalDate, FinanceRefusal> {
        let date = LocalDate::parse(&self.through)
            .map_err(|error| FinanceRefusal::BadSettlement(format!("through: {error}")))?;
        if !(1..=9999).contains(&date.year) || date.to_string() != self.through {
            return Err(FinanceRefusal::BadSettlement(format!(
                "through must be YYYY-MM-DD, got {:?}",
                self.through
            )));
        }
        Ok(date)
    }

    /// The log entry's id: one settlement per date.
    pub fn id(&self) -> String {
        format!("settle-{}", self.through)
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a settle command serialises")
    }
}

/// `POST /v1/payouts`, `kanjo payout --confirm`: the bank paid this much of a payable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutCommand {
    pub id: String,
    /// The settlement whose payable was paid (`settle-2026-11-30`).
    pub settlement: String,
    /// `operator:{op}` or `shop:{shop}`.
    pub party: String,
    pub asset: String,
    pub amount_minor: u64,
    /// The bank's reference for the transfer, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_reference: Option<String>,
}

impl PayoutCommand {
    pub fn parse(text: &str) -> Result<PayoutCommand, FinanceRefusal> {
        let command: PayoutCommand = serde_json::from_str(text)
            .map_err(|error| FinanceRefusal::BadPayout(error.to_string()))?;
        command.check()?;
        Ok(command)
    }

    /// What the edge checks: ids as event references, a positive amount.
    pub fn check(&self) -> Result<(), FinanceRefusal> {
        for (field, value) in [
            ("id", &self.id),
            ("settlement", &self.settlement),
            ("party", &self.party),
            ("asset", &self.asset),
        ] {
            crate::limits::check_entry_id(value)
                .map_err(|error| FinanceRefusal::BadPayout(format!("{field}: {error}")))?;
            if value.chars().any(char::is_control) {
                return Err(FinanceRefusal::BadPayout(format!(
                    "{field} holds a control character"
                )));
            }
        }
        if self.amount_minor == 0
            || self.amount_minor > crate::chart::AMOUNT_PER_EVENT_CEILING_MINOR
        {
            return Err(FinanceRefusal::BadPayout(format!(
                "amount_minor must be 1..={}",
                crate::chart::AMOUNT_PER_EVENT_CEILING_MINOR
            )));
        }
        if let Some(reference) = &self.bank_reference
            && (reference.len() > BANK_REFERENCE_BYTES_MAX
                || reference.chars().any(char::is_control)
                || kanjo_privacy::contains_my_number(reference))
        {
            return Err(FinanceRefusal::BadPayout(format!(
                "bank_reference: at most {BANK_REFERENCE_BYTES_MAX} bytes, no control characters, no 12-digit number"
            )));
        }
        Ok(())
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a payout command serialises")
    }
}

/// Why a settlement or payout was refused; `code()` is the answer's stable code.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FinanceRefusal {
    #[error("bad settlement: {0}")]
    BadSettlement(String),
    #[error("bad payout: {0}")]
    BadPayout(String),
    #[error(
        "the period through {through} is closed: the last settlement runs through {closed_through}"
    )]
    PeriodClosed {
        through: String,
        closed_through: String,
    },
    #[error("the period through {through} is not over: it is {today} in the programme's time zone")]
    PeriodNotOver { through: String, today: String },
    #[error("no settlement {0}")]
    UnknownSettlement(String),
    #[error("settlement {settlement} has no {asset} payable for {party}")]
    NothingPayable {
        settlement: String,
        party: String,
        asset: String,
    },
    #[error(
        "payout of {amount_minor} exceeds what is still payable ({payable_minor}) for {party} {asset} in {settlement}"
    )]
    ExceedsPayable {
        settlement: String,
        party: String,
        asset: String,
        amount_minor: u64,
        payable_minor: u64,
    },
    #[error("payout {0} was already recorded with a different body; an id can't be reused")]
    IdConflict(String),
    #[error("the log holds {0} settlements or payouts, the most it may")]
    TooMany(usize),
}

impl FinanceRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            FinanceRefusal::BadSettlement(_) => "bad_settlement",
            FinanceRefusal::BadPayout(_) => "bad_payout",
            FinanceRefusal::PeriodClosed { .. } => "period_closed",
            FinanceRefusal::PeriodNotOver { .. } => "period_not_over",
            FinanceRefusal::UnknownSettlement(_) => "unknown_settlement",
            FinanceRefusal::NothingPayable { .. } => "nothing_payable",
            FinanceRefusal::ExceedsPayable { .. } => "payout_exceeds_payable",
            FinanceRefusal::IdConflict(_) => "payout_id_conflict",
            FinanceRefusal::TooMany(_) => "too_many_settlements",
        }
    }
}

/// One (party, asset, day, source) of a settlement. Amounts are signed: a day of refunds nets
/// below zero.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettlementLine {
    pub party: String,
    pub asset: String,
    /// Local `YYYY-MM-DD`: the day the money belongs to.
    pub day: String,
    /// `subsidy:{budget}`, `pass`, `ic_clearing` (the IC clearing receivable), `shop_net`,
    /// `coin_net` (coin receipts), and after a refund after close `refund` and `refund_advance`.
    pub source: String,
    pub amount_minor: i128,
    /// A day an earlier settlement had closed: an event that arrived late.
    pub adjustment: bool,
}

/// The line source of the IC clearing receivable.
pub const IC_CLEARING_SOURCE: &str = "ic_clearing";
/// The line source of a shop's stablecoin receipts less fees, which the issuing bank pays.
pub const COIN_NET_SOURCE: &str = "coin_net";

/// Where a settlement line's amount goes (`Pot::of_source`): into what the town owes the party,
/// what the IC clearing house owes it, back into the town's refund advance, or nowhere (coin
/// receipts, which the issuing bank pays).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pot {
    Payable,
    IcReceivable,
    /// Back into `advance:{party}:{asset}`: what the town advanced for refunds after close.
    RefundAdvance,
    /// Stays in `shop:{shop}:{coin}`: stablecoin receipts less fees, which the issuing bank
    /// pays out when the shop redeems them (`withdraw`). Computed and reported, never moved:
    /// sweeping them would leave the shop nothing to redeem.
    CoinReceipts,
}

impl Pot {
    /// As it is serialised (`ic_receivable`).
    pub fn name(self) -> &'static str {
        match self {
            Pot::Payable => "payable",
            Pot::IcReceivable => "ic_receivable",
            Pot::RefundAdvance => "refund_advance",
            Pot::CoinReceipts => "coin_receipts",
        }
    }

    pub fn of_source(source: &str) -> Pot {
        match source {
            IC_CLEARING_SOURCE => Pot::IcReceivable,
            REFUND_ADVANCE_SOURCE => Pot::RefundAdvance,
            COIN_NET_SOURCE => Pot::CoinReceipts,
            _ => Pot::Payable,
        }
    }
}

impl SettlementLine {
    pub fn pot(&self) -> Pot {
        Pot::of_source(&self.source)
    }
}

/// What a settlement moved to one party's payable in one asset; also its IC receivable, the
/// advance it recovered, or the coin receipts it listed (`Settlement`'s other lists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payable {
    pub party: String,
    pub asset: String,
    pub amount_minor: u64,
    /// `payable:{party}:{asset}`; `receivable:ic:{party}:{asset}`, `advance:{party}:{asset}` or
    /// `shop:{shop}:{asset}` in the other lists.
    pub account: String,
}

/// A party's unsettled amount that this settlement left for the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Carried {
    pub party: String,
    pub asset: String,
    /// Which of the party's amounts was carried.
    pub pot: Pot,
    pub amount_minor: i128,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// `settle-YYYY-MM-DD`.
    pub id: String,
    /// YYYYMMDD: `user_data_64` of every transfer it posted.
    pub number: u64,
    pub through: String,
    /// The date the previous settlement closed through; days after it and through `through`
    /// are this settlement's period, days at or before it its adjustments.
    pub previous_through: Option<String>,
    /// By party, asset, day, source.
    pub lines: Vec<SettlementLine>,
    /// By party, asset: what the town owes.
    pub payables: Vec<Payable>,
    /// By party, asset: what the IC clearing house owes operators for their IC fares.
    pub receivables: Vec<Payable>,
    /// By party, asset: what this settlement took from shops' receipts to repay the town's
    /// advances for refunds after close (`advance:{party}:{asset}`).
    pub advances_recovered: Vec<Payable>,
    /// By party, asset: the period's stablecoin receipts less fees, which the issuing bank pays
    /// the shop on redemption; they stay in `shop:{shop}:{coin}` (nothing is posted).
    pub coin_receipts: Vec<Payable>,
    pub carried: Vec<Carried>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PayoutRecord {
    pub id: String,
    pub settlement: String,
    pub party: String,
    pub asset: String,
    pub amount_minor: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_reference: Option<String>,
    /// What of the settlement's payable for this party and asset is still unpaid after it.
    pub remaining_minor: u64,
}

/// (party, asset, day, source).
type LineKey = (String, String, String, String);
/// (asset, pot): what one leg of a party's chain moves.
type Bucket = (String, Pot);

/// Replayed state: closed settlements, what each (day, source) has had settled, and payouts.
#[derive(Default)]
pub struct SettleBook {
    settlements: Vec<Settlement>,
    settled: BTreeMap<LineKey, i128>,
    payouts: Vec<PayoutRecord>,
    payout_index: HashMap<String, (usize, String)>,
    /// (settlement index, party, asset) → paid so far.
    paid: HashMap<(usize, String, String), u64>,
    /// Refunds after close, in the order they were accepted.
    refunds: Vec<RefundAfterClose>,
    /// Per settlement (same index): how many refunds after close were accepted before it.
    refunds_at_close: Vec<usize>,
}

impl SettleBook {
    pub fn settlements(&self) -> &[Settlement] {
        &self.settlements
    }

    pub fn settlement(&self, id: &str) -> Option<&Settlement> {
        self.settlements
            .iter()
            .find(|settlement| settlement.id == id)
    }

    pub fn payouts(&self) -> &[PayoutRecord] {
        &self.payouts
    }

    /// What of a settlement's payable is paid so far.
    pub fn paid_minor(&self, settlement: &str, party: &str, asset: &str) -> u64 {
        let Some(index) = self.settlements.iter().position(|s| s.id == settlement) else {
            return 0;
        };
        self.paid
            .get(&(index, party.to_owned(), asset.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The last closed date.
    pub fn closed_through(&self) -> Option<&str> {
        self.settlements.last().map(|s| s.through.as_str())
    }
}

/// Closes every open day through `command.through` (see the module docs).
pub fn settle(
    machine: &mut Machine,
    command: &SettleCommand,
) -> Result<Settlement, FinanceRefusal> {
    let through_date = command.check()?;
    let book = machine.settle_book();
    if let Some(existing) = book.settlement(&command.id()) {
        return Ok(existing.clone());
    }
    if let Some(closed) = book.closed_through()
        && command.through.as_str() < closed
    {
        return Err(FinanceRefusal::PeriodClosed {
            through: command.through.clone(),
            closed_through: closed.to_owned(),
        });
    }
    let today = machine
        .programme()
        .local_date(batch_instant(machine.clock_ns()));
    if through_date > today {
        return Err(FinanceRefusal::PeriodNotOver {
            through: command.through.clone(),
            today: today.to_string(),
        });
    }
    if book.settlements.len() >= SETTLEMENTS_MAX {
        return Err(FinanceRefusal::TooMany(book.settlements.len()));
    }
    let previous_through = book.closed_through().map(str::to_owned);
    let unsettled = unsettled_lines(machine, &command.through);
    let number = crate::shops::day_stamp(through_date);
    let id = command.id();
    let mut lines = Vec::new();
    let mut payables = Vec::new();
    let mut receivables = Vec::new();
    let mut advances_recovered = Vec::new();
    let mut coin_receipts = Vec::new();
    let mut carried = Vec::new();
    // Per party: its lines by asset and pot, posted as one chain.
    let mut by_party: BTreeMap<String, BTreeMap<Bucket, Vec<(LineKey, i128)>>> = BTreeMap::new();
    for (key, amount) in unsettled {
        let bucket = (key.1.clone(), Pot::of_source(&key.3));
        by_party
            .entry(key.0.clone())
            .or_default()
            .entry(bucket)
            .or_default()
            .push((key, amount));
    }
    for (party, buckets) in by_party {
        let posted = settle_party(machine, &id, number, &party, &buckets);
        for (bucket, outcome) in posted {
            let moved = match outcome {
                Ok(moved) => moved,
                Err(carry) => {
                    carried.push(carry);
                    continue;
                }
            };
            // Lines that net to zero (a refund after close against a later sale) are settled
            // too, with nothing to move: they belong to this period's statement.
            for (key, amount) in &buckets[&bucket] {
                *machine
                    .settle_book_mut()
                    .settled
                    .entry(key.clone())
                    .or_default() += amount;
                lines.push(SettlementLine {
                    party: key.0.clone(),
                    asset: key.1.clone(),
                    day: key.2.clone(),
                    source: key.3.clone(),
                    amount_minor: *amount,
                    adjustment: previous_through
                        .as_deref()
                        .is_some_and(|previous| key.2.as_str() <= previous),
                });
            }
            match bucket.1 {
                Pot::Payable => payables.extend(moved),
                Pot::IcReceivable => receivables.extend(moved),
                Pot::RefundAdvance => advances_recovered.extend(moved),
                Pot::CoinReceipts => coin_receipts.extend(moved),
            }
        }
    }
    // The period's days as closed, for its statements (late events must not change them).
    machine.keep_closed_days(number, previous_through.as_deref(), &command.through);
    let settlement = Settlement {
        id,
        number,
        through: command.through.clone(),
        previous_through,
        lines,
        payables,
        receivables,
        advances_recovered,
        coin_receipts,
        carried,
    };
    let book = machine.settle_book_mut();
    book.refunds_at_close.push(book.refunds.len());
    book.settlements.push(settlement.clone());
    Ok(settlement)
}

/// The batch clock as an instant (it is nanoseconds since the Unix epoch, which fits).
fn batch_instant(clock_ns: u64) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(i128::from(clock_ns)).unwrap_or(jiff::Timestamp::MAX)
}

/// The chain that moves a party's positive totals, one leg per (asset, pot): into its payables
/// and refund advances from its own account, into its IC receivable from the clearing house;
/// coin receipts are only listed. Per bucket: what moved, or why it was carried.
fn settle_party(
    machine: &mut Machine,
    settlement: &str,
    number: u64,
    party: &str,
    buckets: &BTreeMap<Bucket, Vec<(LineKey, i128)>>,
) -> Vec<(Bucket, Result<Option<Payable>, Carried>)> {
    let mut outcomes = Vec::new();
    let mut legs = Vec::new();
    let mut accounts = Vec::new();
    // What earlier legs of this chain already take from each source account.
    let mut committed: HashMap<AccountId, i128> = HashMap::new();
    for (bucket, lines) in buckets {
        let total: i128 = lines.iter().map(|(_, amount)| amount).sum();
        if bucket.1 == Pot::CoinReceipts {
            outcomes.push((bucket.clone(), coin_receipts(party, &bucket.0, total)));
            continue;
        }
        match plan_leg(machine, (settlement, party), bucket, total, &mut committed) {
            Ok(Some((mut leg, into))) => {
                leg.user_data_64 = number;
                leg.user_data_128 = crate::machine::event_id_hash(settlement);
                let moved = Payable {
                    party: party.to_owned(),
                    asset: bucket.0.clone(),
                    amount_minor: leg.amount,
                    account: into.name.clone(),
                };
                legs.push(leg);
                outcomes.push((bucket.clone(), Ok(Some(moved))));
                accounts.push(into);
            }
            Ok(None) => outcomes.push((bucket.clone(), Ok(None))),
            Err(reason) => {
                let carried = carry(party, bucket, total, reason);
                outcomes.push((bucket.clone(), Err(carried)));
            }
        }
    }
    for account in &accounts {
        machine.open_finance_account(account);
    }
    if let Err((leg, error)) = machine.post_finance_chain(&mut legs) {
        // Checked above against the balances; a refusal here carries the whole party.
        let reason = format!("the ledger refused leg {leg}: {error:?}");
        return outcomes
            .into_iter()
            .map(|(bucket, outcome)| {
                let amount = match &outcome {
                    Ok(moved) => moved.as_ref().map_or(0, |p| i128::from(p.amount_minor)),
                    Err(carried) => carried.amount_minor,
                };
                let carried = carry(party, &bucket, amount, reason.clone());
                (bucket, Err(carried))
            })
            .collect();
    }
    outcomes
}

/// A shop's coin receipts: reported where they stay, or carried while refunds exceed sales.
fn coin_receipts(party: &str, asset: &str, total: i128) -> Result<Option<Payable>, Carried> {
    match u64::try_from(total) {
        Ok(0) => Ok(None),
        Ok(amount) => {
            let shop = party.strip_prefix("shop:").unwrap_or(party);
            Ok(Some(Payable {
                party: party.to_owned(),
                asset: asset.to_owned(),
                amount_minor: amount,
                account: AccountName::Shop { shop, asset }.to_string(),
            }))
        }
        Err(_) => Err(carry(
            party,
            &(asset.to_owned(), Pot::CoinReceipts),
            total,
            "nothing positive to pay".to_owned(),
        )),
    }
}

fn carry(party: &str, bucket: &Bucket, amount_minor: i128, reason: String) -> Carried {
    Carried {
        party: party.to_owned(),
        asset: bucket.0.clone(),
        pot: bucket.1,
        amount_minor,
        reason,
    }
}

/// One bucket's leg and the account it moves into; `None` when the total is zero, `Err(reason)`
/// when it can't move now (not positive, or more than its source holds).
fn plan_leg(
    machine: &Machine,
    (settlement, party): (&str, &str),
    (asset, pot): &Bucket,
    total: i128,
    committed: &mut HashMap<AccountId, i128>,
) -> Result<Option<(Transfer, FinanceAccount)>, String> {
    let Some((asset_id, _)) = machine.assets().get(asset) else {
        return Err("unknown asset".to_owned());
    };
    let amount = match u64::try_from(total) {
        Ok(0) => return Ok(None),
        Ok(amount) => amount,
        Err(_) => return Err("nothing positive to pay".to_owned()),
    };
    let ledger = machine.ledger();
    let leg = match pot {
        Pot::Payable | Pot::RefundAdvance => {
            let source = party_account(party, asset);
            let held = ledger
                .account(source)
                .map_or(0, |account| account.credit_balance_posted());
            let taken = committed.entry(source).or_default();
            if i128::from(amount) > held - *taken {
                return Err("the account holds less than is due".to_owned());
            }
            *taken += i128::from(amount);
            let (into, id) = if *pot == Pot::Payable {
                let id = transfer_id(settlement, party, asset);
                (payable_account(party, asset, asset_id), id)
            } else {
                let id = transfer_id(settlement, party, &format!("advance:{asset}"));
                (advance_account(party, asset, asset_id), id)
            };
            let leg = Transfer::new(
                id,
                source,
                into.id,
                amount,
                asset_id,
                Reason::Settlement as u16,
            );
            (leg, into)
        }
        Pot::CoinReceipts => unreachable!("coin receipts are listed, never moved"),
        Pot::IcReceivable => {
            let clearing = AccountName::IcClearing.id();
            let owed = ledger
                .account(clearing)
                .map_or(0, |account| -account.credit_balance_posted());
            if i128::from(amount) > owed {
                return Err("the IC clearing house owes less than is due".to_owned());
            }
            let into = ic_receivable_account(party, asset, asset_id);
            let id = transfer_id(settlement, party, &format!("ic:{asset}"));
            let leg = Transfer::new(
                id,
                into.id,
                clearing,
                amount,
                asset_id,
                Reason::Settlement as u16,
            );
            (leg, into)
        }
    };
    Ok(Some(leg))
}

/// Every (party, asset, day ≤ through, source) with an amount not yet settled.
fn unsettled_lines(machine: &Machine, through: &str) -> Vec<(LineKey, i128)> {
    let mut owed: BTreeMap<LineKey, i128> = BTreeMap::new();
    for day in crate::report::operator_days(machine) {
        if day.date.as_str() > through {
            continue;
        }
        for (budget, amount) in &day.subsidy_due {
            let key = (
                format!("operator:{}", day.operator),
                crate::chart::YEN.to_owned(),
                day.date.clone(),
                format!("subsidy:{budget}"),
            );
            *owed.entry(key).or_default() += i128::from(*amount);
        }
        if day.paid_ic > 0 {
            let key = (
                format!("operator:{}", day.operator),
                crate::chart::YEN.to_owned(),
                day.date.clone(),
                IC_CLEARING_SOURCE.to_owned(),
            );
            *owed.entry(key).or_default() += i128::from(day.paid_ic);
        }
    }
    let programme = machine.programme();
    // Flat prices only: a per-ride pass's fares are in the day totals above, as its budget's subsidy.
    for (&(operator, date), &amount) in machine.passes().flat_owed_per_operator_day() {
        let date = date.to_string();
        if date.as_str() > through {
            continue;
        }
        let key = (
            format!("operator:{}", programme.operator_code(operator)),
            crate::chart::YEN.to_owned(),
            date,
            "pass".to_owned(),
        );
        *owed.entry(key).or_default() += i128::from(amount);
    }
    for day in crate::report::shop_report(machine).days {
        let source = match machine.assets().get(&day.asset) {
            Some((_, spec)) if matches!(spec.kind, AssetKindName::Yen | AssetKindName::Points) => {
                "shop_net"
            }
            Some((_, spec)) if spec.issuing_bank().is_some() => COIN_NET_SOURCE,
            _ => continue,
        };
        if day.date == "?" || day.date.as_str() > through {
            continue;
        }
        let key = (
            format!("shop:{}", day.shop),
            day.asset.clone(),
            day.date.clone(),
            source.to_owned(),
        );
        *owed.entry(key).or_default() += day.net_minor;
    }
    let book = machine.settle_book();
    for refund in &book.refunds {
        if refund.refund_day.as_str() > through {
            continue;
        }
        for (key, amount) in refund.lines() {
            *owed.entry(key).or_default() += amount;
        }
    }
    let settled = &book.settled;
    owed.into_iter()
        .filter_map(|(key, amount)| {
            let left = amount - settled.get(&key).copied().unwrap_or(0);
            (left != 0).then_some((key, left))
        })
        .collect()
}

/// The account a party's settled amounts come from.
pub fn party_account(party: &str, asset: &str) -> AccountId {
    if let Some(operator) = party.strip_prefix("operator:") {
        return AccountName::OperatorSubsidy { operator }.id();
    }
    let shop = party.strip_prefix("shop:").unwrap_or(party);
    AccountName::Shop { shop, asset }.id()
}

/// `payable:{party}:{asset}`: what the town owes the party (credit balance). Can never go
/// negative: payouts take at most what was settled.
pub fn payable_account_id(party: &str, asset: &str) -> AccountId {
    finance_account_id("payable", party, asset)
}

fn payable_account(party: &str, asset: &str, asset_id: AssetId) -> FinanceAccount {
    let flags = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::HISTORY;
    party_finance_account("payable", (party, asset, asset_id), flags)
}

/// `advance:{party}:{asset}`: what the town advanced a shop for refunds after close and has not
/// recovered from its receipts yet (debit balance). Can never go into credit.
pub fn advance_account_id(party: &str, asset: &str) -> AccountId {
    finance_account_id("advance", party, asset)
}

pub(crate) fn advance_account(party: &str, asset: &str, asset_id: AssetId) -> FinanceAccount {
    let flags = AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags::HISTORY;
    party_finance_account("advance", (party, asset, asset_id), flags)
}

/// `receivable:ic:{party}:{asset}`: what the IC clearing house owes the party for settled days
/// (debit balance). Can never go into credit.
pub fn ic_receivable_account_id(party: &str, asset: &str) -> AccountId {
    finance_account_id("receivable:ic", party, asset)
}

fn ic_receivable_account(party: &str, asset: &str, asset_id: AssetId) -> FinanceAccount {
    let flags = AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags::HISTORY;
    party_finance_account("receivable:ic", (party, asset, asset_id), flags)
}

/// `{kind}:{party}:{asset}`, owned by the operator or shop the party names.
fn party_finance_account(
    kind: &str,
    (party, asset, asset_id): (&str, &str, AssetId),
    flags: AccountFlags,
) -> FinanceAccount {
    FinanceAccount {
        id: finance_account_id(kind, party, asset),
        name: format!("{kind}:{party}:{asset}"),
        asset: asset_id,
        owner: if party.starts_with("operator:") {
            OwnerKind::Operator
        } else {
            OwnerKind::Shop
        },
        flags,
    }
}

/// `payouts:{asset}`: what the town's bank paid out on payables (debit balance).
fn payouts_account(asset: &str, asset_id: AssetId) -> FinanceAccount {
    FinanceAccount {
        id: finance_account_id("payouts", "", asset),
        name: format!("payouts:{asset}"),
        asset: asset_id,
        owner: OwnerKind::System,
        flags: AccountFlags::HISTORY,
    }
}

/// Length-prefixed parts, as `AccountName::id` hashes them; the first parts differ from every
/// chart account's, so these can't collide with one.
fn finance_account_id(kind: &str, party: &str, asset: &str) -> AccountId {
    let mut hasher = Xxh3::new();
    for text in [kind, party, asset] {
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher.digest128()
}

fn transfer_id(command: &str, party: &str, asset: &str) -> u128 {
    finance_account_id(command, party, asset)
}

/// Records a payout the bank confirmed (see the module docs).
pub fn payout(
    machine: &mut Machine,
    command: &PayoutCommand,
) -> Result<PayoutRecord, FinanceRefusal> {
    command.check()?;
    let body = command.canonical_json();
    let book = machine.settle_book();
    if let Some((index, first_body)) = book.payout_index.get(&command.id) {
        if *first_body == body {
            return Ok(book.payouts[*index].clone());
        }
        return Err(FinanceRefusal::IdConflict(command.id.clone()));
    }
    if book.payouts.len() >= PAYOUTS_MAX {
        return Err(FinanceRefusal::TooMany(book.payouts.len()));
    }
    let Some(index) = book
        .settlements
        .iter()
        .position(|s| s.id == command.settlement)
    else {
        return Err(FinanceRefusal::UnknownSettlement(
            command.settlement.clone(),
        ));
    };
    let settlement = &book.settlements[index];
    let Some(payable) = settlement
        .payables
        .iter()
        .find(|p| p.party == command.party && p.asset == command.asset)
    else {
        return Err(FinanceRefusal::NothingPayable {
            settlement: command.settlement.clone(),
            party: command.party.clone(),
            asset: command.asset.clone(),
        });
    };
    let key = (index, command.party.clone(), command.asset.clone());
    let paid = book.paid.get(&key).copied().unwrap_or(0);
    let left = payable.amount_minor - paid;
    if command.amount_minor > left {
        return Err(FinanceRefusal::ExceedsPayable {
            settlement: command.settlement.clone(),
            party: command.party.clone(),
            asset: command.asset.clone(),
            amount_minor: command.amount_minor,
            payable_minor: left,
        });
    }
    let number = settlement.number;
    let (asset_id, _) = machine
        .assets()
        .get(&command.asset)
        .expect("a settled asset is in the book");
    let payouts = payouts_account(&command.asset, asset_id);
    machine.open_finance_account(&payouts);
    let mut leg = Transfer::new(
        transfer_id(&command.id, "payout", &command.asset),
        payable_account_id(&command.party, &command.asset),
        payouts.id,
        command.amount_minor,
        asset_id,
        Reason::Payout as u16,
    );
    leg.user_data_64 = number;
    leg.user_data_128 = crate::machine::event_id_hash(&command.id);
    let mut legs = [leg];
    if let Err((_, error)) = machine.post_finance_chain(&mut legs) {
        // Paid ≤ settled is checked above, so the payable holds it: a refusal here is a bug.
        return Err(FinanceRefusal::BadPayout(format!(
            "the ledger refused it: {error:?}"
        )));
    }
    let record = PayoutRecord {
        id: command.id.clone(),
        settlement: command.settlement.clone(),
        party: command.party.clone(),
        asset: command.asset.clone(),
        amount_minor: command.amount_minor,
        bank_reference: command.bank_reference.clone(),
        remaining_minor: left - command.amount_minor,
    };
    let book = machine.settle_book_mut();
    *book.paid.entry(key).or_default() += command.amount_minor;
    book.payout_index
        .insert(command.id.clone(), (book.payouts.len(), body));
    book.payouts.push(record.clone());
    Ok(record)
}

/// A settlement or payout as the engine logs it (`EntryKind::Settlement` / `Payout`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinanceCommand {
    Settle(SettleCommand),
    Payout(PayoutCommand),
}

/// What a finance command answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FinanceAnswer {
    Settled(Settlement),
    Paid(PayoutRecord),
}

pub type FinanceResult = Result<FinanceAnswer, FinanceRefusal>;

impl FinanceCommand {
    /// The log entry's id: the settlement's (one per date) or the payout's.
    pub fn entry_id(&self) -> String {
        match self {
            FinanceCommand::Settle(command) => command.id(),
            FinanceCommand::Payout(command) => command.id.clone(),
        }
    }

    pub fn canonical_json(&self) -> String {
        match self {
            FinanceCommand::Settle(command) => command.canonical_json(),
            FinanceCommand::Payout(command) => command.canonical_json(),
        }
    }

    /// Applies it to the machine: the same call live and in replay.
    pub fn apply(&self, machine: &mut Machine) -> FinanceResult {
        match self {
            FinanceCommand::Settle(command) => settle(machine, command).map(FinanceAnswer::Settled),
            FinanceCommand::Payout(command) => payout(machine, command).map(FinanceAnswer::Paid),
        }
    }
}
