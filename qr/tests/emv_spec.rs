//! The EMVCo Merchant-Presented Mode specification's example payload parses to its fields, and
//! every single wrong thing in it is refused with an error of its own.

use std::collections::BTreeMap;

use kanjo_qr::emv::{
    EmvError, Initiation, LanguageTemplate, MerchantPayload, Scope, TagPath, Template, Tip,
    crc16_ccitt_false, parse, parse_bytes,
};

/// The example payload of the EMV QR Code Specification for Payment Systems, Merchant-Presented
/// Mode (Appendix A), as reproduced by many open-source EMV QR libraries. Tag 64 holds Chinese
/// names: its lengths count characters.
const SPEC_EXAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

fn map(entries: &[(u8, &str)]) -> BTreeMap<u8, String> {
    entries
        .iter()
        .map(|&(tag, value)| (tag, value.to_owned()))
        .collect()
}

fn template(gui: &str, fields: &[(u8, &str)]) -> Template {
    Template {
        globally_unique_id: gui.to_owned(),
        fields: map(fields),
    }
}

fn spec_example_fields() -> MerchantPayload {
    MerchantPayload {
        initiation: Some(Initiation::Dynamic),
        primitive_accounts: BTreeMap::new(),
        account_templates: BTreeMap::from([
            (29, template("D15600000000", &[(5, "A93FO3230Q")])),
            (31, template("D15600000001", &[(3, "12345678")])),
        ]),
        merchant_category_code: "4111".to_owned(),
        currency: "156".to_owned(),
        amount: Some("23.72".to_owned()),
        tip: Some(Tip::Prompt),
        country: "CN".to_owned(),
        merchant_name: "BEST TRANSPORT".to_owned(),
        merchant_city: "BEIJING".to_owned(),
        postal_code: None,
        additional_data: map(&[(3, "1234"), (6, "***"), (7, "A6008667"), (9, "ME")]),
        language: Some(LanguageTemplate {
            language: "ZH".to_owned(),
            merchant_name: "最佳运输".to_owned(),
            merchant_city: Some("北京".to_owned()),
            reserved: BTreeMap::new(),
        }),
        reserved: BTreeMap::new(),
        unreserved_templates: BTreeMap::from([(
            91,
            template("A011223344998877", &[(7, "12345678")]),
        )]),
    }
}

/// `payload` with `from` (which must occur exactly once) replaced by `to`.
fn replace_once(payload: &str, from: &str, to: &str) -> String {
    assert_eq!(payload.matches(from).count(), 1, "{from:?} must occur once");
    payload.replacen(from, to, 1)
}

/// `payload` (ending in `6304XXXX`) with its CRC recomputed, so only the edit is wrong.
fn fix_crc(payload: &str) -> String {
    let body = &payload[..payload.len() - 4];
    assert!(body.ends_with("6304"));
    format!("{body}{:04X}", crc16_ccitt_false(body))
}

fn edited(from: &str, to: &str) -> String {
    fix_crc(&replace_once(SPEC_EXAMPLE, from, to))
}

#[test]
fn the_specification_example_parses_to_its_fields() {
    assert_eq!(parse(SPEC_EXAMPLE), Ok(spec_example_fields()));
}

#[test]
fn the_crc_covers_everything_through_6304_as_utf8() {
    let body = SPEC_EXAMPLE.strip_suffix("A13A").unwrap();
    assert_eq!(crc16_ccitt_false(body), 0xA13A);
    assert_eq!(
        crc16_ccitt_false("123456789"),
        0x29B1,
        "CRC-16/CCITT-FALSE check value"
    );
}

#[test]
fn a_lower_case_crc_is_read() {
    let lower = SPEC_EXAMPLE.replace("6304A13A", "6304a13a");
    assert_eq!(parse(&lower), Ok(spec_example_fields()));
}

