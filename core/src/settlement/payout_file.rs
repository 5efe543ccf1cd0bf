//! The Zengin payout file of a settlement (issue 10): one 全銀協 総合振込 file paying every party
//! what is still unpaid of its payables in yen (payable − payouts so far): its JPY
//! payable and its town-points payables, which the town reimburses at ¥1 a point (only assets
//! whose unit is ¥1 pay at shops, `shops::spend_group`). One record per party, the sum of both.
//! Stablecoins are never payables (the issuing bank redeems them), and an IC receivable is paid
//! by the clearing house, not the town.
//!
//! Read-only: it reads the settlement book, the programme's `[payer]` and `[[payees]]` and the
//! shops' `bank` details, and writes nothing to the log. Recording that the bank paid is
//! `kanjo payout --confirm` (`PayoutCommand`), after the bank confirms the transfer.
//!
//! Every payee is checked before anything is written: a file with any bad or missing bank
//! details is refused whole, naming every bad payee. The trailer's total is asserted to equal
//! Σ unpaid yen payables before the bytes are returned.

use kanjo_rules::LocalDate;
use kanjo_zengin::{BuildError, Payee, PayeeReference, Remitter, SogoFurikomi, TransferDate};
use serde::Serialize;
use thiserror::Error;

use crate::chart::AssetKindName;
use crate::machine::Machine;
use crate::shops::BankDetails;

/// A payee whose bank details can't go into the file, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadPayee {
    /// `operator:{op}` or `shop:{shop}`; `payer` for the town's own account.
    pub party: String,
    pub problems: Vec<String>,
}

/// Why no payout file was written.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PayoutFileError {
    #[error("no settlement {0}")]
    UnknownSettlement(String),
    #[error("settlement {0} has no unpaid yen or points payable: there is nothing to transfer")]
    NothingToPay(String),
    #[error(
        "the programme has no [payer] (the town's paying account: code, name_kana, bank), which the file's header needs"
    )]
    NoPayer,
    #[error("bad or missing bank details, no file written: {}", describe(.0))]
    BadBankDetails(Vec<BadPayee>),
    #[error("振込指定日 (transfer_date) {0}")]
    BadTransferDate(String),
    #[error("the file can't hold this batch: {0}")]
    TooLarge(String),
}

impl PayoutFileError {
    pub fn code(&self) -> &'static str {
        match self {
            PayoutFileError::UnknownSettlement(_) => "unknown_settlement",
            PayoutFileError::NothingToPay(_) => "nothing_to_pay",
            PayoutFileError::NoPayer => "no_payer",
            PayoutFileError::BadBankDetails(_) => "bad_bank_details",
            PayoutFileError::BadTransferDate(_) => "bad_transfer_date",
            PayoutFileError::TooLarge(_) => "payout_file_too_large",
        }
    }
}

fn describe(bad: &[BadPayee]) -> String {
    bad.iter()
        .map(|payee| format!("{}: {}", payee.party, payee.problems.join("; ")))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// How long after the settled period a transfer may be dated: the file carries only the month
/// and day (MMDD), so a later date would read as one within the year.
pub const TRANSFER_DATE_DAYS_AFTER_PERIOD_MAX: i32 = 365;

/// One party the file pays: the yen still unpaid of its payables, and of which asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpaid {
    pub party: String,
    pub amount_yen: u64,
    /// (asset, unpaid minor units = yen), in the settlement's order; each more than zero.
    pub by_asset: Vec<(String, u64)>,
}

/// Whether a payable in `asset` is paid by bank transfer at ¥1 a unit: yen, and town points
/// (their unit is ¥1 whenever they can pay at a shop; only scale 0 can).
pub fn paid_in_yen(machine: &Machine, asset: &str) -> bool {
    machine.assets().get(asset).is_some_and(|(_, spec)| {
        spec.scale == 0 && matches!(spec.kind, AssetKindName::Yen | AssetKindName::Points)
    })
}

