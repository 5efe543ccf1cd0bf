//! Display names → Zengin half-width kana.
//!
//! Bank account names are registered in half-width upper-case kana. Shops and operators type
//! theirs in full-width katakana, hiragana or lower-case romaji; [`to_zengin_kana`] converts what
//! has one obvious Zengin spelling and reports the rest, so a clerk fixes the name instead of the
//! bank bouncing the transfer. It never guesses a reading: kanji, ヶ (ケ or ガ?), ヰ and ヱ are
//! reported, not converted.
//!
//! The rules, all table-driven:
//! - katakana and hiragana → half-width kana; voiced kana become two characters (ガ → ｶﾞ,
//!   パ → ﾊﾟ, ヴ → ｳﾞ);
//! - small kana become large, as Zengin has no small kana (ャ → ﾔ, ッ → ﾂ, ァ → ｱ);
//! - the long-vowel mark becomes a hyphen (ー, ｰ → `-`), the middle dot a full stop (・ → `.`);
//! - full-width letters, digits, space and `( ) , - . / ¥ 「 」` become their half-width forms,
//!   lower case becomes upper case, ¥ becomes `\` (the yen sign's byte).

use crate::charset::is_zengin_char;
use std::fmt;

/// Half-width forms of katakana U+30A1 (ァ) ..= U+30F6 (ヶ), by code point. "" = no conversion.
const KATAKANA_FIRST: u32 = 0x30A1;
#[rustfmt::skip]
const KATAKANA: [&str; 86] = [
    // ァ    ア    ィ    イ    ゥ    ウ    ェ    エ    ォ    オ
    "ｱ", "ｱ", "ｲ", "ｲ", "ｳ", "ｳ", "ｴ", "ｴ", "ｵ", "ｵ",
    // カ    ガ     キ    ギ     ク    グ     ケ    ゲ     コ    ゴ
    "ｶ", "ｶﾞ", "ｷ", "ｷﾞ", "ｸ", "ｸﾞ", "ｹ", "ｹﾞ", "ｺ", "ｺﾞ",
    // サ    ザ     シ    ジ     ス    ズ     セ    ゼ     ソ    ゾ
    "ｻ", "ｻﾞ", "ｼ", "ｼﾞ", "ｽ", "ｽﾞ", "ｾ", "ｾﾞ", "ｿ", "ｿﾞ",
    // タ    ダ     チ    ヂ     ッ    ツ    ヅ     テ    デ     ト    ド
    "ﾀ", "ﾀﾞ", "ﾁ", "ﾁﾞ", "ﾂ", "ﾂ", "ﾂﾞ", "ﾃ", "ﾃﾞ", "ﾄ", "ﾄﾞ",
    // ナ    ニ    ヌ    ネ    ノ
    "ﾅ", "ﾆ", "ﾇ", "ﾈ", "ﾉ",
    // ハ    バ     パ     ヒ    ビ     ピ     フ    ブ     プ     ヘ    ベ     ペ     ホ    ボ     ポ
    "ﾊ", "ﾊﾞ", "ﾊﾟ", "ﾋ", "ﾋﾞ", "ﾋﾟ", "ﾌ", "ﾌﾞ", "ﾌﾟ", "ﾍ", "ﾍﾞ", "ﾍﾟ", "ﾎ", "ﾎﾞ", "ﾎﾟ",
    // マ    ミ    ム    メ    モ
    "ﾏ", "ﾐ", "ﾑ", "ﾒ", "ﾓ",
    // ャ    ヤ    ュ    ユ    ョ    ヨ
    "ﾔ", "ﾔ", "ﾕ", "ﾕ", "ﾖ", "ﾖ",
    // ラ    リ    ル    レ    ロ
    "ﾗ", "ﾘ", "ﾙ", "ﾚ", "ﾛ",
    // ヮ    ワ    ヰ   ヱ   ヲ    ン    ヴ     ヵ    ヶ
    "ﾜ", "ﾜ", "", "", "ｦ", "ﾝ", "ｳﾞ", "ｶ", "",
];

/// Hiragana U+3041 (ぁ) ..= U+3096 (ゖ) sit exactly 0x60 below their katakana.
const HIRAGANA_FIRST: u32 = 0x3041;
const HIRAGANA_LAST: u32 = 0x3096;
const HIRAGANA_TO_KATAKANA: u32 = 0x60;

/// Single characters with one Zengin spelling, outside the kana blocks.
const SYMBOLS: &[(char, &str)] = &[
    // long-vowel marks and dashes
    ('ー', "-"),
    ('\u{FF70}', "-"), // ｰ
    ('－', "-"),
    ('\u{2010}', "-"), // ‐ hyphen
    ('\u{2011}', "-"), // non-breaking hyphen
    ('\u{2212}', "-"), // − minus sign
    // middle dots: banks ask for a full stop in their place
    ('・', "."),
    ('\u{FF65}', "."), // ･
    // full-width punctuation
    ('\u{3000}', " "),
    ('（', "("),
    ('）', ")"),
    ('，', ","),
    ('．', "."),
    ('／', "/"),
    ('「', "\u{FF62}"),
    ('」', "\u{FF63}"),
    // yen signs: the yen sign's JIS X 0201 byte is 0x5C, which Shift_JIS decoders read as `\`
    ('¥', "\\"),
    ('￥', "\\"),
    // voiced marks on their own, spacing or combining
    ('゛', "\u{FF9E}"),
    ('゜', "\u{FF9F}"),
    ('\u{3099}', "\u{FF9E}"),
    ('\u{309A}', "\u{FF9F}"),
];