#[test]
fn a_wrong_crc_digit_names_both_crcs() {
    let payload = replace_once(SPEC_EXAMPLE, "6304A13A", "6304A13B");
    let expected = EmvError::CrcMismatch {
        expected: "A13A".into(),
        found: "A13B".into(),
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn an_edited_value_with_the_old_crc_is_a_crc_mismatch() {
    let payload = replace_once(SPEC_EXAMPLE, "BEIJING", "BEIJINH");
    assert_eq!(parse(&payload).unwrap_err().code(), "crc_mismatch");
}

#[test]
fn a_crc_that_is_not_hexadecimal_is_refused() {
    let payload = replace_once(SPEC_EXAMPLE, "6304A13A", "6304A13G");
    assert_eq!(
        parse(&payload),
        Err(EmvError::BadCrcField {
            found: "A13G".into()
        })
    );
}

#[test]
fn a_missing_crc_is_refused() {
    let payload = SPEC_EXAMPLE.strip_suffix("6304A13A").unwrap();
    assert_eq!(parse(payload), Err(EmvError::CrcMissing { last_tag: 91 }));
}

#[test]
fn a_crc_before_the_last_data_object_is_refused() {
    let tag_91 = "91320016A011223344998877070812345678";
    let payload = replace_once(SPEC_EXAMPLE, &format!("{tag_91}6304A13A"), "");
    let payload = format!("{payload}6304A13A{tag_91}");
    let position = payload.chars().count() - tag_91.len() - 8;
    assert_eq!(parse(&payload), Err(EmvError::CrcNotLast { position }));
}

#[test]
fn a_length_digit_made_larger_misframes_the_rest() {
    // 59 now swallows the "6" of 60, and what follows starts "00" "7B".
    let payload = replace_once(SPEC_EXAMPLE, "5914BEST", "5915BEST");
    let position = SPEC_EXAMPLE.find("6007BEIJING").unwrap() + 1 + 2;
    let expected = EmvError::BadLength {
        path: TagPath::top(0),
        position,
        found: "7B".into(),
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn a_length_digit_made_smaller_misframes_the_rest() {
    // 59 now ends before the last "T", which becomes the start of a tag.
    let payload = replace_once(SPEC_EXAMPLE, "5914BEST", "5913BEST");
    let position = SPEC_EXAMPLE.find("6007BEIJING").unwrap() - 1;
    let expected = EmvError::BadTag {
        scope: Scope::Top,
        position,
        found: "T6".into(),
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn a_length_that_is_not_digits_is_refused() {
    let payload = replace_once(SPEC_EXAMPLE, "5914BEST", "59X4BEST");
    let position = SPEC_EXAMPLE.find("5914BEST").unwrap() + 2;
    let expected = EmvError::BadLength {
        path: TagPath::top(59),
        position,
        found: "X4".into(),
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn a_length_running_past_the_end_is_refused() {
    let payload = replace_once(SPEC_EXAMPLE, "6304A13A", "6305A13A");
    let expected = EmvError::LengthPastEnd {
        path: TagPath::top(63),
        length: 5,
        available: 4,
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn a_zero_length_is_refused() {
    let payload = edited("6007BEIJING", "6007BEIJING6100");
    assert_eq!(
        parse(&payload),
        Err(EmvError::EmptyValue {
            path: TagPath::top(61)
        })
    );
}

#[test]
fn a_fragment_too_short_for_a_tag_and_length_is_refused() {
    let expected = EmvError::TruncatedHeader {
        scope: Scope::Top,
        position: 6,
        remaining: 3,
    };
    assert_eq!(parse("000201630"), Err(expected));
}

#[test]
fn lengths_count_characters_so_a_byte_count_runs_past_the_template_end() {
    // 最佳运输 is 4 characters but 12 UTF-8 bytes.
    let payload = edited("0104最佳运输", "0112最佳运输");
    let expected = EmvError::LengthPastEnd {
        path: TagPath::sub(64, 1),
        length: 12,
        available: 10,
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn each_removed_required_tag_is_named() {
    let cases = [
        ("52044111", 52, "merchant category code"),
        ("5303156", 53, "transaction currency"),
        ("5802CN", 58, "country code"),
        ("5914BEST TRANSPORT", 59, "merchant name"),
        ("6007BEIJING", 60, "merchant city"),
    ];
    for (field, tag, name) in cases {
        let expected = EmvError::MissingTag {
            path: TagPath::top(tag),
            name,
        };
        assert_eq!(parse(&edited(field, "")), Err(expected), "without {field}");
        let old_crc = replace_once(SPEC_EXAMPLE, field, "");
        assert_eq!(
            parse(&old_crc).unwrap_err().code(),
            "crc_mismatch",
            "without {field}"
        );
    }
}

#[test]
fn a_removed_payload_format_indicator_is_named() {
    let payload = edited("000201", "");
    let expected = EmvError::MissingTag {
        path: TagPath::top(0),
        name: "payload format indicator",
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn removing_every_merchant_account_is_refused() {
    let payload = edited("29300012D156000000000510A93FO3230Q", "");
    let payload = fix_crc(&replace_once(
        &payload,
        "31280012D15600000001030812345678",
        "",
    ));
    assert_eq!(parse(&payload), Err(EmvError::MissingMerchantAccount));
}

#[test]
fn a_duplicated_tag_is_refused() {
    let payload = edited("5802CN", "5802CN5802CN");
    assert_eq!(
        parse(&payload),
        Err(EmvError::DuplicateTag {
            path: TagPath::top(58)
        })
    );
}

#[test]
fn a_duplicated_sub_tag_is_refused_with_its_template_path() {
    let payload = edited("62330304", "6241030412340304");
    assert_eq!(
        parse(&payload),
        Err(EmvError::DuplicateTag {
            path: TagPath::sub(62, 3)
        })
    );
}

#[test]
fn a_template_without_its_globally_unique_identifier_is_refused() {
    let payload = edited("29300012D156000000000510A93FO3230Q", "29140510A93FO3230Q");
    let name = "globally unique identifier";
    assert_eq!(
        parse(&payload),
        Err(EmvError::MissingTag {
            path: TagPath::sub(29, 0),
            name
        })
    );
}

#[test]
fn a_bad_length_inside_a_template_names_the_sub_tag() {
    let payload = edited("0510A93FO3230Q", "05X0A93FO3230Q");
    let position = SPEC_EXAMPLE.find("0510A93FO3230Q").unwrap() + 2;
    let expected = EmvError::BadLength {
        path: TagPath::sub(29, 5),
        position,
        found: "X0".into(),
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn the_payload_format_indicator_must_come_first_and_be_01() {
    let swapped = edited("000201010212", "010212000201");
    assert_eq!(
        parse(&swapped),
        Err(EmvError::PayloadFormatIndicatorNotFirst)
    );
    let version_2 = edited("000201010212", "000202010212");
    let expected = EmvError::BadPayloadFormatIndicator { found: "02".into() };
    assert_eq!(parse(&version_2), Err(expected));
}

#[test]
fn each_badly_formed_value_gets_its_own_error() {
    let amount_reason = "only digits and one '.' are allowed";
    let cases = [
        (
            "010212",
            "010213",
            EmvError::BadPointOfInitiation { found: "13".into() },
        ),
        (
            "52044111",
            "520441A1",
            EmvError::BadMerchantCategoryCode {
                found: "41A1".into(),
            },
        ),
        (
            "5303156",
            "530215",
            EmvError::BadCurrency { found: "15".into() },
        ),
        (
            "5303156",
            "5303JPY",
            EmvError::BadCurrency {
                found: "JPY".into(),
            },
        ),
        (
            "5802CN",
            "5802C1",
            EmvError::BadCountry { found: "C1".into() },
        ),
        (
            "5802CN",
            "5803CHN",
            EmvError::BadCountry {
                found: "CHN".into(),
            },
        ),
        (
            "540523.72",
            "540523,72",
            EmvError::BadAmount {
                path: TagPath::top(54),
                found: "23,72".into(),
                reason: amount_reason,
            },
        ),
        (
            "64200002ZH",
            "64210003ZHO",
            EmvError::BadLanguage {
                found: "ZHO".into(),
            },
        ),
        (
            "550201",
            "550204",
            EmvError::BadTip {
                reason: "tag 55 is not 01, 02 or 03",
            },
        ),
    ];
    let mut codes = Vec::new();
    for (from, to, expected) in cases {
        let payload = edited(from, to);
        codes.push(expected.code());
        assert_eq!(parse(&payload), Err(expected), "{from} → {to}");
    }
    codes.dedup();
    assert_eq!(codes.len(), 7, "one code per kind of value: {codes:?}");
}

#[test]
fn amounts_follow_the_emvco_format() {
    let amount = |text: &str| {
        let field = format!("54{:02}{text}", text.chars().count());
        parse(&edited("540523.72", &field))
    };
    assert!(amount("98").is_ok());
    assert!(amount("98.").is_ok(), "a decimal mark may end the amount");
    assert!(amount("0.5").is_ok());
    assert_eq!(amount("0.00").unwrap_err().code(), "bad_amount");
    assert_eq!(amount("-5").unwrap_err().code(), "bad_amount");
    assert_eq!(amount(".5").unwrap_err().code(), "bad_amount");
    assert_eq!(amount("1.2.3").unwrap_err().code(), "bad_amount");
    assert_eq!(amount("12345678901.5").map(|_| ()), Ok(()), "13 characters");
    assert_eq!(amount("123456789012.5").unwrap_err().code(), "bad_amount");
}

#[test]
fn names_and_cities_are_limited_and_ascii() {
    let name = "A".repeat(26);
    let payload = edited("5914BEST TRANSPORT", &format!("5926{name}"));
    let expected = EmvError::ValueTooLong {
        path: TagPath::top(59),
        chars: 26,
        max: 25,
    };
    assert_eq!(parse(&payload), Err(expected));
    let payload = edited("6007BEIJING", "6002北京");
    assert_eq!(
        parse(&payload),
        Err(EmvError::BadCharacters {
            path: TagPath::top(60)
        })
    );
}

#[test]
fn a_control_character_is_refused_wherever_it_is() {
    let payload = edited("BEST TRANSPORT", "BEST\tTRANSPORT");
    let position = SPEC_EXAMPLE.find("BEST TRANSPORT").unwrap() + 4;
    let expected = EmvError::ControlCharacter {
        position,
        code_point: 0x09,
    };
    assert_eq!(parse(&payload), Err(expected));
}

#[test]
fn bytes_that_are_not_utf8_are_refused() {
    let mut bytes = SPEC_EXAMPLE.as_bytes().to_vec();
    let at = SPEC_EXAMPLE.find("BEIJING").unwrap();
    bytes[at] = 0xFF;
    assert_eq!(
        parse_bytes(&bytes),
        Err(EmvError::NotUtf8 { byte_offset: at })
    );
    assert_eq!(
        parse_bytes(SPEC_EXAMPLE.as_bytes()),
        Ok(spec_example_fields())
    );
}

#[test]
fn a_payload_over_512_characters_is_refused() {
    let filler = format!("8099{}", "x".repeat(99));
    let mut body = SPEC_EXAMPLE
        .strip_suffix("A13A")
        .unwrap()
        .strip_suffix("6304")
        .unwrap()
        .to_owned();
    for tag in 80..=82 {
        body.push_str(&filler.replacen("80", &tag.to_string(), 1));
    }
    let payload = fix_crc(&format!("{body}6304A13A"));
    let chars = payload.chars().count();
    assert!(chars > 512);
    assert_eq!(parse(&payload), Err(EmvError::TooLong { chars, max: 512 }));
}

#[test]
fn every_single_ascii_substitution_of_the_example_is_refused() {
    // CRC-16 catches every error within 16 consecutive bits, so any one changed ASCII
    // character is caught (if the framing or a value check does not catch it first).
    let chars: Vec<char> = SPEC_EXAMPLE.chars().collect();
    let mut tried = 0;
    for (position, &original) in chars.iter().enumerate() {
        if !original.is_ascii() {
            continue;
        }
        for replacement in (0x20u8..=0x7E).map(char::from) {
            let crc_case_only =
                position >= chars.len() - 4 && original.eq_ignore_ascii_case(&replacement);
            if replacement == original || crc_case_only {
                continue;
            }
            let mut edited = chars.clone();
            edited[position] = replacement;
            let edited: String = edited.into_iter().collect();
            assert!(parse(&edited).is_err(), "accepted {edited}");
            tried += 1;
        }
    }
    assert!(tried > 20_000);
}

#[test]
fn every_error_has_its_own_stable_snake_case_code() {
    let path = TagPath::top(59);
    let errors = [
        EmvError::TooLong {
            chars: 513,
            max: 512,
        },
        EmvError::NotUtf8 { byte_offset: 0 },
        EmvError::ControlCharacter {
            position: 0,
            code_point: 0,
        },
        EmvError::BadTag {
            scope: Scope::Top,
            position: 0,
            found: String::new(),
        },
        EmvError::TruncatedHeader {
            scope: Scope::Top,
            position: 0,
            remaining: 0,
        },
        EmvError::BadLength {
            path,
            position: 0,
            found: String::new(),
        },
        EmvError::LengthPastEnd {
            path,
            length: 0,
            available: 0,
        },
        EmvError::EmptyValue { path },
        EmvError::CrcMissing { last_tag: 0 },
        EmvError::CrcNotLast { position: 0 },
        EmvError::BadCrcField {
            found: String::new(),
        },
        EmvError::CrcMismatch {
            expected: String::new(),
            found: String::new(),
        },
        EmvError::DuplicateTag { path },
        EmvError::MissingTag { path, name: "" },
        EmvError::MissingMerchantAccount,
        EmvError::PayloadFormatIndicatorNotFirst,
        EmvError::BadPayloadFormatIndicator {
            found: String::new(),
        },
        EmvError::BadPointOfInitiation {
            found: String::new(),
        },
        EmvError::BadMerchantCategoryCode {
            found: String::new(),
        },
        EmvError::BadCurrency {
            found: String::new(),
        },
        EmvError::BadAmount {
            path,
            found: String::new(),
            reason: "",
        },
        EmvError::BadTip { reason: "" },
        EmvError::BadCountry {
            found: String::new(),
        },
        EmvError::BadLanguage {
            found: String::new(),
        },
        EmvError::ValueTooLong {
            path,
            chars: 0,
            max: 0,
        },
        EmvError::BadCharacters { path },
        EmvError::TagOutOfRange { path, allowed: "" },
    ];
    let mut codes: Vec<&str> = errors.iter().map(EmvError::code).collect();
    for code in &codes {
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{code}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len(), "codes are unique");
    assert_eq!(TagPath::sub(26, 1).to_string(), "26.01");
    assert_eq!(TagPath::top(5).to_string(), "05");
}
