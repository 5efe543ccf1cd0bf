//! Any 12-digit number, embedded in any text and written with any digits and separators kanjo
//! lists, is caught; the same with 11 digits in text without digits is not.

use kanjo_privacy::{SEPARATORS_BETWEEN_DIGITS_MAX, check_json, contains_my_number};
use proptest::prelude::*;
use serde_json::json;

const SEPARATORS: [char; 16] = [
    ' ', '\u{3000}', '\t', '-', '‐', '‑', '–', '—', '−', 'ー', '－', '﹣', '.', '．', '・', '･',
];
const KANJI_DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// One digit: ASCII, full-width or kanji.
fn digit() -> impl Strategy<Value = String> {
    (0u32..10, 0u8..3).prop_map(|(value, form)| {
        let c = match form {
            0 => char::from_digit(value, 10).expect("a decimal digit"),
            1 => char::from_u32('０' as u32 + value).expect("a full-width digit"),
            _ => KANJI_DIGITS[value as usize],
        };
        c.to_string()
    })
}

/// What goes between two digits: nothing, or up to the allowed number of separators.
fn gap() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(&SEPARATORS[..]),
        0..=SEPARATORS_BETWEEN_DIGITS_MAX,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn number(digits: usize) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(digit(), digits),
        prop::collection::vec(gap(), digits - 1),
    )
        .prop_map(|(digits, gaps)| {
            let mut text = digits[0].clone();
            for (digit, gap) in digits[1..].iter().zip(&gaps) {
                text.push_str(gap);
                text.push_str(digit);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn twelve_digits_in_any_text_are_caught(
        before in "\\PC{0,16}",
        number in number(12),
        after in "\\PC{0,16}",
    ) {
        let text = format!("{before}{number}{after}");
        prop_assert!(contains_my_number(&text), "{text:?}");
        let record = json!({"rider": text});
        let nested = json!({"a": {"b": [text]}});
        prop_assert!(check_json(&record).is_err(), "{}", record);
        prop_assert!(check_json(&nested).is_err(), "{}", nested);
    }

    #[test]
    fn eleven_digits_in_text_without_digits_are_not(
        before in "[a-zA-Zぁ-ゖ_:/]{0,12}",
        number in number(11),
        after in "[a-zA-Zぁ-ゖ_:/]{0,12}",
    ) {
        let text = format!("{before}{number}{after}");
        prop_assert!(!contains_my_number(&text), "{text:?}");
    }
}
