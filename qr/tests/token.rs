//! Customer-presented one-time tokens: what verifies, and everything that does not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kanjo_qr::token::{
    BadToken, KeyError, Nonce, RIDER_ID_BYTES_MAX, SigningKey, TOKEN_TEXT_CHARS_MAX, TokenClaims,
    TokenError, UnverifiedToken, parse_public_key, public_key_text, sign, verify,
};

const ISSUED_AT: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn device_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims() -> TokenClaims {
    TokenClaims {
        rider_id: "rider-muroran-0007".to_owned(),
        nonce: Nonce(*b"0123456789abcdef"),
        issued_at_unix_s: ISSUED_AT,
        expires_at_unix_s: ISSUED_AT + 60,
    }
}

fn token() -> String {
    sign(&claims(), &device_key(1)).unwrap()
}

fn bad(token: &str, now_unix_s: u64) -> BadToken {
    match verify(token, &device_key(1).verifying_key(), now_unix_s) {
        Err(TokenError::Bad(detail)) => detail,
        other => panic!("expected bad_token, got {other:?}"),
    }
}

#[test]
fn a_good_token_verifies_and_hands_over_its_nonce() {
    let verified = verify(&token(), &device_key(1).verifying_key(), ISSUED_AT + 5).unwrap();
    assert_eq!(verified.rider_id(), "rider-muroran-0007");
    assert_eq!(verified.nonce(), Nonce(*b"0123456789abcdef"));
    assert_eq!(
        verified.nonce().to_string(),
        "30313233343536373839616263646566"
    );
    assert_eq!(verified.issued_at_unix_s(), ISSUED_AT);
    assert_eq!(verified.expires_at_unix_s(), ISSUED_AT + 60);
    assert_eq!(verified.claims(), &claims());
}

#[test]
fn the_text_form_is_prefix_payload_dot_signature() {
    let token = token();
    let rest = token.strip_prefix("kq1.").unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
    let mut expected = vec![18];
    expected.extend_from_slice(b"rider-muroran-0007");
    expected.extend_from_slice(b"0123456789abcdef");
    expected.extend_from_slice(&ISSUED_AT.to_be_bytes());
    expected.extend_from_slice(&(ISSUED_AT + 60).to_be_bytes());
    assert_eq!(payload, expected);
    assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap().len(), 64);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    );
}

/// A known answer for device-side implementations: the key from seed 01 01 … 01 signing
/// `claims()`. Ed25519 signatures are deterministic, so any RFC 8032 implementation that
/// builds the same payload must produce this text (also in ops/formats/customer-token.md).
const KNOWN_TOKEN: &str = "kq1.EnJpZGVyLW11cm9yYW4tMDAwNzAxMjM0NTY3ODlhYmNkZWYAAAAAaVW5AAAAAABpVbk8.750HM1ZchwTNAeBkGZYBxY373M77dXNFzQb2cNhRQO7l58zl_zyOlEW7UDxc6p4rGANlXqcDSdzSS5QtTF5rAw";

#[test]
fn the_known_answer_token_is_reproduced_and_verifies() {
    assert_eq!(token(), KNOWN_TOKEN);
    assert_eq!(
        public_key_text(&device_key(1).verifying_key()),
        "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"
    );
    let key = parse_public_key("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w").unwrap();
    assert_eq!(
        verify(KNOWN_TOKEN, &key, ISSUED_AT).unwrap().claims(),
        &claims()
    );
}

#[test]
fn signing_is_deterministic() {
    assert_eq!(
        token(),
        token(),
        "Ed25519 signatures are deterministic (RFC 8032)"
    );
}

#[test]
fn the_rider_id_can_be_read_before_choosing_a_key() {
    let unverified = UnverifiedToken::parse(&token()).unwrap();
    assert_eq!(unverified.rider_id(), "rider-muroran-0007");
    let wrong = unverified.verify(&device_key(2).verifying_key(), ISSUED_AT);
    assert_eq!(wrong, Err(TokenError::Bad(BadToken::BadSignature)));
    assert!(
        unverified
            .verify(&device_key(1).verifying_key(), ISSUED_AT)
            .is_ok()
    );
}

