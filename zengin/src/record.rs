//! Rendering typed records into their 120 bytes.
//!
//! Every value reaching this module was validated; the asserts here guard the layout, not the
//! input: a failure is a bug in this crate.

use crate::charset;
use crate::layout::{
    CODE_DIVISION_JIS, DATA_KIND_DATA, DATA_KIND_END, DATA_KIND_HEADER, DATA_KIND_TRAILER,
    FieldKind, FieldSpec, IDENTIFICATION_EDI, RECORD_LEN_BYTES, TYPE_CODE_SOGO_FURIKOMI, data,
    header, numeric_max, trailer,
};
use crate::model::{DataRecord, Header, PayeeReference, Trailer};

/// One record being filled: starts as spaces with its データ区分.
pub(crate) struct RecordBuf {
    bytes: [u8; RECORD_LEN_BYTES],
}

impl RecordBuf {
    fn new(data_kind: u8) -> Self {
        let mut bytes = [b' '; RECORD_LEN_BYTES];
        bytes[0] = data_kind;
        Self { bytes }
    }

    /// A number, right-aligned and zero-filled.
    fn number(&mut self, field: FieldSpec, value: u64) {
        assert_eq!(field.kind, FieldKind::Numeric, "{field}");
        assert!(value <= numeric_max(field.width), "{field}: {value}");
        let digits = format!("{value:0>width$}", width = field.width);
        self.bytes[field.range()].copy_from_slice(digits.as_bytes());
    }

    /// Digits already at the field's full width.
    fn digits(&mut self, field: FieldSpec, digits: &str) {
        assert_eq!(field.kind, FieldKind::Numeric, "{field}");
        assert_eq!(digits.len(), field.width, "{field}: {digits:?}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{field}");
        self.bytes[field.range()].copy_from_slice(digits.as_bytes());
    }

    /// Zengin text, left-aligned; the rest of the field stays spaces.
    fn text(&mut self, field: FieldSpec, text: &str) {
        let encoded = charset::encode(text);
        assert!(encoded.len() <= field.width, "{field}: {text:?}");
        self.bytes[field.offset..field.offset + encoded.len()].copy_from_slice(&encoded);
    }

    fn byte(&mut self, field: FieldSpec, byte: u8) {
        assert_eq!(field.width, 1, "{field}");
        self.bytes[field.offset] = byte;
    }

    fn finish(self) -> [u8; RECORD_LEN_BYTES] {
        debug_assert!(
            self.bytes.iter().all(|b| charset::is_zengin_byte(*b)),
            "a record holds Zengin bytes only"
        );
        self.bytes
    }
}

pub(crate) fn header(h: &Header) -> [u8; RECORD_LEN_BYTES] {
    let mut r = RecordBuf::new(DATA_KIND_HEADER);
    r.bytes[header::TYPE_CODE.range()].copy_from_slice(TYPE_CODE_SOGO_FURIKOMI);
    r.byte(header::CODE_DIVISION, CODE_DIVISION_JIS);
    r.digits(header::REMITTER_CODE, &h.remitter_code);
    r.text(header::REMITTER_NAME, &h.remitter_name);
    r.number(header::TRANSFER_DATE, u64::from(h.transfer_date.mmdd()));
    r.digits(header::BANK_CODE, &h.bank_code);
    r.text(header::BANK_NAME, &h.bank_name);
    r.digits(header::BRANCH_CODE, &h.branch_code);
    r.text(header::BRANCH_NAME, &h.branch_name);
    r.number(header::ACCOUNT_TYPE, u64::from(h.account_type.digit()));
    r.digits(header::ACCOUNT_NUMBER, &h.account_number);
    r.finish()
}

pub(crate) fn data(d: &DataRecord) -> [u8; RECORD_LEN_BYTES] {
    let mut r = RecordBuf::new(DATA_KIND_DATA);
    r.digits(data::BANK_CODE, &d.bank_code);
    r.text(data::BANK_NAME, &d.bank_name);
    r.digits(data::BRANCH_CODE, &d.branch_code);
    r.text(data::BRANCH_NAME, &d.branch_name);
    if let Some(code) = &d.clearing_house {
        r.digits(data::CLEARING_HOUSE, code);
    }
    r.number(data::ACCOUNT_TYPE, u64::from(d.account_type.digit()));
    r.digits(data::ACCOUNT_NUMBER, &d.account_number);
    r.text(data::RECIPIENT_NAME, &d.recipient_name);
    r.number(data::AMOUNT, d.amount_yen);
    r.byte(data::NEW_CODE, d.new_code.byte());
    match &d.reference {
        PayeeReference::None => {}
        PayeeReference::CustomerCodes { code_1, code_2 } => {
            // Each code is blank or full width: a blank one stays spaces.
            for (field, code) in [
                (data::CUSTOMER_CODE_1, code_1),
                (data::CUSTOMER_CODE_2, code_2),
            ] {
                if !code.is_empty() {
                    r.digits(field, code);
                }
            }
        }
        PayeeReference::Edi(info) => {
            r.text(data::EDI_INFO, info);
            r.byte(data::IDENTIFICATION, IDENTIFICATION_EDI);
        }
    }
    r.byte(data::TRANSFER_METHOD, d.transfer_method.byte());
    r.finish()
}

pub(crate) fn trailer(t: &Trailer) -> [u8; RECORD_LEN_BYTES] {
    let mut r = RecordBuf::new(DATA_KIND_TRAILER);
    r.number(trailer::TOTAL_COUNT, t.record_count);
    r.number(trailer::TOTAL_AMOUNT, t.total_yen);
    r.finish()
}

pub(crate) fn end() -> [u8; RECORD_LEN_BYTES] {
    RecordBuf::new(DATA_KIND_END).finish()
}
