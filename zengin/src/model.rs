//! What goes into a 総合振込 file and what comes out of one.
//!
//! Input: a [`Remitter`] (the town's own account) and [`Payee`]s as the engine knows them, raw
//! strings from the shop's or operator's bank details. Output (of both the writer's validation
//! and the reader): [`Header`], [`DataRecord`]s and [`Trailer`], whose fields hold exactly what
//! the file holds (digit fields zero-padded to their width, text fields without their padding).

use crate::error::BadTransferDate;

/// 預金種目: the kind of deposit account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    /// 1 普通預金
    Ordinary,
    /// 2 当座預金
    Current,
    /// 4 貯蓄預金 (payees only)
    Savings,
}

impl AccountType {
    /// Types a payee's account may have.
    pub const PAYEE_ALLOWED: &'static str = "1 (普通), 2 (当座), 4 (貯蓄)";
    /// Types the remitter's (paying) account may have.
    pub const REMITTER_ALLOWED: &'static str = "1 (普通), 2 (当座)";

    pub const fn digit(self) -> u8 {
        match self {
            Self::Ordinary => 1,
            Self::Current => 2,
            Self::Savings => 4,
        }
    }

    pub const fn from_digit(digit: u8) -> Option<Self> {
        match digit {
            1 => Some(Self::Ordinary),
            2 => Some(Self::Current),
            4 => Some(Self::Savings),
            _ => None,
        }
    }

    /// The remitter's account: 貯蓄 accounts can't be debited for transfers.
    pub const fn remitter_from_digit(digit: u8) -> Option<Self> {
        match Self::from_digit(digit) {
            Some(Self::Savings) | None => None,
            some => some,
        }
    }
}

/// 振込指定区分: how the bank sends the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransferMethod {
    /// Blank: the bank's default (電信 at every bank we know of).
    #[default]
    BankDefault,
    /// 7 電信扱
    Telegraphic,
    /// 8 文書扱
    Document,
}

impl TransferMethod {
    pub const fn byte(self) -> u8 {
        match self {
            Self::BankDefault => b' ',
            Self::Telegraphic => b'7',
            Self::Document => b'8',
        }
    }

    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b' ' => Some(Self::BankDefault),
            b'7' => Some(Self::Telegraphic),
            b'8' => Some(Self::Document),
            _ => None,
        }
    }
}

/// 新規コード. The writer always writes [`NewCode::Other`]; the reader keeps what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NewCode {
    /// 0 その他
    #[default]
    Other,
    /// 1 第1回振込分
    FirstTransfer,
    /// 2 変更分
    Changed,
}

impl NewCode {
    pub const fn byte(self) -> u8 {
        match self {
            Self::Other => b'0',
            Self::FirstTransfer => b'1',
            Self::Changed => b'2',
        }
    }

    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'0' => Some(Self::Other),
            b'1' => Some(Self::FirstTransfer),
            b'2' => Some(Self::Changed),
            _ => None,
        }
    }
}

/// What the payee's bank passes on with the money, so the payee can match it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum PayeeReference {
    #[default]
    None,
    /// 顧客コード1 / 2: up to 10 digits each ("" = blank), zero-padded to 10 when written.
    CustomerCodes { code_1: String, code_2: String },
    /// EDI情報: up to 20 Zengin characters; marks the record with 識別表示 "Y".
    Edi(String),
}

/// 振込指定日: month and day; the year is not in the file. Passed in by the caller: this crate
/// reads no clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferDate {
    month: u8,
    day: u8,
}

impl TransferDate {
    /// Any day that exists in some year (29 February included).
    pub const fn new(month: u8, day: u8) -> Result<Self, BadTransferDate> {
        let days_max = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => 29,
            _ => 0,
        };
        if day == 0 || day > days_max {
            return Err(BadTransferDate { month, day });
        }
        Ok(Self { month, day })
    }

    pub const fn month(self) -> u8 {
        self.month
    }

    pub const fn day(self) -> u8 {
        self.day
    }

    /// MMDD as the file holds it.
    pub const fn mmdd(self) -> u16 {
        self.month as u16 * 100 + self.day as u16
    }
}