/// What of the settlement's yen and points payables is still unpaid, per party, in the
/// settlement's order.
pub fn unpaid_yen(machine: &Machine, settlement_id: &str) -> Result<Vec<Unpaid>, PayoutFileError> {
    let book = machine.settle_book();
    let settlement = book
        .settlement(settlement_id)
        .ok_or_else(|| PayoutFileError::UnknownSettlement(settlement_id.to_owned()))?;
    let mut parties: Vec<Unpaid> = Vec::new();
    for payable in &settlement.payables {
        if !paid_in_yen(machine, &payable.asset) {
            continue;
        }
        // Payouts lower what is left to pay (and nothing else does).
        let left = book.unpaid_minor(settlement_id, &payable.party, &payable.asset);
        if left == 0 {
            continue;
        }
        let at = match parties.iter().position(|p| p.party == payable.party) {
            Some(at) => at,
            None => {
                parties.push(Unpaid {
                    party: payable.party.clone(),
                    amount_yen: 0,
                    by_asset: Vec::new(),
                });
                parties.len() - 1
            }
        };
        let party = &mut parties[at];
        party.amount_yen = party.amount_yen.checked_add(left).ok_or_else(|| {
            PayoutFileError::TooLarge(format!("{} is owed more than u64 yen", party.party))
        })?;
        party.by_asset.push((payable.asset.clone(), left));
    }
    Ok(parties)
}

/// The 総合振込 file paying what is unpaid of settlement `settlement_id`'s yen payables on
/// `transfer_date` (振込指定日; the file holds its month and day).
pub fn payout_file(
    machine: &Machine,
    settlement_id: &str,
    transfer_date: LocalDate,
) -> Result<Vec<u8>, PayoutFileError> {
    let unpaid = unpaid_yen(machine, settlement_id)?;
    let settlement = machine
        .settle_book()
        .settlement(settlement_id)
        .expect("unpaid_yen found it");
    if transfer_date.to_string().as_str() < settlement.through.as_str() {
        return Err(PayoutFileError::BadTransferDate(format!(
            "{transfer_date} is before the settled period ends ({})",
            settlement.through
        )));
    }
    let latest = LocalDate::parse(&settlement.through)
        .ok()
        .and_then(|through| through.add_days(TRANSFER_DATE_DAYS_AFTER_PERIOD_MAX));
    if latest.is_some_and(|latest| transfer_date > latest) {
        return Err(PayoutFileError::BadTransferDate(format!(
            "{transfer_date} is more than {TRANSFER_DATE_DAYS_AFTER_PERIOD_MAX} days after the settled period ends ({}): the file carries only its month and day",
            settlement.through
        )));
    }
    let date = TransferDate::new(transfer_date.month, transfer_date.day)
        .map_err(|error| PayoutFileError::BadTransferDate(error.to_string()))?;
    if unpaid.is_empty() {
        return Err(PayoutFileError::NothingToPay(settlement_id.to_owned()));
    }
    let remitter = remitter(machine)?;
    let reference = PayeeReference::Edi(format!("KANJO {}", settlement.number));
    let mut payees = Vec::with_capacity(unpaid.len());
    let mut bad = Vec::new();
    for owed in &unpaid {
        match payee(machine, owed, &reference) {
            Ok(payee) => payees.push(payee),
            Err(problems) => bad.push(BadPayee {
                party: owed.party.clone(),
                problems,
            }),
        }
    }
    if !bad.is_empty() {
        return Err(PayoutFileError::BadBankDetails(bad));
    }
    let file = SogoFurikomi::build(&remitter, date, &payees).map_err(build_error)?;
    let total_yen: u64 = unpaid.iter().map(|owed| owed.amount_yen).sum();
    // The file pays exactly what is unpaid: one record per party, the trailer = Σ unpaid.
    assert_eq!(file.trailer().record_count, unpaid.len() as u64);
    assert_eq!(file.trailer().total_yen, total_yen);
    Ok(file.to_bytes())
}

/// The header's account, from `[payer]`.
fn remitter(machine: &Machine) -> Result<Remitter, PayoutFileError> {
    let payer = machine.assets().payer().ok_or(PayoutFileError::NoPayer)?;
    Ok(Remitter {
        code: payer.code.clone(),
        name_kana: zengin_kana(&payer.name_kana),
        bank_code: payer.bank.bank_code.clone(),
        bank_name_kana: zengin_kana(&payer.bank.bank_name_kana),
        branch_code: payer.bank.branch_code.clone(),
        branch_name_kana: zengin_kana(&payer.bank.branch_name_kana),
        account_type: payer.bank.account_type.zengin_digit(),
        account_number: payer.bank.account_number.clone(),
    })
}

