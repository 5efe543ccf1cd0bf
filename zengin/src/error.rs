//! Typed errors. Every error has a stable snake_case `code()` and a message that names the
//! field by its published name and, for payees, the payee by its display name.

use crate::layout::FieldSpec;
use std::fmt::Write as _;

/// One field that can't be written as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{field}: must be exactly {} digits 0-9, got {got:?}", .field.width)]
    NotExactDigits { field: FieldSpec, got: String },
    #[error("{field}: must be 1 to {} digits 0-9, got {got:?}", .field.width)]
    NotDigitsUpTo { field: FieldSpec, got: String },
    #[error("{field}: must not be empty")]
    Empty { field: FieldSpec },
    #[error("{field}: {len} characters, more than the {} the field holds", .field.width)]
    TooLong { field: FieldSpec, len: usize },
    #[error(
        "{field}: {} not in the Zengin half-width set (ｱ-ﾝ ﾞ ﾟ A-Z 0-9 space ( ) , - . / \\ ｢ ｣)",
        quote_chars(.chars)
    )]
    NotZenginChars { field: FieldSpec, chars: Vec<char> },
    #[error("{field}: deposit type {got} is not one of {allowed}")]
    BadAccountType {
        field: FieldSpec,
        got: u8,
        allowed: &'static str,
    },
    #[error("{field}: a transfer must be at least ¥1")]
    AmountZero { field: FieldSpec },
    #[error("{field}: ¥{amount_yen} does not fit the field's {} digits", .field.width)]
    AmountTooLarge { field: FieldSpec, amount_yen: u64 },
}

impl FieldError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotExactDigits { .. } => "not_exact_digits",
            Self::NotDigitsUpTo { .. } => "not_digits_up_to",
            Self::Empty { .. } => "empty",
            Self::TooLong { .. } => "too_long",
            Self::NotZenginChars { .. } => "not_zengin_chars",
            Self::BadAccountType { .. } => "bad_account_type",
            Self::AmountZero { .. } => "amount_zero",
            Self::AmountTooLarge { .. } => "amount_too_large",
        }
    }

    pub const fn field(&self) -> FieldSpec {
        match self {
            Self::NotExactDigits { field, .. }
            | Self::NotDigitsUpTo { field, .. }
            | Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::NotZenginChars { field, .. }
            | Self::BadAccountType { field, .. }
            | Self::AmountZero { field }
            | Self::AmountTooLarge { field, .. } => *field,
        }
    }
}

/// A payee whose bank details or amount can't be written, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payee #{index} {display_name:?}: {}", join(.errors))]
pub struct PayeeRejection {
    /// Position in the batch the caller passed (0-based).
    pub index: usize,
    pub display_name: String,
    pub errors: Vec<FieldError>,
}

/// Why a batch was refused. Nothing is written for a refused batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("no payees: a 総合振込 file holds at least one data record")]
    NoPayees,
    #[error("{count} payees, more than the {max} one file can count")]
    TooManyPayees { count: usize, max: usize },
    /// Every problem of the remitter and of every payee, found in one pass.
    #[error("{}", invalid_message(.remitter, .payees))]
    Invalid {
        remitter: Vec<FieldError>,
        payees: Vec<PayeeRejection>,
    },
    #[error("total ¥{total_yen} does not fit the trailer's 12-digit 合計金額 (max ¥{max_yen})")]
    TotalTooLarge { total_yen: u128, max_yen: u64 },
}

impl BuildError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoPayees => "no_payees",
            Self::TooManyPayees { .. } => "too_many_payees",
            Self::Invalid { .. } => "invalid_fields",
            Self::TotalTooLarge { .. } => "total_too_large",
        }
    }
}

/// The transfer date is not a month and day of the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("振込指定日 (transfer_date): month {month} day {day} is not a calendar date")]
pub struct BadTransferDate {
    pub month: u8,
    pub day: u8,
}

impl BadTransferDate {
    pub const fn code(&self) -> &'static str {
        "bad_transfer_date"
    }
}

/// Why a file does not read as a 総合振込 file. `record` numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error(
        "file is {len_bytes} bytes, more than the {max_bytes} a file of at most {max_records} payees takes"
    )]
    TooLarge {
        len_bytes: usize,
        max_bytes: usize,
        max_records: usize,
    },
    #[error(
        "file is {len_bytes} bytes, not a whole number of 120-byte records each followed by CR LF"
    )]
    NotWholeRecords { len_bytes: usize },
    #[error("record {record}: does not end with CR LF after its 120 bytes")]
    MissingCrLf { record: usize },
    #[error("record {record}: データ区分 {found:?}, expected {expected}")]
    UnexpectedRecord {
        record: usize,
        found: char,
        expected: &'static str,
    },
    #[error("file ends after record {records} without {missing}")]
    Incomplete {
        records: usize,
        missing: &'static str,
    },
    #[error("record {record} {field}: {problem}")]
    BadField {
        record: usize,
        field: FieldSpec,
        problem: String,
    },
    #[error("trailer 合計件数 says {trailer} data records, the file has {actual}")]
    CountMismatch { trailer: u64, actual: u64 },
    #[error("trailer 合計金額 says ¥{trailer_yen}, the data records add up to ¥{actual_yen}")]
    TotalMismatch { trailer_yen: u64, actual_yen: u64 },
}

impl ReadError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::NotWholeRecords { .. } => "not_whole_records",
            Self::MissingCrLf { .. } => "missing_crlf",
            Self::UnexpectedRecord { .. } => "unexpected_record",
            Self::Incomplete { .. } => "incomplete",
            Self::BadField { .. } => "bad_field",
            Self::CountMismatch { .. } => "count_mismatch",
            Self::TotalMismatch { .. } => "total_mismatch",
        }
    }
}

pub(crate) fn quote_chars(chars: &[char]) -> String {
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{c:?}");
    }
    out
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

fn invalid_message(remitter: &[FieldError], payees: &[PayeeRejection]) -> String {
    let mut out = String::new();
    if !remitter.is_empty() {
        let _ = write!(out, "remitter: {}", join(remitter));
    }
    if !payees.is_empty() {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let _ = write!(out, "{} payee(s) refused: {}", payees.len(), join(payees));
    }
    out
}
