//! A 12-digit number, however it is written, could be an individual number (個人番号, "My
//! Number"). kanjo refuses it wherever a client could make it stick: ids, references, rider
//! records.
//!
//! What counts, precisely:
//! - a digit is an ASCII digit after NFKC normalisation (so full-width `０`–`９`, circled,
//!   superscript and mathematical digits count too), or a kanji numeral `〇一二三四五六七八九`;
//! - between two digits of one number there may be up to [`SEPARATORS_BETWEEN_DIGITS_MAX`]
//!   separators: any whitespace (the full-width space included), a dash (`-` `‐` `‑` `‒` `–`
//!   `—` `―` `−` `ー` `－` `﹣`), a dot (`.` `．` `・` `･`) — or nothing;
//! - a number is refused when it has 12 digits **or more**. A longer run could hold a My Number
//!   with a digit before or after it (`r-1234567890123`), and a card or account number has no
//!   business in kanjo either; we err towards refusing.
//!
//! Eleven digits or fewer are fine (a phone number `090-1234-5678`, a date `2026-04-01`, a
//! municipality code `012050`).

use unicode_normalization::UnicodeNormalization;

/// Digits in an individual number.
pub const MY_NUMBER_DIGITS: usize = 12;

/// Separator characters allowed between two digits of one number, so that `1234 - 5678 - 9012`
/// (space, dash, space) is one number.
pub const SEPARATORS_BETWEEN_DIGITS_MAX: usize = 3;

const KANJI_DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// Whether `text` holds a run of 12 or more digits, written in any of the ways above.
pub fn contains_my_number(text: &str) -> bool {
    if text.is_ascii() {
        // ASCII text is its own NFKC form; this is the path every well-formed id takes.
        if text.bytes().filter(u8::is_ascii_digit).count() < MY_NUMBER_DIGITS {
            return false;
        }
        return has_long_digit_run(text.chars());
    }
    has_long_digit_run(text.nfkc())
}

fn has_long_digit_run(chars: impl Iterator<Item = char>) -> bool {
    let mut digits_in_run = 0usize;
    let mut separators_since_digit = 0usize;
    for c in chars {
        if is_digit(c) {
            let continues =
                digits_in_run > 0 && separators_since_digit <= SEPARATORS_BETWEEN_DIGITS_MAX;
            digits_in_run = if continues { digits_in_run + 1 } else { 1 };
            separators_since_digit = 0;
            if digits_in_run >= MY_NUMBER_DIGITS {
                return true;
            }
        } else if is_separator(c) {
            separators_since_digit += 1;
        } else {
            digits_in_run = 0;
            separators_since_digit = 0;
        }
    }
    false
}

/// After NFKC, so full-width digits already are ASCII.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || KANJI_DIGITS.contains(&c)
}

/// After NFKC, so `－` is already `-` and `．` is `.`; the rest are listed as themselves.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.'
                | '\u{2010}' // ‐ hyphen
                | '\u{2011}' // ‑ non-breaking hyphen
                | '\u{2012}' // ‒ figure dash
                | '\u{2013}' // – en dash
                | '\u{2014}' // — em dash
                | '\u{2015}' // ― horizontal bar
                | '\u{2212}' // − minus sign
                | '\u{30FC}' // ー prolonged sound mark, typed as a dash in Japanese text
                | '\u{FF0D}' // － full-width hyphen-minus
                | '\u{FE63}' // ﹣ small hyphen-minus
                | '\u{FF0E}' // ． full-width full stop
                | '\u{30FB}' // ・ katakana middle dot
                | '\u{FF65}' // ･ half-width katakana middle dot
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of writing 1234 5678 9012 that must be refused, alone or inside an id.
    const TWELVE_DIGITS: [&str; 24] = [
        "123456789012",
        "1234 5678 9012",
        "1234-5678-9012",
        "1234.5678.9012",
        "1234‐5678‐9012",
        "1234−5678−9012",
        "1234ー5678ー9012",
        "1234－5678－9012",
        "1234\u{3000}5678\u{3000}9012",
        "1234・5678・9012",
        "1234 - 5678 - 9012",
        "1-2-3-4-5-6-7-8-9-0-1-2",
        "１２３４５６７８９０１２",
        "１２３４ ５６７８ ９０１２",
        "１２３４－５６７８－９０１２",
        "12345678９０１２",
        "一二三四五六七八九〇一二",
        "r-123456789012",
        "rider 1234.5678.9012 (card)",
        "x1234-5678-9012y",
        "番号１２３４５６７８９０１２です",
        "1234567890123",
        "12345678901234567",
        "①②③④⑤⑥⑦⑧⑨⓪①②",
    ];

    /// Things that look a bit like it and are fine: 11 digits, or groups too far apart.
    const NOT_TWELVE_DIGITS: [&str; 11] = [
        "",
        "r-001",
        "12345678901",
        "090-1234-5678",
        "2026-04-01",
        "012050",
        "1234-5678-901x2",
        "123456 / 789012",
        "1234    5678    9012",
        "100110_weekday_1",
        "１２３４５６７８９０１",
    ];

    #[test]
    fn every_way_of_writing_twelve_digits_is_caught() {
        for text in TWELVE_DIGITS {
            assert!(contains_my_number(text), "{text:?} was let through");
        }
    }

    #[test]
    fn fewer_digits_or_digits_far_apart_are_not() {
        for text in NOT_TWELVE_DIGITS {
            assert!(!contains_my_number(text), "{text:?} was refused");
        }
    }

    #[test]
    fn thirteen_or_more_digits_are_refused_too() {
        // Decided: a longer run could hold a My Number plus a stray digit; refuse it.
        assert!(contains_my_number("1234567890123"));
        assert!(contains_my_number("card 4111-1111-1111-1111"));
    }
}
