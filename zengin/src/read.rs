//! The strict reader: bytes → [`SogoFurikomi`], checking record types, order, lengths, CR LF,
//! every field, and the trailer's count and total against the data records.
//!
//! It reads what this crate writes and what the published layout allows, in one form: one
//! header/data/trailer group followed by one end record, every record followed by CR LF, no
//! EOF byte (0x1A). Files of several groups (several remitter accounts) are refused.

use crate::charset;
use crate::error::ReadError;
use crate::file::SogoFurikomi;
use crate::layout::{
    CODE_DIVISION_JIS, DATA_KIND_DATA, DATA_KIND_END, DATA_KIND_HEADER, DATA_KIND_TRAILER,
    FieldSpec, IDENTIFICATION_EDI, RECORD_LEN_BYTES, RECORD_STRIDE_BYTES, RECORD_TERMINATOR,
    TYPE_CODE_SOGO_FURIKOMI, data, end, header, trailer,
};
use crate::model::{
    AccountType, DataRecord, Header, NewCode, PayeeReference, Trailer, TransferDate, TransferMethod,
};
use crate::{FILE_BYTES_MAX, PAYEES_PER_FILE_MAX};

/// Reads a whole 総合振込 file.
pub fn read(bytes: &[u8]) -> Result<SogoFurikomi, ReadError> {
    let records = split(bytes)?;
    let mut next = records.iter().enumerate().map(|(i, r)| (i + 1, *r));

    let (n, record) = expect_next(&mut next, 0, "a header record (1)")?;
    expect_kind(n, record, DATA_KIND_HEADER, "a header record (1)")?;
    let header = parse_header(n, record)?;

    let mut data_records = Vec::new();
    let mut last = n;
    let trailer = loop {
        let (n, record) = expect_next(&mut next, last, "a trailer record (8)")?;
        last = n;
        match record[0] {
            DATA_KIND_DATA => data_records.push(parse_data(n, record)?),
            DATA_KIND_TRAILER if !data_records.is_empty() => break parse_trailer(n, record)?,
            _ if data_records.is_empty() => {
                return Err(unexpected(n, record, "a data record (2)"));
            }
            _ => return Err(unexpected(n, record, "a data (2) or trailer (8) record")),
        }
    };

    let (n, record) = expect_next(&mut next, last, "the end record (9)")?;
    expect_kind(n, record, DATA_KIND_END, "the end record (9)")?;
    spaces(n, record, end::DUMMY)?;
    if let Some((n, record)) = next.next() {
        return Err(unexpected(n, record, "nothing after the end record"));
    }

    check_totals(&data_records, trailer)?;
    Ok(SogoFurikomi::from_parts(header, data_records, trailer))
}

/// Cuts the file into 120-byte records, checking size and CR LF first.
fn split(bytes: &[u8]) -> Result<Vec<&[u8]>, ReadError> {
    if bytes.len() > FILE_BYTES_MAX {
        return Err(ReadError::TooLarge {
            len_bytes: bytes.len(),
            max_bytes: FILE_BYTES_MAX,
            max_records: PAYEES_PER_FILE_MAX,
        });
    }
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD_STRIDE_BYTES) {
        // Say which record lost its CR LF when that is the likely reason.
        for (i, chunk) in bytes.chunks(RECORD_STRIDE_BYTES).enumerate() {
            if chunk.len() == RECORD_STRIDE_BYTES && &chunk[RECORD_LEN_BYTES..] != RECORD_TERMINATOR
            {
                return Err(ReadError::MissingCrLf { record: i + 1 });
            }
        }
        return Err(ReadError::NotWholeRecords {
            len_bytes: bytes.len(),
        });
    }
    let mut records = Vec::with_capacity(bytes.len() / RECORD_STRIDE_BYTES);
    for (i, chunk) in bytes.chunks_exact(RECORD_STRIDE_BYTES).enumerate() {
        let (record, terminator) = chunk.split_at(RECORD_LEN_BYTES);
        if terminator != RECORD_TERMINATOR {
            return Err(ReadError::MissingCrLf { record: i + 1 });
        }
        records.push(record);
    }
    Ok(records)
}