#[test]
fn a_token_signed_by_another_key_is_a_bad_token() {
    let error = verify(&token(), &device_key(2).verifying_key(), ISSUED_AT).unwrap_err();
    assert_eq!(error.code(), "bad_token");
    assert_eq!(error, TokenError::Bad(BadToken::BadSignature));
}

#[test]
fn every_changed_character_makes_a_bad_token() {
    let token = token();
    for at in 0..token.len() {
        for replacement in [b'A', b'z', b'0', b'-', b'_', b'.'] {
            let mut edited = token.clone().into_bytes();
            if edited[at] == replacement {
                continue;
            }
            edited[at] = replacement;
            let edited = String::from_utf8(edited).unwrap();
            let error = verify(&edited, &device_key(1).verifying_key(), ISSUED_AT).unwrap_err();
            assert_eq!(error.code(), "bad_token", "{edited}: {error}");
        }
    }
}

#[test]
fn every_flipped_bit_of_the_payload_or_signature_makes_a_bad_token() {
    let token = token();
    let (payload, signature) = token["kq1.".len()..].split_once('.').unwrap();
    let payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let spell = |payload: &[u8], signature: &[u8]| {
        format!(
            "kq1.{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    };
    assert_eq!(spell(&payload, &signature), token);
    for bit in 0..payload.len() * 8 {
        let mut edited = payload.clone();
        edited[bit / 8] ^= 1 << (bit % 8);
        let error = verify(
            &spell(&edited, &signature),
            &device_key(1).verifying_key(),
            ISSUED_AT,
        );
        assert_eq!(error.unwrap_err().code(), "bad_token", "payload bit {bit}");
    }
    for bit in 0..signature.len() * 8 {
        let mut edited = signature.clone();
        edited[bit / 8] ^= 1 << (bit % 8);
        let error = verify(
            &spell(&payload, &edited),
            &device_key(1).verifying_key(),
            ISSUED_AT,
        );
        assert_eq!(
            error.unwrap_err().code(),
            "bad_token",
            "signature bit {bit}"
        );
    }
}

#[test]
fn a_token_is_good_through_its_expiry_second_and_expired_one_second_later() {
    let key = device_key(1).verifying_key();
    let expires_at_unix_s = ISSUED_AT + 60;
    assert!(verify(&token(), &key, expires_at_unix_s).is_ok());
    let expired = verify(&token(), &key, expires_at_unix_s + 1).unwrap_err();
    assert_eq!(
        expired,
        TokenError::Expired {
            expires_at_unix_s,
            now_unix_s: expires_at_unix_s + 1
        }
    );
    assert_eq!(expired.code(), "token_expired");
}

#[test]
fn a_lifetime_of_120_seconds_is_allowed_and_121_is_not() {
    let longest = TokenClaims {
        expires_at_unix_s: ISSUED_AT + 120,
        ..claims()
    };
    let token = sign(&longest, &device_key(1)).unwrap();
    assert!(verify(&token, &device_key(1).verifying_key(), ISSUED_AT + 120).is_ok());

    let too_long = TokenClaims {
        expires_at_unix_s: ISSUED_AT + 121,
        ..claims()
    };
    assert_eq!(
        sign(&too_long, &device_key(1)),
        Err(BadToken::LifetimeTooLong { lifetime_s: 121 })
    );
    let forged = sign_unchecked(&too_long, &device_key(1));
    assert_eq!(
        bad(&forged, ISSUED_AT),
        BadToken::LifetimeTooLong { lifetime_s: 121 }
    );
}

#[test]
fn a_token_that_expires_before_it_was_issued_is_bad() {
    let backwards = TokenClaims {
        expires_at_unix_s: ISSUED_AT - 1,
        ..claims()
    };
    let expected = BadToken::ExpiresBeforeIssued {
        issued_at_unix_s: ISSUED_AT,
        expires_at_unix_s: ISSUED_AT - 1,
    };
    assert_eq!(sign(&backwards, &device_key(1)), Err(expected.clone()));
    assert_eq!(
        bad(&sign_unchecked(&backwards, &device_key(1)), ISSUED_AT),
        expected
    );
}

#[test]
fn a_token_issued_more_than_60_seconds_ahead_of_the_clock_is_bad() {
    let key = device_key(1).verifying_key();
    assert!(verify(&token(), &key, ISSUED_AT - 60).is_ok());
    let now_unix_s = ISSUED_AT - 61;
    let expected = BadToken::IssuedInFuture {
        issued_at_unix_s: ISSUED_AT,
        now_unix_s,
    };
    assert_eq!(bad(&token(), now_unix_s), expected);
}

#[test]
fn rider_ids_hold_1_to_128_bytes_without_nul() {
    let key = device_key(1);
    let with_rider = |rider_id: &str| TokenClaims {
        rider_id: rider_id.to_owned(),
        ..claims()
    };
    let longest = sign(&with_rider(&"r".repeat(RIDER_ID_BYTES_MAX)), &key).unwrap();
    assert!(longest.len() <= TOKEN_TEXT_CHARS_MAX);
    assert_eq!(
        verify(&longest, &key.verifying_key(), ISSUED_AT)
            .unwrap()
            .rider_id()
            .len(),
        128
    );
    let japanese = sign(&with_rider("利用者-室蘭"), &key).unwrap();
    assert_eq!(
        verify(&japanese, &key.verifying_key(), ISSUED_AT)
            .unwrap()
            .rider_id(),
        "利用者-室蘭"
    );

    let too_long = with_rider(&"r".repeat(129));
    assert_eq!(
        sign(&too_long, &key),
        Err(BadToken::RiderIdTooLong { bytes: 129 })
    );
    // A 129-byte rider id makes the text one character longer than any good token.
    assert_eq!(
        bad(&sign_unchecked(&too_long, &key), ISSUED_AT),
        BadToken::TooLong { chars: 307 }
    );
    assert_eq!(sign(&with_rider(""), &key), Err(BadToken::RiderIdEmpty));
    assert_eq!(
        bad(&sign_unchecked(&with_rider(""), &key), ISSUED_AT),
        BadToken::RiderIdEmpty
    );
    assert_eq!(
        sign(&with_rider("rider\0x"), &key),
        Err(BadToken::RiderIdNul)
    );
    assert_eq!(
        bad(&sign_unchecked(&with_rider("rider\0x"), &key), ISSUED_AT),
        BadToken::RiderIdNul
    );
}

#[test]
fn the_rider_id_limit_is_kanjos_rider_id_limit() {
    assert_eq!(RIDER_ID_BYTES_MAX, kanjo_rules::limits::MAX_RIDER_ID_BYTES);
}

#[test]
fn malformed_text_is_a_bad_token_with_its_reason() {
    let token = token();
    let (head, signature) = token.rsplit_once('.').unwrap();
    assert_eq!(
        bad(&token.replacen("kq1.", "kq2.", 1), ISSUED_AT),
        BadToken::WrongPrefix
    );
    assert_eq!(bad(head, ISSUED_AT), BadToken::NoSignature);
    assert_eq!(
        bad(&format!("{head}.{signature}="), ISSUED_AT),
        BadToken::NotBase64 { part: "signature" }
    );
    assert_eq!(
        bad(&format!("{head}.{}", &signature[..84]), ISSUED_AT),
        BadToken::SignatureLength { bytes: 63 }
    );
    assert_eq!(
        bad(&format!("{head}x.{signature}"), ISSUED_AT),
        BadToken::NotBase64 { part: "payload" }
    );
    assert_eq!(
        bad(&"k".repeat(TOKEN_TEXT_CHARS_MAX + 1), ISSUED_AT),
        BadToken::TooLong { chars: 307 }
    );
    let empty_payload = BadToken::PayloadLength {
        bytes: 0,
        rider_id_bytes: 0,
        expected: 33,
    };
    assert_eq!(bad(&format!("kq1..{signature}"), ISSUED_AT), empty_payload);
}

#[test]
fn a_payload_with_bytes_after_the_expiry_is_bad() {
    let mut payload = binary_payload(&claims());
    payload.push(0);
    let token = sign_payload(&payload, &device_key(1));
    let expected = BadToken::PayloadLength {
        bytes: 52,
        rider_id_bytes: 18,
        expected: 51,
    };
    assert_eq!(bad(&token, ISSUED_AT), expected);
}

#[test]
fn a_rider_id_that_is_not_utf8_is_bad() {
    let mut payload = binary_payload(&claims());
    payload[1] = 0xFF;
    assert_eq!(
        bad(&sign_payload(&payload, &device_key(1)), ISSUED_AT),
        BadToken::RiderIdNotUtf8
    );
}

#[test]
fn public_keys_are_43_characters_of_base64url() {
    let key = device_key(7).verifying_key();
    let text = public_key_text(&key);
    assert_eq!(text.len(), 43);
    assert_eq!(parse_public_key(&text), Ok(key));
    let error = parse_public_key(&URL_SAFE_NO_PAD.encode(&key.as_bytes()[..31])).unwrap_err();
    assert_eq!(
        (error.code(), error),
        ("bad_public_key", KeyError::TextLength { chars: 42 })
    );
    assert_eq!(
        parse_public_key(&format!("{text}=")),
        Err(KeyError::TextLength { chars: 44 })
    );
    let standard_alphabet = format!("{}+", &text[..42]);
    assert_eq!(
        parse_public_key(&standard_alphabet),
        Err(KeyError::NotBase64),
        "'+' is not base64url"
    );
    let hex = hex_of(key.as_bytes());
    assert_eq!(
        parse_public_key(&hex),
        Err(KeyError::TextLength { chars: 64 }),
        "hex is not read"
    );
}

#[test]
fn a_rider_with_several_devices_is_verified_by_the_key_that_signed() {
    let unverified = UnverifiedToken::parse(&token()).unwrap();
    let keys = [device_key(3), device_key(1), device_key(4)].map(|key| key.verifying_key());
    let verified = unverified.verify_with_any(&keys, ISSUED_AT).unwrap();
    assert_eq!(verified.claims(), &claims());
    let expired = unverified
        .verify_with_any(&keys, ISSUED_AT + 61)
        .unwrap_err();
    assert_eq!(expired.code(), "token_expired");
    let others = [device_key(3), device_key(4)].map(|key| key.verifying_key());
    let refused = unverified.verify_with_any(&others, ISSUED_AT);
    assert_eq!(refused, Err(TokenError::Bad(BadToken::BadSignature)));
    let no_keys = unverified.verify_with_any(&[], ISSUED_AT);
    assert_eq!(no_keys, Err(TokenError::Bad(BadToken::BadSignature)));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn weak_and_off_curve_public_keys_are_refused() {
    // The identity point (y = 1) has order 1: any signature "verifies" under a weak key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        parse_public_key(&URL_SAFE_NO_PAD.encode(identity)),
        Err(KeyError::Weak)
    );
    // y = 2 is not the y-coordinate of a point on edwards25519.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert_eq!(
        parse_public_key(&URL_SAFE_NO_PAD.encode(off_curve)),
        Err(KeyError::NotOnCurve)
    );
}

/// The binary payload as the format document describes it, written here independently.
fn binary_payload(claims: &TokenClaims) -> Vec<u8> {
    let mut payload = vec![u8::try_from(claims.rider_id.len()).unwrap_or(u8::MAX)];
    payload.extend_from_slice(claims.rider_id.as_bytes());
    payload.extend_from_slice(&claims.nonce.0);
    payload.extend_from_slice(&claims.issued_at_unix_s.to_be_bytes());
    payload.extend_from_slice(&claims.expires_at_unix_s.to_be_bytes());
    payload
}

/// A correctly signed token around any payload: what a buggy or hostile device could send.
fn sign_payload(payload: &[u8], key: &SigningKey) -> String {
    use ed25519_dalek::Signer;
    let mut message = b"kq1.".to_vec();
    message.extend_from_slice(payload);
    let signature = key.sign(&message);
    format!(
        "kq1.{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

fn sign_unchecked(claims: &TokenClaims, key: &SigningKey) -> String {
    sign_payload(&binary_payload(claims), key)
}
