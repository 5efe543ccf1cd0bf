//! Field checks: raw [`Remitter`] / [`Payee`] → typed [`Header`] / [`DataRecord`], or every
//! [`FieldError`] found (a check never stops at the first problem of a record).

use crate::AMOUNT_YEN_MAX;
use crate::charset::non_zengin_chars;
use crate::error::FieldError;
use crate::layout::{FieldSpec, data, header};
use crate::model::{
    AccountType, DataRecord, Header, NewCode, Payee, PayeeReference, Remitter, TransferDate,
};

/// Collects the errors of one record while checking its fields one by one.
struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    fn keep<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.errors.push(e)).ok()
    }
}

pub(crate) fn remitter(
    remitter: &Remitter,
    transfer_date: TransferDate,
) -> Result<Header, Vec<FieldError>> {
    let mut c = Checks { errors: Vec::new() };
    let remitter_code = c.keep(digits_up_to(header::REMITTER_CODE, &remitter.code));
    let remitter_name = c.keep(text_required(header::REMITTER_NAME, &remitter.name_kana));
    let bank_code = c.keep(digits_exact(header::BANK_CODE, &remitter.bank_code));
    let bank_name = c.keep(text(header::BANK_NAME, &remitter.bank_name_kana));
    let branch_code = c.keep(digits_exact(header::BRANCH_CODE, &remitter.branch_code));
    let branch_name = c.keep(text(header::BRANCH_NAME, &remitter.branch_name_kana));
    let account_type = c.keep(remitter_account_type(remitter.account_type));
    let account_number = c.keep(digits_up_to(
        header::ACCOUNT_NUMBER,
        &remitter.account_number,
    ));
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    // Every `keep` above succeeded when no error was collected.
    Ok(Header {
        remitter_code: remitter_code.expect("checked"),
        remitter_name: remitter_name.expect("checked"),
        transfer_date,
        bank_code: bank_code.expect("checked"),
        bank_name: bank_name.expect("checked"),
        branch_code: branch_code.expect("checked"),
        branch_name: branch_name.expect("checked"),
        account_type: account_type.expect("checked"),
        account_number: account_number.expect("checked"),
    })
}

pub(crate) fn payee(payee: &Payee) -> Result<DataRecord, Vec<FieldError>> {
    let mut c = Checks { errors: Vec::new() };
    let bank_code = c.keep(digits_exact(data::BANK_CODE, &payee.bank_code));
    let bank_name = c.keep(text(data::BANK_NAME, &payee.bank_name_kana));
    let branch_code = c.keep(digits_exact(data::BRANCH_CODE, &payee.branch_code));
    let branch_name = c.keep(text(data::BRANCH_NAME, &payee.branch_name_kana));
    let account_type = c.keep(payee_account_type(payee.account_type));
    let account_number = c.keep(digits_up_to(data::ACCOUNT_NUMBER, &payee.account_number));
    let recipient_name = c.keep(text_required(
        data::RECIPIENT_NAME,
        &payee.account_holder_kana,
    ));
    let amount_yen = c.keep(amount(payee.amount_yen));
    let reference = reference(&mut c, &payee.reference);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(DataRecord {
        bank_code: bank_code.expect("checked"),
        bank_name: bank_name.expect("checked"),
        branch_code: branch_code.expect("checked"),
        branch_name: branch_name.expect("checked"),
        clearing_house: None,
        account_type: account_type.expect("checked"),
        account_number: account_number.expect("checked"),
        recipient_name: recipient_name.expect("checked"),
        amount_yen: amount_yen.expect("checked"),
        new_code: NewCode::Other,
        reference,
        transfer_method: payee.transfer_method,
    })
}

/// The reference as the file will hold it: codes zero-padded, two blank codes = none.
fn reference(c: &mut Checks, reference: &PayeeReference) -> PayeeReference {
    match reference {
        PayeeReference::None => PayeeReference::None,
        PayeeReference::CustomerCodes { code_1, code_2 } => {
            let code_1 = c.keep(optional_digits_up_to(data::CUSTOMER_CODE_1, code_1));
            let code_2 = c.keep(optional_digits_up_to(data::CUSTOMER_CODE_2, code_2));
            match (code_1, code_2) {
                (Some(a), Some(b)) if a.is_empty() && b.is_empty() => PayeeReference::None,
                (Some(code_1), Some(code_2)) => PayeeReference::CustomerCodes { code_1, code_2 },
                _ => PayeeReference::None, // an error was recorded
            }
        }
        PayeeReference::Edi(info) => match c.keep(text(data::EDI_INFO, info)) {
            Some(info) if info.is_empty() => PayeeReference::None,
            Some(info) => PayeeReference::Edi(info),
            None => PayeeReference::None, // an error was recorded
        },
    }
}

/// Exactly `field.width` ASCII digits.
pub(crate) fn digits_exact(field: FieldSpec, value: &str) -> Result<String, FieldError> {
    if value.len() == field.width && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::NotExactDigits {
            field,
            got: value.to_owned(),
        })
    }
}

