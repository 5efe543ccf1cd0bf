//! The 総合振込 record layout: every field's byte offset and width, as constants.
//!
//! Offsets are 0-based byte positions inside the 120-byte record (the published tables count
//! from 1: 1-based position = `offset + 1`). The CR LF that ends each record is outside the 120.
//! A compile-time check proves that each record's fields are contiguous and fill exactly
//! [`RECORD_LEN_BYTES`].

use std::fmt;
use std::ops::Range;

/// Bytes in one record, without its line end.
pub const RECORD_LEN_BYTES: usize = 120;
/// Every record ends with CR LF, outside the 120 bytes (the "MS-DOS" / 改行コード付き form).
pub const RECORD_TERMINATOR: &[u8; 2] = b"\r\n";
/// Bytes from the start of one record to the start of the next.
pub const RECORD_STRIDE_BYTES: usize = RECORD_LEN_BYTES + RECORD_TERMINATOR.len();

/// データ区分: the first byte of every record.
pub const DATA_KIND_HEADER: u8 = b'1';
pub const DATA_KIND_DATA: u8 = b'2';
pub const DATA_KIND_TRAILER: u8 = b'8';
pub const DATA_KIND_END: u8 = b'9';
/// 種別コード of 総合振込.
pub const TYPE_CODE_SOGO_FURIKOMI: &[u8; 2] = b"21";
/// コード区分 0: JIS (written as Shift_JIS single bytes, i.e. JIS X 0201).
pub const CODE_DIVISION_JIS: u8 = b'0';
/// 識別表示 "Y": the 20 bytes of customer codes hold EDI information instead.
pub const IDENTIFICATION_EDI: u8 = b'Y';

/// How a field is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// N: ASCII digits, right-aligned, zero-filled.
    Numeric,
    /// C: Zengin half-width characters, left-aligned, space-filled.
    Text,
    /// ダミー: spaces.
    Dummy,
}

/// One field of a record: its names, where it sits and how it is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Stable snake_case name, used in error codes and messages.
    pub name: &'static str,
    /// The name the published format tables use.
    pub label_ja: &'static str,
    pub offset: usize,
    pub width: usize,
    pub kind: FieldKind,
}

impl FieldSpec {
    pub const fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.width
    }

    pub const fn end(&self) -> usize {
        self.offset + self.width
    }
}

impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label_ja, self.name)
    }
}

const fn field(
    name: &'static str,
    label_ja: &'static str,
    offset: usize,
    width: usize,
    kind: FieldKind,
) -> FieldSpec {
    FieldSpec {
        name,
        label_ja,
        offset,
        width,
        kind,
    }
}

/// True when the fields start at 0, follow each other without gap or overlap, and end at 120.
pub const fn fields_fill_record(fields: &[FieldSpec]) -> bool {
    let mut next_offset = 0;
    let mut i = 0;
    while i < fields.len() {
        if fields[i].offset != next_offset || fields[i].width == 0 {
            return false;
        }
        next_offset = fields[i].end();
        i += 1;
    }
    next_offset == RECORD_LEN_BYTES
}

use FieldKind::{Dummy, Numeric, Text};

/// ヘッダー・レコード (データ区分 1).
pub mod header {
    use super::*;

    pub const DATA_KIND: FieldSpec = field("data_kind", "データ区分", 0, 1, Numeric);
    pub const TYPE_CODE: FieldSpec = field("type_code", "種別コード", 1, 2, Numeric);
    pub const CODE_DIVISION: FieldSpec = field("code_division", "コード区分", 3, 1, Numeric);
    pub const REMITTER_CODE: FieldSpec = field("remitter_code", "振込依頼人コード", 4, 10, Numeric);
    pub const REMITTER_NAME: FieldSpec = field("remitter_name", "振込依頼人名", 14, 40, Text);
    pub const TRANSFER_DATE: FieldSpec = field("transfer_date", "振込指定日", 54, 4, Numeric);
    pub const BANK_CODE: FieldSpec = field("bank_code", "仕向銀行番号", 58, 4, Numeric);
    pub const BANK_NAME: FieldSpec = field("bank_name", "仕向銀行名", 62, 15, Text);
    pub const BRANCH_CODE: FieldSpec = field("branch_code", "仕向支店番号", 77, 3, Numeric);
    pub const BRANCH_NAME: FieldSpec = field("branch_name", "仕向支店名", 80, 15, Text);
    pub const ACCOUNT_TYPE: FieldSpec = field("account_type", "預金種目", 95, 1, Numeric);
    pub const ACCOUNT_NUMBER: FieldSpec = field("account_number", "口座番号", 96, 7, Numeric);
    pub const DUMMY: FieldSpec = field("dummy", "ダミー", 103, 17, Dummy);