/// Small half-width kana ｧ..ｯ (U+FF67..=U+FF6F) → their large forms.
const HALF_SMALL_FIRST: u32 = 0xFF67;
const HALF_SMALL: [char; 9] = ['ｱ', 'ｲ', 'ｳ', 'ｴ', 'ｵ', 'ﾔ', 'ﾕ', 'ﾖ', 'ﾂ'];

/// The outcome of converting a display name: the Zengin text of everything convertible, and the
/// characters that had no conversion (each once, in order of appearance; left out of `kana`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KanaConversion {
    pub kana: String,
    pub unconvertible: Vec<char>,
}

impl KanaConversion {
    pub fn is_complete(&self) -> bool {
        self.unconvertible.is_empty()
    }

    /// The Zengin text when every character converted.
    pub fn into_result(self) -> Result<String, UnconvertibleChars> {
        if self.unconvertible.is_empty() {
            Ok(self.kana)
        } else {
            Err(UnconvertibleChars {
                chars: self.unconvertible,
            })
        }
    }
}

/// Characters of a display name that have no Zengin spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no Zengin half-width spelling for {}", crate::error::quote_chars(.chars))]
pub struct UnconvertibleChars {
    pub chars: Vec<char>,
}

impl UnconvertibleChars {
    pub const fn code(&self) -> &'static str {
        "unconvertible_chars"
    }
}

impl fmt::Display for KanaConversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kana)
    }
}

/// Converts a display name to Zengin half-width kana where there is one obvious spelling.
pub fn to_zengin_kana(text: &str) -> KanaConversion {
    let mut kana = String::with_capacity(text.len());
    let mut unconvertible: Vec<char> = Vec::new();
    for c in text.chars() {
        match convert_char(c) {
            Some(Converted::Char(z)) => kana.push(z),
            Some(Converted::Str(z)) => kana.push_str(z),
            None => {
                if !unconvertible.contains(&c) {
                    unconvertible.push(c);
                }
            }
        }
    }
    debug_assert!(kana.chars().all(is_zengin_char));
    KanaConversion {
        kana,
        unconvertible,
    }
}