fn expect_next<'a>(
    next: &mut impl Iterator<Item = (usize, &'a [u8])>,
    records_so_far: usize,
    missing: &'static str,
) -> Result<(usize, &'a [u8]), ReadError> {
    next.next().ok_or(ReadError::Incomplete {
        records: records_so_far,
        missing,
    })
}

fn expect_kind(n: usize, record: &[u8], kind: u8, expected: &'static str) -> Result<(), ReadError> {
    if record[0] == kind {
        Ok(())
    } else {
        Err(unexpected(n, record, expected))
    }
}

fn unexpected(n: usize, record: &[u8], expected: &'static str) -> ReadError {
    ReadError::UnexpectedRecord {
        record: n,
        found: char::from(record[0]),
        expected,
    }
}

fn parse_header(n: usize, r: &[u8]) -> Result<Header, ReadError> {
    if &r[header::TYPE_CODE.range()] != TYPE_CODE_SOGO_FURIKOMI {
        return Err(bad(n, header::TYPE_CODE, "not 21 (総合振込)"));
    }
    if r[header::CODE_DIVISION.offset] != CODE_DIVISION_JIS {
        return Err(bad(n, header::CODE_DIVISION, "not 0 (JIS)"));
    }
    let mmdd = number(n, r, header::TRANSFER_DATE)?;
    let transfer_date = TransferDate::new((mmdd / 100) as u8, (mmdd % 100) as u8)
        .map_err(|e| bad(n, header::TRANSFER_DATE, &e.to_string()))?;
    let account_type_digit = number(n, r, header::ACCOUNT_TYPE)? as u8;
    let account_type = AccountType::remitter_from_digit(account_type_digit)
        .ok_or_else(|| bad(n, header::ACCOUNT_TYPE, AccountType::REMITTER_ALLOWED))?;
    spaces(n, r, header::DUMMY)?;
    Ok(Header {
        remitter_code: digits(n, r, header::REMITTER_CODE)?,
        remitter_name: text_required(n, r, header::REMITTER_NAME)?,
        transfer_date,
        bank_code: digits(n, r, header::BANK_CODE)?,
        bank_name: text(n, r, header::BANK_NAME)?,
        branch_code: digits(n, r, header::BRANCH_CODE)?,
        branch_name: text(n, r, header::BRANCH_NAME)?,
        account_type,
        account_number: digits(n, r, header::ACCOUNT_NUMBER)?,
    })
}

fn parse_data(n: usize, r: &[u8]) -> Result<DataRecord, ReadError> {
    let account_type = AccountType::from_digit(number(n, r, data::ACCOUNT_TYPE)? as u8)
        .ok_or_else(|| bad(n, data::ACCOUNT_TYPE, AccountType::PAYEE_ALLOWED))?;
    let amount_yen = number(n, r, data::AMOUNT)?;
    if amount_yen == 0 {
        return Err(bad(n, data::AMOUNT, "a transfer of ¥0"));
    }
    let new_code = NewCode::from_byte(r[data::NEW_CODE.offset])
        .ok_or_else(|| bad(n, data::NEW_CODE, "not 0, 1 or 2"))?;
    let transfer_method = TransferMethod::from_byte(r[data::TRANSFER_METHOD.offset])
        .ok_or_else(|| bad(n, data::TRANSFER_METHOD, "not blank, 7 (電信) or 8 (文書)"))?;
    spaces(n, r, data::DUMMY)?;
    Ok(DataRecord {
        bank_code: digits(n, r, data::BANK_CODE)?,
        bank_name: text(n, r, data::BANK_NAME)?,
        branch_code: digits(n, r, data::BRANCH_CODE)?,
        branch_name: text(n, r, data::BRANCH_NAME)?,
        clearing_house: optional_digits(n, r, data::CLEARING_HOUSE)?,
        account_type,
        account_number: digits(n, r, data::ACCOUNT_NUMBER)?,
        recipient_name: text_required(n, r, data::RECIPIENT_NAME)?,
        amount_yen,
        new_code,
        reference: reference(n, r)?,
        transfer_method,
    })
}