    pub const FIELDS: [FieldSpec; 13] = [
        DATA_KIND,
        TYPE_CODE,
        CODE_DIVISION,
        REMITTER_CODE,
        REMITTER_NAME,
        TRANSFER_DATE,
        BANK_CODE,
        BANK_NAME,
        BRANCH_CODE,
        BRANCH_NAME,
        ACCOUNT_TYPE,
        ACCOUNT_NUMBER,
        DUMMY,
    ];
}

/// データ・レコード (データ区分 2), one per payee.
pub mod data {
    use super::*;

    pub const DATA_KIND: FieldSpec = field("data_kind", "データ区分", 0, 1, Numeric);
    pub const BANK_CODE: FieldSpec = field("bank_code", "被仕向銀行番号", 1, 4, Numeric);
    pub const BANK_NAME: FieldSpec = field("bank_name", "被仕向銀行名", 5, 15, Text);
    pub const BRANCH_CODE: FieldSpec = field("branch_code", "被仕向支店番号", 20, 3, Numeric);
    pub const BRANCH_NAME: FieldSpec = field("branch_name", "被仕向支店名", 23, 15, Text);
    /// Unused by most banks: written as spaces; the reader also accepts 4 digits.
    pub const CLEARING_HOUSE: FieldSpec = field("clearing_house", "手形交換所番号", 38, 4, Numeric);
    pub const ACCOUNT_TYPE: FieldSpec = field("account_type", "預金種目", 42, 1, Numeric);
    pub const ACCOUNT_NUMBER: FieldSpec = field("account_number", "口座番号", 43, 7, Numeric);
    pub const RECIPIENT_NAME: FieldSpec = field("recipient_name", "受取人名", 50, 30, Text);
    pub const AMOUNT: FieldSpec = field("amount", "振込金額", 80, 10, Numeric);
    pub const NEW_CODE: FieldSpec = field("new_code", "新規コード", 90, 1, Numeric);
    pub const CUSTOMER_CODE_1: FieldSpec = field("customer_code_1", "顧客コード1", 91, 10, Numeric);
    pub const CUSTOMER_CODE_2: FieldSpec =
        field("customer_code_2", "顧客コード2", 101, 10, Numeric);
    /// Overlays both customer codes when 識別表示 is "Y".
    pub const EDI_INFO: FieldSpec = field("edi_info", "EDI情報", 91, 20, Text);
    pub const TRANSFER_METHOD: FieldSpec =
        field("transfer_method", "振込指定区分", 111, 1, Numeric);
    pub const IDENTIFICATION: FieldSpec = field("identification", "識別表示", 112, 1, Text);
    pub const DUMMY: FieldSpec = field("dummy", "ダミー", 113, 7, Dummy);

    pub const FIELDS: [FieldSpec; 16] = [
        DATA_KIND,
        BANK_CODE,
        BANK_NAME,
        BRANCH_CODE,
        BRANCH_NAME,
        CLEARING_HOUSE,
        ACCOUNT_TYPE,
        ACCOUNT_NUMBER,
        RECIPIENT_NAME,
        AMOUNT,
        NEW_CODE,
        CUSTOMER_CODE_1,
        CUSTOMER_CODE_2,
        TRANSFER_METHOD,
        IDENTIFICATION,
        DUMMY,
    ];

