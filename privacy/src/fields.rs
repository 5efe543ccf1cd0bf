//! Fields that would carry a My Number, a PIN or a ballot's content, at any depth of a JSON value,
//! under any spelling listed here.
//!
//! A field name is compared after [`normalise_field_name`]: NFKC (full-width and half-width forms
//! become ASCII and full-width kana), lowercase, and `_ - . ・` and whitespace removed, so
//! `My-Number`, `MY_NUMBER`, `ｍｙ＿ｎｕｍｂｅｒ` and `my number` are all `mynumber`. A name is
//! refused when it equals one of [`FORBIDDEN_FIELD_NAMES`] or contains one of
//! [`FORBIDDEN_FIELD_PARTS`] (the parts are specific enough not to appear in innocent names;
//! short words such as `pin` and `vote` only match whole, so `shipping` and `voter` pass).

use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::digits::contains_my_number;

/// Field names refused when the whole (normalised) name is one of these.
pub const FORBIDDEN_FIELD_NAMES: [&str; 59] = [
    // The individual number and its card.
    "my_number",
    "mynumber",
    "my_number_card",
    "my_number_card_number",
    "my_no",
    "kojin_bango",
    "kojinbango",
    "kojin_bangou",
    "individual_number",
    "individual_number_card",
    "personal_number",
    "個人番号",
    "個人番号カード",
    "マイナンバー",
    "マイナンバーカード",
    "マイナ番号",
    // PINs and passwords.
    "pin",
    "pins",
    "pin_code",
    "pin_number",
    "pin_no",
    "card_pin",
    "passcode",
    "pass_code",
    "password",
    "passwd",
    "pwd",
    "secret",
    "anshou_bangou",
    "ansho_bango",
    "暗証番号",
    "暗証",
    "パスワード",
    "パスコード",
    // A ballot's content.
    "ballot",
    "ballots",
    "ballot_content",
    "ballot_choice",
    "vote",
    "votes",
    "voted",
    "voted_for",
    "vote_for",
    "vote_choice",
    "choice",
    "candidate",
    "candidates",
    "candidate_name",
    "party",
    "tohyo",
    "touhyou",
    "tohyo_naiyo",
    "投票",
    "投票内容",
    "投票先",
    "票",
    "候補者",
    "候補者名",
    "政党",
];

/// Field names refused when the (normalised) name contains one of these anywhere.
pub const FORBIDDEN_FIELD_PARTS: [&str; 16] = [
    "mynumber",
    "kojinbang",
    "individualnumber",
    "個人番号",
    "マイナンバー",
    "pincode",
    "passcode",
    "password",
    "暗証番号",
    "パスワード",
    "ballot",
    "candidate",
    "touhyou",
    "tohyo",
    "投票",
    "候補者",
];

static NAMES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    FORBIDDEN_FIELD_NAMES
        .iter()
        .map(|name| normalise_field_name(name))
        .collect()
});

static PARTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FORBIDDEN_FIELD_PARTS
        .iter()
        .map(|part| normalise_field_name(part))
        .collect()
});

/// NFKC, lowercase, without `_ - . ・` (and their full-width forms) or whitespace.
pub fn normalise_field_name(name: &str) -> String {
    name.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| !(c.is_whitespace() || matches!(c, '_' | '-' | '.' | '・')))
        .collect()
}

/// Whether a field of this name would carry a My Number, a PIN or a ballot's content.
pub fn is_forbidden_field(name: &str) -> bool {
    let normalised = normalise_field_name(name);
    NAMES.contains(&normalised) || PARTS.iter().any(|part| normalised.contains(part.as_str()))
}

/// Why a JSON value was refused. The message names where, never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{at} holds a 12-digit number, which could be a My Number: kanjo never stores one; use pseudonymous ids"
    )]
    MyNumberShaped { at: String },
    #[error("{at} would carry a My Number, a PIN or a ballot's content: kanjo never takes one")]
    ForbiddenField { at: String },
}

/// How much of a field name an error message quotes.
const NAME_SHOWN_CHARS_MAX: usize = 64;

