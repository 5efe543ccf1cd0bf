//! Checks of single values, shared by [`super::parse`] (which is also how [`super::build`]
//! validates).

use super::error::{EmvError, TagPath};

/// The EMV common character set: printable ASCII, space included.
pub(crate) fn is_common_charset(value: &str) -> bool {
    value.bytes().all(|byte| (0x20..=0x7E).contains(&byte))
}

/// Printable ASCII and at most `max` characters.
pub(crate) fn check_text(path: TagPath, value: &str, max: usize) -> Result<(), EmvError> {
    if !is_common_charset(value) {
        return Err(EmvError::BadCharacters { path });
    }
    check_chars_max(path, value, max)
}

/// At most `max` characters, any script (tag 64 names, tags 65–99).
pub(crate) fn check_chars_max(path: TagPath, value: &str, max: usize) -> Result<(), EmvError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(EmvError::ValueTooLong { path, chars, max });
    }
    Ok(())
}

pub(crate) fn all_digits(value: &str, count: usize) -> bool {
    value.len() == count && value.bytes().all(|byte| byte.is_ascii_digit())
}

/// Tags 54 and 56: digits with at most one `.` as the decimal mark (which may end the amount:
/// `98.` is allowed), no sign, not zero, at most 13 characters.
pub(crate) fn check_amount(path: TagPath, value: &str) -> Result<(), EmvError> {
    let bad = |reason| {
        Err(EmvError::BadAmount {
            path,
            found: value.to_owned(),
            reason,
        })
    };
    if value.chars().count() > super::AMOUNT_CHARS_MAX {
        return bad("longer than 13 characters");
    }
    if !value
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        return bad("only digits and one '.' are allowed");
    }
    if value.bytes().filter(|&byte| byte == b'.').count() > 1 {
        return bad("more than one decimal mark");
    }
    if value.starts_with('.') {
        return bad("no digit before the decimal mark");
    }
    if value.bytes().all(|byte| byte == b'0' || byte == b'.') {
        return bad("the amount is zero");
    }
    Ok(())
}

/// Tag 57: a percentage such as `3` or `3.00`, between 00.01 and 99.99, at most 5 characters.
pub(crate) fn check_percentage(value: &str) -> Result<(), EmvError> {
    let bad = |reason| Err(EmvError::BadTip { reason });
    if value.chars().count() > super::TIP_PERCENTAGE_CHARS_MAX {
        return bad("percentage (tag 57) is longer than 5 characters");
    }
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return bad("percentage (tag 57) is not a decimal number");
    }
    if value.bytes().all(|byte| byte == b'0' || byte == b'.') {
        return bad("percentage (tag 57) is zero");
    }
    Ok(())
}

/// Tag 58: ISO 3166-1 alpha-2 as EMVCo writes it, two capital letters.
pub(crate) fn check_country(value: &str) -> Result<(), EmvError> {
    if value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Ok(());
    }
    Err(EmvError::BadCountry {
        found: value.to_owned(),
    })
}

/// Tag 64.00: ISO 639-1, two letters. The specification's own example writes `ZH`, so both
/// cases are read.
pub(crate) fn check_language(value: &str) -> Result<(), EmvError> {
    if value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return Ok(());
    }
    Err(EmvError::BadLanguage {
        found: value.to_owned(),
    })
}