/// 1 ..= `field.width` ASCII digits, zero-padded on the left to the width (numeric fields are
/// right-aligned and zero-filled).
pub(crate) fn digits_up_to(field: FieldSpec, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= field.width
        && value.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(FieldError::NotDigitsUpTo {
            field,
            got: value.to_owned(),
        });
    }
    Ok(format!("{value:0>width$}", width = field.width))
}

/// "" (blank) or what [`digits_up_to`] accepts.
fn optional_digits_up_to(field: FieldSpec, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        digits_up_to(field, value)
    }
}

/// Zengin characters, at most `field.width` of them. Trailing spaces are padding in this format,
/// so they are dropped (they could not be read back).
pub(crate) fn text(field: FieldSpec, value: &str) -> Result<String, FieldError> {
    let chars = non_zengin_chars(value);
    if !chars.is_empty() {
        return Err(FieldError::NotZenginChars { field, chars });
    }
    let trimmed = value.trim_end_matches(' ');
    // One Zengin character is one byte in the file (but three in UTF-8).
    let len = trimmed.chars().count();
    if len > field.width {
        return Err(FieldError::TooLong { field, len });
    }
    Ok(trimmed.to_owned())
}

fn text_required(field: FieldSpec, value: &str) -> Result<String, FieldError> {
    let text = text(field, value)?;
    if text.is_empty() {
        return Err(FieldError::Empty { field });
    }
    Ok(text)
}

fn amount(amount_yen: u64) -> Result<u64, FieldError> {
    let field = data::AMOUNT;
    if amount_yen == 0 {
        return Err(FieldError::AmountZero { field });
    }
    if amount_yen > AMOUNT_YEN_MAX {
        return Err(FieldError::AmountTooLarge { field, amount_yen });
    }
    Ok(amount_yen)
}

fn payee_account_type(digit: u8) -> Result<AccountType, FieldError> {
    AccountType::from_digit(digit).ok_or(FieldError::BadAccountType {
        field: data::ACCOUNT_TYPE,
        got: digit,
        allowed: AccountType::PAYEE_ALLOWED,
    })
}

fn remitter_account_type(digit: u8) -> Result<AccountType, FieldError> {
    AccountType::remitter_from_digit(digit).ok_or(FieldError::BadAccountType {
        field: header::ACCOUNT_TYPE,
        got: digit,
        allowed: AccountType::REMITTER_ALLOWED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_numbers_are_right_aligned_and_zero_filled() {
        assert_eq!(
            digits_up_to(data::ACCOUNT_NUMBER, "12345").unwrap(),
            "0012345"
        );
        assert_eq!(
            digits_up_to(data::ACCOUNT_NUMBER, "1234567").unwrap(),
            "1234567"
        );
        for bad in ["", "12345678", "12-3456", "１２３"] {
            let err = digits_up_to(data::ACCOUNT_NUMBER, bad).unwrap_err();
            assert_eq!(err.code(), "not_digits_up_to", "{bad:?}");
        }
    }

    #[test]
    fn bank_and_branch_codes_take_no_padding() {
        assert_eq!(digits_exact(data::BANK_CODE, "0009").unwrap(), "0009");
        assert!(digits_exact(data::BANK_CODE, "9").is_err());
        assert!(digits_exact(data::BANK_CODE, "00009").is_err());
        assert!(digits_exact(data::BRANCH_CODE, "01").is_err());
        assert!(digits_exact(data::BRANCH_CODE, "01a").is_err());
    }

    #[test]
    fn text_reports_every_bad_character_then_the_length() {
        let err = text(data::RECIPIENT_NAME, "ﾑﾛﾗﾝ bus ｰ").unwrap_err();
        assert_eq!(
            err,
            FieldError::NotZenginChars {
                field: data::RECIPIENT_NAME,
                chars: vec!['b', 'u', 's', 'ｰ'],
            }
        );
        let long = "ｱ".repeat(31);
        assert_eq!(
            text(data::RECIPIENT_NAME, &long).unwrap_err().code(),
            "too_long"
        );
        let full = text(data::RECIPIENT_NAME, &"ｱ".repeat(30)).unwrap();
        assert_eq!(full.chars().count(), 30);
    }

    #[test]
    fn trailing_spaces_are_padding_and_dropped() {
        assert_eq!(text(data::BANK_NAME, "ﾐｽﾞﾎ   ").unwrap(), "ﾐｽﾞﾎ");
        let err = text_required(data::RECIPIENT_NAME, "   ").unwrap_err();
        assert_eq!(err.code(), "empty");
    }

    #[test]
    fn amounts_run_from_one_yen_to_ten_digits() {
        assert_eq!(amount(1), Ok(1));
        assert_eq!(amount(9_999_999_999), Ok(9_999_999_999));
        assert_eq!(amount(0).unwrap_err().code(), "amount_zero");
        assert_eq!(
            amount(10_000_000_000).unwrap_err().code(),
            "amount_too_large"
        );
    }
}