/// Refuses a value with a forbidden field at any depth (objects in objects and arrays), or with a
/// 12-digit number anywhere: in a string, a JSON number or a field name.
pub fn check_json(value: &Value) -> Result<(), Refusal> {
    // Explicit stack rather than recursion: depth is whatever the client sent.
    let mut pending: Vec<(&Value, String)> = vec![(value, String::new())];
    while let Some((value, path)) = pending.pop() {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields.iter().rev() {
                    if contains_my_number(name) {
                        return Err(Refusal::MyNumberShaped {
                            at: format!("a field name in {}", describe(&path)),
                        });
                    }
                    let at = field_path(&path, name);
                    if is_forbidden_field(name) {
                        return Err(Refusal::ForbiddenField { at: describe(&at) });
                    }
                    pending.push((field, at));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate().rev() {
                    pending.push((item, format!("{path}[{index}]")));
                }
            }
            Value::String(text) if contains_my_number(text) => {
                return Err(Refusal::MyNumberShaped {
                    at: describe(&path),
                });
            }
            Value::Number(number) if contains_my_number(&number.to_string()) => {
                return Err(Refusal::MyNumberShaped {
                    at: describe(&path),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn field_path(parent: &str, name: &str) -> String {
    let shown: String = name.chars().take(NAME_SHOWN_CHARS_MAX).collect();
    let ellipsis = if shown.len() < name.len() { "…" } else { "" };
    if parent.is_empty() {
        format!("{shown}{ellipsis}")
    } else {
        format!("{parent}.{shown}{ellipsis}")
    }
}

fn describe(path: &str) -> String {
    if path.is_empty() {
        "the value".to_owned()
    } else {
        format!("`{path}`")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Each listed name, and the ways people write it, is refused.
    #[test]
    fn every_listed_name_in_every_spelling_is_refused() {
        for name in FORBIDDEN_FIELD_NAMES.iter().chain(&FORBIDDEN_FIELD_PARTS) {
            let spellings = [
                name.to_string(),
                name.to_uppercase(),
                name.replace('_', "-"),
                name.replace('_', " "),
                name.replace('_', "."),
                name.replace('_', ""),
                camel_case(name),
                full_width(name),
                format!(" {name} "),
            ];
            for spelling in spellings {
                assert!(
                    is_forbidden_field(&spelling),
                    "{spelling:?} was let through"
                );
            }
        }
    }

    #[test]
    fn the_issue_spellings_and_japanese_forms_are_refused() {
        for name in [
            "my_number",
            "MyNumber",
            "MY-NUMBER",
            "my number",
            "my.number",
            "ｍｙ＿ｎｕｍｂｅｒ",
            "ＭｙＮｕｍｂｅｒ",
            "my_number_card",
            "myNumberCard",
            "kojin_bango",
            "KojinBango",
            "individual_number",
            "IndividualNumber",
            "個人番号",
            "マイナンバー",
            "ﾏｲﾅﾝﾊﾞｰ",
            "マイナンバー　カード",
            "pin",
            "PIN",
            "ＰＩＮ",
            "pin_code",
            "PinCode",
            "passcode",
            "暗証番号",
            "ballot",
            "ballot_content",
            "BallotContent",
            "vote",
            "votes",
            "Votes",
            "candidate",
            "投票",
            "投票内容",
            "rider_my_number",
            "myNumberHash",
            "secondary_ballot_choice",
        ] {
            assert!(is_forbidden_field(name), "{name:?} was let through");
        }
    }

    #[test]
    fn innocent_names_pass() {
        for name in [
            "rider",
            "birth_date",
            "residence",
            "license_returned_on",
            "disability",
            "verified_at",
            "valid_until",
            "source",
            "shipping",
            "spinner",
            "voter",
            "voter_id",
            "number",
            "note",
            "extra",
        ] {
            assert!(!is_forbidden_field(name), "{name:?} was refused");
        }
    }

    #[test]
    fn forbidden_fields_are_found_at_any_depth() {
        let refused = [
            json!({"rider": "r-1", "my_number": "x"}),
            json!({"rider": "r-1", "extra": {"my_number": "123456789012"}}),
            json!({"rider": "r-1", "extra": {"deeper": [{"ok": 1}, {"PIN": "1234"}]}}),
            json!({"rider": "r-1", "votes": "candidate A"}),
            json!([{"a": [{"b": {"c": {"投票": "x"}}}]}]),
        ];
        for value in refused {
            assert!(
                matches!(check_json(&value), Err(Refusal::ForbiddenField { .. })),
                "{value}"
            );
        }
    }

    #[test]
    fn twelve_digit_values_are_found_as_numbers_strings_and_names() {
        let refused = [
            json!({"rider": "r-123456789012"}),
            json!({"my_card": 123456789012u64}),
            json!({"x": [1, 2, {"y": "1234 5678 9012"}]}),
            json!({"x": 1234567.89012}),
            json!({"123456789012": true}),
            json!("１２３４５６７８９０１２"),
        ];
        for value in refused {
            assert!(
                matches!(check_json(&value), Err(Refusal::MyNumberShaped { .. })),
                "{value}"
            );
        }
    }

    #[test]
    fn refusals_name_the_field_and_never_the_number() {
        let value = json!({"rider": "r-1", "extra": {"my_number": "123456789012"}});
        let message = check_json(&value).unwrap_err().to_string();
        assert!(message.contains("`extra.my_number`"), "{message}");
        let value = json!({"rider": "r-1", "card": {"no": "123456789012"}});
        let message = check_json(&value).unwrap_err().to_string();
        assert!(message.contains("`card.no`"), "{message}");
        assert!(!message.contains("123456789012"), "{message}");
        let value = json!({"123456789012": 1});
        let message = check_json(&value).unwrap_err().to_string();
        assert!(!message.contains("123456789012"), "{message}");
    }

    #[test]
    fn a_spec_rider_record_passes() {
        let value = json!({"rider":"r-001","birth_date":"1950-06-01","residence":"012050",
            "license_returned_on":null,"disability":false,"verified_at":"2026-04-01",
            "valid_until":"2027-03-31","source":"mynumber-card"});
        assert_eq!(check_json(&value), Ok(()));
    }

    fn camel_case(name: &str) -> String {
        name.split('_')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            })
            .collect()
    }

    fn full_width(name: &str) -> String {
        name.chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).expect("the full-width block"),
                ' ' => '\u{3000}',
                other => other,
            })
            .collect()
    }
}