    /// The same record with EDI information in place of the two customer codes.
    pub const FIELDS_WITH_EDI: [FieldSpec; 15] = [
        DATA_KIND,
        BANK_CODE,
        BANK_NAME,
        BRANCH_CODE,
        BRANCH_NAME,
        CLEARING_HOUSE,
        ACCOUNT_TYPE,
        ACCOUNT_NUMBER,
        RECIPIENT_NAME,
        AMOUNT,
        NEW_CODE,
        EDI_INFO,
        TRANSFER_METHOD,
        IDENTIFICATION,
        DUMMY,
    ];
}

/// トレーラ・レコード (データ区分 8).
pub mod trailer {
    use super::*;

    pub const DATA_KIND: FieldSpec = field("data_kind", "データ区分", 0, 1, Numeric);
    pub const TOTAL_COUNT: FieldSpec = field("total_count", "合計件数", 1, 6, Numeric);
    pub const TOTAL_AMOUNT: FieldSpec = field("total_amount", "合計金額", 7, 12, Numeric);
    pub const DUMMY: FieldSpec = field("dummy", "ダミー", 19, 101, Dummy);

    pub const FIELDS: [FieldSpec; 4] = [DATA_KIND, TOTAL_COUNT, TOTAL_AMOUNT, DUMMY];
}

/// エンド・レコード (データ区分 9).
pub mod end {
    use super::*;

    pub const DATA_KIND: FieldSpec = field("data_kind", "データ区分", 0, 1, Numeric);
    pub const DUMMY: FieldSpec = field("dummy", "ダミー", 1, 119, Dummy);

    pub const FIELDS: [FieldSpec; 2] = [DATA_KIND, DUMMY];
}

const _: () = assert!(fields_fill_record(&header::FIELDS));
const _: () = assert!(fields_fill_record(&data::FIELDS));
const _: () = assert!(fields_fill_record(&data::FIELDS_WITH_EDI));
const _: () = assert!(fields_fill_record(&trailer::FIELDS));
const _: () = assert!(fields_fill_record(&end::FIELDS));

/// The largest number a numeric field of `width` digits holds (`10^width - 1`).
pub const fn numeric_max(width: usize) -> u64 {
    let mut max: u64 = 1;
    let mut i = 0;
    while i < width {
        max *= 10;
        i += 1;
    }
    max - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_layout_fills_exactly_120_bytes() {
        assert!(fields_fill_record(&header::FIELDS));
        assert!(fields_fill_record(&data::FIELDS));
        assert!(fields_fill_record(&data::FIELDS_WITH_EDI));
        assert!(fields_fill_record(&trailer::FIELDS));
        assert!(fields_fill_record(&end::FIELDS));
    }

    #[test]
    fn a_gap_or_overlap_is_detected() {
        let gap = [header::DATA_KIND, header::CODE_DIVISION];
        assert!(!fields_fill_record(&gap));
        let short = [trailer::DATA_KIND, trailer::TOTAL_COUNT];
        assert!(!fields_fill_record(&short));
    }

    #[test]
    fn published_one_based_positions_match() {
        // Positions as the published tables give them (1-based, inclusive).
        assert_eq!(header::REMITTER_NAME.range(), 14..54); // 15–54
        assert_eq!(header::TRANSFER_DATE.range(), 54..58); // 55–58
        assert_eq!(header::ACCOUNT_NUMBER.range(), 96..103); // 97–103
        assert_eq!(data::RECIPIENT_NAME.range(), 50..80); // 51–80
        assert_eq!(data::AMOUNT.range(), 80..90); // 81–90
        assert_eq!(data::TRANSFER_METHOD.offset, 111); // 112
        assert_eq!(trailer::TOTAL_AMOUNT.range(), 7..19); // 8–19
    }

    #[test]
    fn numeric_max_is_all_nines() {
        assert_eq!(numeric_max(1), 9);
        assert_eq!(numeric_max(6), 999_999);
        assert_eq!(numeric_max(10), 9_999_999_999);
        assert_eq!(numeric_max(12), 999_999_999_999);
    }
}