/// The town's paying account (ヘッダー・レコード), raw from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remitter {
    /// 振込依頼人コード (委託者コード) the bank assigned: 1–10 digits, zero-padded to 10.
    pub code: String,
    /// 振込依頼人名: 1–40 Zengin characters.
    pub name_kana: String,
    /// 仕向銀行番号: exactly 4 digits.
    pub bank_code: String,
    /// 仕向銀行名: 0–15 Zengin characters (blank is accepted by banks that fill it in).
    pub bank_name_kana: String,
    /// 仕向支店番号: exactly 3 digits.
    pub branch_code: String,
    /// 仕向支店名: 0–15 Zengin characters.
    pub branch_name_kana: String,
    /// 預金種目: 1 普通 or 2 当座.
    pub account_type: u8,
    /// 口座番号: 1–7 digits, zero-padded to 7.
    pub account_number: String,
}

/// One payee and the yen it is paid (one データ・レコード), raw from the party's bank details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    /// How clerks know the payee (any script); only used to name the payee in errors.
    pub display_name: String,
    /// 被仕向銀行番号: exactly 4 digits.
    pub bank_code: String,
    /// 被仕向銀行名: 0–15 Zengin characters.
    pub bank_name_kana: String,
    /// 被仕向支店番号: exactly 3 digits.
    pub branch_code: String,
    /// 被仕向支店名: 0–15 Zengin characters.
    pub branch_name_kana: String,
    /// 預金種目: 1 普通, 2 当座 or 4 貯蓄.
    pub account_type: u8,
    /// 口座番号: 1–7 digits, zero-padded to 7.
    pub account_number: String,
    /// 受取人名: the account holder's name as the bank registered it, 1–30 Zengin characters.
    pub account_holder_kana: String,
    /// 振込金額: 1 ..= 9 999 999 999 yen.
    pub amount_yen: u64,
    pub reference: PayeeReference,
    pub transfer_method: TransferMethod,
}

/// ヘッダー・レコード as written or read. Digit fields are full width (zero-padded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub remitter_code: String,
    pub remitter_name: String,
    pub transfer_date: TransferDate,
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    pub account_type: AccountType,
    pub account_number: String,
}

/// データ・レコード as written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRecord {
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    /// 手形交換所番号: `None` when blank (as this crate writes it).
    pub clearing_house: Option<String>,
    pub account_type: AccountType,
    pub account_number: String,
    pub recipient_name: String,
    pub amount_yen: u64,
    pub new_code: NewCode,
    pub reference: PayeeReference,
    pub transfer_method: TransferMethod,
}

/// トレーラ・レコード.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// 合計件数: the number of data records.
    pub record_count: u64,
    /// 合計金額: Σ 振込金額.
    pub total_yen: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_date_accepts_calendar_days_only() {
        assert_eq!(TransferDate::new(11, 30).unwrap().mmdd(), 1130);
        assert_eq!(TransferDate::new(2, 29).unwrap().mmdd(), 229);
        assert!(TransferDate::new(2, 30).is_err());
        assert!(TransferDate::new(4, 31).is_err());
        assert!(TransferDate::new(13, 1).is_err());
        assert!(TransferDate::new(1, 0).is_err());
        assert_eq!(
            TransferDate::new(0, 1).unwrap_err().code(),
            "bad_transfer_date"
        );
    }

    #[test]
    fn savings_accounts_can_be_paid_but_not_pay() {
        assert_eq!(AccountType::from_digit(4), Some(AccountType::Savings));
        assert_eq!(AccountType::remitter_from_digit(4), None);
        assert_eq!(
            AccountType::remitter_from_digit(2),
            Some(AccountType::Current)
        );
        assert_eq!(AccountType::from_digit(9), None);
    }
}