fn reference(n: usize, r: &[u8]) -> Result<PayeeReference, ReadError> {
    match r[data::IDENTIFICATION.offset] {
        IDENTIFICATION_EDI => {
            let info = text(n, r, data::EDI_INFO)?;
            if info.is_empty() {
                return Err(bad(n, data::EDI_INFO, "識別表示 Y with blank EDI情報"));
            }
            Ok(PayeeReference::Edi(info))
        }
        b' ' => {
            let code_1 = optional_digits(n, r, data::CUSTOMER_CODE_1)?.unwrap_or_default();
            let code_2 = optional_digits(n, r, data::CUSTOMER_CODE_2)?.unwrap_or_default();
            if code_1.is_empty() && code_2.is_empty() {
                Ok(PayeeReference::None)
            } else {
                Ok(PayeeReference::CustomerCodes { code_1, code_2 })
            }
        }
        _ => Err(bad(n, data::IDENTIFICATION, "not blank or Y")),
    }
}

fn parse_trailer(n: usize, r: &[u8]) -> Result<Trailer, ReadError> {
    spaces(n, r, trailer::DUMMY)?;
    Ok(Trailer {
        record_count: number(n, r, trailer::TOTAL_COUNT)?,
        total_yen: number(n, r, trailer::TOTAL_AMOUNT)?,
    })
}

fn check_totals(records: &[DataRecord], trailer: Trailer) -> Result<(), ReadError> {
    let actual = records.len() as u64;
    if trailer.record_count != actual {
        return Err(ReadError::CountMismatch {
            trailer: trailer.record_count,
            actual,
        });
    }
    // ≤ 999 999 amounts of ≤ 10 digits: no u64 overflow.
    let actual_yen: u64 = records.iter().map(|r| r.amount_yen).sum();
    if trailer.total_yen != actual_yen {
        return Err(ReadError::TotalMismatch {
            trailer_yen: trailer.total_yen,
            actual_yen,
        });
    }
    Ok(())
}

fn bad(record: usize, field: FieldSpec, problem: &str) -> ReadError {
    ReadError::BadField {
        record,
        field,
        problem: problem.to_owned(),
    }
}

/// The field's bytes, all ASCII digits.
fn digits(n: usize, r: &[u8], field: FieldSpec) -> Result<String, ReadError> {
    let bytes = &r[field.range()];
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(bad(n, field, &format!("not all digits: {bytes:?}")));
    }
    Ok(String::from_utf8(bytes.to_vec()).expect("ASCII digits are UTF-8"))
}

fn number(n: usize, r: &[u8], field: FieldSpec) -> Result<u64, ReadError> {
    let digits = digits(n, r, field)?;
    // At most 12 digits: always fits u64.
    Ok(digits.parse().expect("≤ 12 ASCII digits parse as u64"))
}

/// All spaces (`None`) or all digits.
fn optional_digits(n: usize, r: &[u8], field: FieldSpec) -> Result<Option<String>, ReadError> {
    if r[field.range()].iter().all(|b| *b == b' ') {
        Ok(None)
    } else {
        digits(n, r, field).map(Some)
    }
}

/// Zengin text without its trailing space padding.
fn text(n: usize, r: &[u8], field: FieldSpec) -> Result<String, ReadError> {
    let decoded = charset::decode(&r[field.range()]).map_err(|(index, byte)| {
        bad(
            n,
            field,
            &format!("byte {byte:#04X} at offset {index} is not a Zengin character"),
        )
    })?;
    Ok(decoded.trim_end_matches(' ').to_owned())
}

fn text_required(n: usize, r: &[u8], field: FieldSpec) -> Result<String, ReadError> {
    let value = text(n, r, field)?;
    if value.is_empty() {
        return Err(bad(n, field, "blank"));
    }
    Ok(value)
}

fn spaces(n: usize, r: &[u8], field: FieldSpec) -> Result<(), ReadError> {
    if r[field.range()].iter().all(|b| *b == b' ') {
        Ok(())
    } else {
        Err(bad(n, field, "ダミー must be spaces"))
    }
}
