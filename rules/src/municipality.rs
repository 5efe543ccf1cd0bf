//! 全国地方公共団体コード (local government codes, JIS X 0402): five digits and a check digit.
//!
//! Check digit: weights 6,5,4,3,2 on the five digits; check = (11 − Σ mod 11) mod 10.

/// A code that is not six ASCII digits with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityCodeError {
    #[error("municipality code `{0}` must be 6 digits (5 digits and a check digit)")]
    Shape(String),
    #[error("municipality code `{code}` has check digit {got}, expected {expected}")]
    CheckDigit { code: String, got: u8, expected: u8 },
}

/// The check digit of the first five digits.
pub fn check_digit(digits: [u8; 5]) -> u8 {
    const WEIGHTS: [u32; 5] = [6, 5, 4, 3, 2];
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ((11 - sum % 11) % 10) as u8
}

/// Validates a six-digit code and returns it as a number (leading zeros dropped).
pub fn validate(code: &str) -> Result<u32, MunicipalityCodeError> {
    let bytes = code.as_bytes();
    if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(MunicipalityCodeError::Shape(
            code.chars().take(20).collect(),
        ));
    }
    let digit = |i: usize| bytes[i] - b'0';
    let expected = check_digit([digit(0), digit(1), digit(2), digit(3), digit(4)]);
    let got = digit(5);
    if got != expected {
        return Err(MunicipalityCodeError::CheckDigit {
            code: code.to_string(),
            got,
            expected,
        });
    }
    Ok(bytes
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')))
}

/// Six ASCII digits as a number, without the check digit test (for rider data).
pub(crate) fn six_digits(code: &str) -> Option<u32> {
    let bytes = code.as_bytes();
    (bytes.len() == 6 && bytes.iter().all(u8::is_ascii_digit)).then(|| {
        bytes
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_validate() {
        // 室蘭市, 札幌市, 千代田区, むつ市, 坂出市, 加賀市, 境町, 立山町.
        for code in [
            "012050", "011002", "131016", "022080", "372030", "172065", "085421", "163228",
        ] {
            assert!(validate(code).is_ok(), "{code}");
        }
        assert_eq!(validate("012050"), Ok(12050));
    }

    #[test]
    fn a_wrong_check_digit_or_shape_is_rejected() {
        assert!(matches!(
            validate("012051"),
            Err(MunicipalityCodeError::CheckDigit { expected: 0, .. })
        ));
        for bad in ["01205", "0120500", "01205a", "", "０１２０５０"] {
            assert!(
                matches!(validate(bad), Err(MunicipalityCodeError::Shape(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn remainder_zero_gives_check_digit_one() {
        // 0·6+0·5+0·4+0·3+0·2 = 0 → 11 mod 10 = 1.
        assert_eq!(check_digit([0, 0, 0, 0, 0]), 1);
    }
}