/// A party's record, or every problem with its bank details. Shops: the shop's `bank` and
/// `name_kana`; operators: their `[[payees]]` table.
fn payee(
    machine: &Machine,
    owed: &Unpaid,
    reference: &PayeeReference,
) -> Result<Payee, Vec<String>> {
    let (name_kana, bank): (&str, Option<&BankDetails>) =
        if let Some(shop) = owed.party.strip_prefix("shop:") {
            let spec = machine
                .shop(shop)
                .ok_or_else(|| vec!["no such shop".to_owned()])?;
            (&spec.name_kana, spec.bank.as_ref())
        } else {
            let spec = machine
                .assets()
                .payees()
                .iter()
                .find(|payee| payee.party == owed.party)
                .ok_or_else(|| vec!["no [[payees]] table with its bank details".to_owned()])?;
            (&spec.name_kana, Some(&spec.bank))
        };
    let bank = bank.ok_or_else(|| vec!["no bank details (`bank`)".to_owned()])?;
    // Checked when the shop or programme was accepted; checked again, as a shop record logged
    // before bank details were validated could hold anything.
    let mut problems = bank.problems();
    if let Err(problem) = crate::shops::check_kana(name_kana, crate::shops::NAME_KANA_CHARS_MAX) {
        problems.push(format!("`name_kana` {problem}"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Payee {
        display_name: owed.party.clone(),
        bank_code: bank.bank_code.clone(),
        bank_name_kana: zengin_kana(&bank.bank_name_kana),
        branch_code: bank.branch_code.clone(),
        branch_name_kana: zengin_kana(&bank.branch_name_kana),
        account_type: bank.account_type.zengin_digit(),
        account_number: bank.account_number.clone(),
        account_holder_kana: zengin_kana(name_kana),
        amount_yen: owed.amount_yen,
        reference: reference.clone(),
        transfer_method: kanjo_zengin::TransferMethod::BankDefault,
    })
}

/// Half-width kana as registered → the Zengin set (small kana as large, ｰ as -). What can't be
/// converted is left in place for the file's own validation to name.
fn zengin_kana(text: &str) -> String {
    let converted = kanjo_zengin::to_zengin_kana(text);
    if converted.is_complete() {
        converted.kana
    } else {
        text.to_owned()
    }
}

fn build_error(error: BuildError) -> PayoutFileError {
    match error {
        BuildError::Invalid { remitter, payees } => {
            let mut bad: Vec<BadPayee> = payees
                .into_iter()
                .map(|rejection| BadPayee {
                    party: rejection.display_name,
                    problems: rejection.errors.iter().map(ToString::to_string).collect(),
                })
                .collect();
            if !remitter.is_empty() {
                bad.insert(
                    0,
                    BadPayee {
                        party: "payer".to_owned(),
                        problems: remitter.iter().map(ToString::to_string).collect(),
                    },
                );
            }
            PayoutFileError::BadBankDetails(bad)
        }
        BuildError::NoPayees => unreachable!("checked: at least one party is unpaid"),
        other => PayoutFileError::TooLarge(other.to_string()),
    }
}

/// `--transfer-date` / `?transfer_date=`: a real `YYYY-MM-DD` with a four-digit year.
pub fn parse_transfer_date(text: &str) -> Result<LocalDate, PayoutFileError> {
    let bad = |why: String| PayoutFileError::BadTransferDate(why);
    let date = LocalDate::parse(text).map_err(|error| bad(error.to_string()))?;
    if !(1..=9999).contains(&date.year) || date.to_string() != text {
        return Err(bad(format!("must be YYYY-MM-DD, got {text:?}")));
    }
    Ok(date)
}

/// The default 振込指定日: the next local day after `now` in the programme's time zone, the
/// earliest a bank takes a file uploaded today. The caller reads the clock.
pub fn default_transfer_date(machine: &Machine, now: jiff::Timestamp) -> LocalDate {
    let today = machine.programme().local_date(now);
    today.add_days(1).unwrap_or(today)
}
