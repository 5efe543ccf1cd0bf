//! The Zengin half-width character set and its Shift_JIS bytes.
//!
//! Text fields (C) carry only these characters, each one byte in Shift_JIS (JIS X 0201):
//!
//! | characters | Shift_JIS bytes |
//! | --- | --- |
//! | `0`–`9` | 0x30–0x39 |
//! | `A`–`Z` (upper case only) | 0x41–0x5A |
//! | space | 0x20 |
//! | `(` `)` `,` `-` `.` `/` | 0x28 0x29 0x2C 0x2D 0x2E 0x2F |
//! | `\` (the yen sign ¥ in JIS X 0201) | 0x5C |
//! | `｢` `｣` (half-width corner brackets) | 0xA2 0xA3 |
//! | `ｦ`, `ｱ`–`ﾝ` (large kana only) | 0xA6, 0xB1–0xDD |
//! | `ﾞ` `ﾟ` (voiced / semi-voiced marks, one byte each) | 0xDE 0xDF |
//!
//! Not allowed: lower case letters, small kana `ｧ`–`ｯ`, the long-vowel mark `ｰ` (write `-`),
//! `｡` `､` `･` and every other symbol. Banks publish slightly different lists; this is the set
//! the 全銀協 data-transmission character table gives (kana incl. ｦ, ﾞ ﾟ, A–Z, 0–9, space and
//! `( ) , - . / ¥ ｢ ｣`). A bank that refuses one of the rarer symbols (¥ ｢ ｣ ,) refuses the
//! whole file at upload, never pays a wrong account.

use encoding_rs::SHIFT_JIS;

/// True for a character a Zengin text field may carry.
pub const fn is_zengin_char(c: char) -> bool {
    matches!(
        c,
        '0'..='9'
            | 'A'..='Z'
            | ' '
            | '('
            | ')'
            | ','
            | '-'
            | '.'
            | '/'
            | '\\'
            | '\u{FF62}' // ｢
            | '\u{FF63}' // ｣
            | '\u{FF66}' // ｦ
            | '\u{FF71}'..='\u{FF9D}' // ｱ..ﾝ
            | '\u{FF9E}' // ﾞ
            | '\u{FF9F}' // ﾟ
    )
}

/// True for a byte that encodes a Zengin character in Shift_JIS.
pub const fn is_zengin_byte(b: u8) -> bool {
    matches!(
        b,
        b'0'..=b'9'
            | b'A'..=b'Z'
            | b' '
            | b'('
            | b')'
            | b','
            | b'-'
            | b'.'
            | b'/'
            | b'\\'
            | 0xA2
            | 0xA3
            | 0xA6
            | 0xB1..=0xDF
    )
}

/// The characters of `text` that are not Zengin characters, each once, in order of appearance.
pub fn non_zengin_chars(text: &str) -> Vec<char> {
    let mut bad: Vec<char> = Vec::new();
    for c in text.chars() {
        if !is_zengin_char(c) && !bad.contains(&c) {
            bad.push(c);
        }
    }
    bad
}

/// Shift_JIS bytes of a text made only of Zengin characters: exactly one byte per character.
///
/// Panics when `text` holds a non-Zengin character: callers validate first.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let (bytes, _, had_errors) = SHIFT_JIS.encode(text);
    assert!(
        !had_errors,
        "validated text must encode to Shift_JIS: {text:?}"
    );
    assert_eq!(
        bytes.len(),
        text.chars().count(),
        "Zengin characters are single bytes in Shift_JIS: {text:?}"
    );
    debug_assert!(bytes.iter().all(|b| is_zengin_byte(*b)));
    bytes.into_owned()
}

/// The text of Zengin bytes, or the first byte (with its index) that is not one.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, (usize, u8)> {
    if let Some(index) = bytes.iter().position(|b| !is_zengin_byte(*b)) {
        return Err((index, bytes[index]));
    }
    let text = SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .expect("Zengin bytes are valid single-byte Shift_JIS");
    debug_assert_eq!(text.chars().count(), bytes.len());
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zengin_byte_decodes_to_a_zengin_char_and_back() {
        let mut count = 0;
        for b in 0u8..=255 {
            if !is_zengin_byte(b) {
                continue;
            }
            count += 1;
            let text = decode(&[b]).expect("zengin byte decodes");
            let c = text.chars().next().expect("one char");
            assert!(is_zengin_char(c), "byte {b:#04X} decoded to {c:?}");
            assert_eq!(encode(&text), vec![b]);
        }
        // 10 digits + 26 letters + space + 7 symbols + ｢｣ + ｦ + 45 kana ｱ..ﾝ + ﾞﾟ
        assert_eq!(count, 10 + 26 + 1 + 7 + 2 + 1 + 45 + 2);
    }

    #[test]
    fn every_zengin_char_is_one_shift_jis_byte() {
        let all: String = (0u32..0x1_0000)
            .filter_map(char::from_u32)
            .filter(|c| is_zengin_char(*c))
            .collect();
        assert_eq!(encode(&all).len(), all.chars().count());
    }

    #[test]
    fn yen_sign_is_the_backslash_byte() {
        assert_eq!(encode("\\"), vec![0x5C]);
        assert_eq!(decode(&[0x5C]).unwrap(), "\\");
    }

    #[test]
    fn small_kana_long_vowel_and_lower_case_are_refused() {
        assert_eq!(non_zengin_chars("ｷｬﾗﾒﾙ"), vec!['ｬ']);
        assert_eq!(non_zengin_chars("ｺｰﾋｰ"), vec!['ｰ']);
        assert_eq!(non_zengin_chars("Kanjo"), vec!['a', 'n', 'j', 'o']);
        assert_eq!(non_zengin_chars("ｶ)ﾑﾛﾗﾝ ﾊﾞｽ"), Vec::<char>::new());
    }

    #[test]
    fn decode_names_the_first_bad_byte() {
        assert_eq!(decode(b"AB\x82\xA0"), Err((2, 0x82)));
        assert_eq!(decode(&[b'A', 0xB0]), Err((1, 0xB0))); // ｰ
        assert_eq!(decode(b"ab"), Err((0, b'a')));
    }
}