enum Converted {
    Char(char),
    Str(&'static str),
}

fn convert_char(c: char) -> Option<Converted> {
    if is_zengin_char(c) {
        return Some(Converted::Char(c));
    }
    if c.is_ascii_lowercase() {
        return Some(Converted::Char(c.to_ascii_uppercase()));
    }
    let code = u32::from(c);
    // Full-width ASCII block: Ａ-Ｚ, ａ-ｚ, ０-９ are U+FF01..U+FF5E = ASCII + 0xFEE0.
    if matches!(c, 'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '０'..='９') {
        let ascii = char::from_u32(code - 0xFEE0).expect("full-width ASCII maps to ASCII");
        return Some(Converted::Char(ascii.to_ascii_uppercase()));
    }
    if (HIRAGANA_FIRST..=HIRAGANA_LAST).contains(&code) {
        return katakana(code + HIRAGANA_TO_KATAKANA);
    }
    if (KATAKANA_FIRST..KATAKANA_FIRST + KATAKANA.len() as u32).contains(&code) {
        return katakana(code);
    }
    if (HALF_SMALL_FIRST..HALF_SMALL_FIRST + HALF_SMALL.len() as u32).contains(&code) {
        return Some(Converted::Char(
            HALF_SMALL[(code - HALF_SMALL_FIRST) as usize],
        ));
    }
    SYMBOLS
        .iter()
        .find(|(from, _)| *from == c)
        .map(|(_, to)| Converted::Str(to))
}

fn katakana(code: u32) -> Option<Converted> {
    let half = KATAKANA[(code - KATAKANA_FIRST) as usize];
    (!half.is_empty()).then_some(Converted::Str(half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over kana, CJK, full-width and ASCII alike: the output is Zengin text only, and
        /// every reported character really occurs in the input and has no conversion.
        #[test]
        fn output_is_always_zengin_text_and_every_report_is_true(
            text in "[\\u{3000}-\\u{30FF}\\u{FF00}-\\u{FF9F}\\u{4E00}-\\u{4E2F} -~]{0,40}"
        ) {
            let conversion = to_zengin_kana(&text);
            prop_assert!(conversion.kana.chars().all(is_zengin_char));
            for c in &conversion.unconvertible {
                prop_assert!(text.contains(*c));
                prop_assert!(convert_char(*c).is_none());
            }
            prop_assert_eq!(conversion.is_complete(), text.chars().all(|c| convert_char(c).is_some()));
        }
    }

    fn convert(text: &str) -> String {
        to_zengin_kana(text)
            .into_result()
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn katakana_becomes_half_width() {
        assert_eq!(convert("カ"), "ｶ");
        assert_eq!(convert("ムロラン"), "ﾑﾛﾗﾝ");
    }

    #[test]
    fn voiced_kana_become_two_characters() {
        assert_eq!(convert("ガ"), "ｶﾞ");
        assert_eq!(convert("バス"), "ﾊﾞｽ");
        assert_eq!(convert("パン"), "ﾊﾟﾝ");
        assert_eq!(convert("ヴ"), "ｳﾞ");
    }

    #[test]
    fn small_kana_become_large_as_zengin_writes_them() {
        assert_eq!(convert("キャラメル"), "ｷﾔﾗﾒﾙ");
        assert_eq!(convert("ショウテン"), "ｼﾖｳﾃﾝ");
        assert_eq!(convert("キッテ"), "ｷﾂﾃ");
        assert_eq!(convert("ｷｬﾗﾒﾙ"), "ｷﾔﾗﾒﾙ");
    }

    #[test]
    fn long_vowel_mark_becomes_hyphen() {
        assert_eq!(convert("コーヒー"), "ｺ-ﾋ-");
        assert_eq!(convert("ｺｰﾋｰ"), "ｺ-ﾋ-");
    }

    #[test]
    fn hiragana_converts_like_katakana() {
        assert_eq!(convert("むろらん ばす"), "ﾑﾛﾗﾝ ﾊﾞｽ");
        assert_eq!(convert("きっぷ"), "ｷﾂﾌﾟ");
    }

    #[test]
    fn ascii_lower_case_and_full_width_letters_become_upper_case() {
        assert_eq!(convert("kanjo"), "KANJO");
        assert_eq!(convert("Ｍｕｒｏｒａｎ　１２３"), "MURORAN 123");
    }

    #[test]
    fn company_abbreviations_and_symbols_convert() {
        assert_eq!(convert("カ）ムロラン・バス"), "ｶ)ﾑﾛﾗﾝ.ﾊﾞｽ");
        assert_eq!(convert("（ユ）ヤマダ／ショウテン"), "(ﾕ)ﾔﾏﾀﾞ/ｼﾖｳﾃﾝ");
        assert_eq!(convert("「ミチ」￥"), "｢ﾐﾁ｣\\");
    }

    #[test]
    fn combining_voiced_marks_join_the_kana_before_them() {
        // カ + U+3099 (NFD spelling of ガ)
        assert_eq!(convert("カ\u{3099}ス"), "ｶﾞｽ");
    }

    #[test]
    fn zengin_text_passes_unchanged() {
        assert_eq!(convert("ｶ)ﾑﾛﾗﾝ ﾊﾞｽ 1-2"), "ｶ)ﾑﾛﾗﾝ ﾊﾞｽ 1-2");
    }

    #[test]
    fn kanji_and_ambiguous_kana_are_reported_not_guessed() {
        let conversion = to_zengin_kana("室蘭バス ヶ丘ヰヱ室");
        assert_eq!(conversion.kana, "ﾊﾞｽ ");
        assert_eq!(
            conversion.unconvertible,
            vec!['室', '蘭', 'ヶ', '丘', 'ヰ', 'ヱ']
        );
        let err = conversion.into_result().unwrap_err();
        assert_eq!(err.code(), "unconvertible_chars");
        assert!(err.to_string().contains("'室'"), "{err}");
    }

    #[test]
    fn symbols_without_a_zengin_form_are_reported() {
        let conversion = to_zengin_kana("A&B株式会社");
        assert_eq!(conversion.unconvertible[0], '&');
        assert!(!conversion.is_complete());
    }

    #[test]
    fn the_katakana_table_covers_exactly_its_block() {
        assert_eq!(KATAKANA_FIRST + KATAKANA.len() as u32 - 1, u32::from('ヶ'));
        assert_eq!(HIRAGANA_LAST + HIRAGANA_TO_KATAKANA, u32::from('ヶ'));
        assert_eq!(HIRAGANA_FIRST + HIRAGANA_TO_KATAKANA, KATAKANA_FIRST);
        for (i, half) in KATAKANA.iter().enumerate() {
            assert!(half.chars().all(is_zengin_char), "entry {i}: {half:?}");
        }
        for (from, to) in SYMBOLS {
            assert!(!is_zengin_char(*from), "{from:?} needs no table entry");
            assert!(to.chars().all(is_zengin_char), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn table_spot_checks_against_code_points() {
        // A misaligned row would shift every later entry; check one per row.
        for (full, half) in [
            ('ア', "ｱ"),
            ('ゴ', "ｺﾞ"),
            ('ゾ', "ｿﾞ"),
            ('ド', "ﾄﾞ"),
            ('ノ', "ﾉ"),
            ('ポ', "ﾎﾟ"),
            ('モ', "ﾓ"),
            ('ヨ', "ﾖ"),
            ('ロ', "ﾛ"),
            ('ン', "ﾝ"),
            ('ヲ', "ｦ"),
        ] {
            assert_eq!(convert(&full.to_string()), half, "{full}");
        }
    }
}
