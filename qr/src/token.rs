//! Customer-presented one-time QR tokens: the rider's phone shows one, the shop's scanner reads
//! it, and kanjo checks it before the `purchase` enters the pipeline.
//!
//! A rider registers a device key (an Ed25519 public key) once. For each payment the phone signs
//! a short-lived token naming the rider, a fresh random 128-bit nonce, when it was issued and when
//! it expires (at most [`TOKEN_LIFETIME_MAX_S`] later).
//!
//! # Text form (version 1)
//!
//! ```text
//! kq1.<payload>.<signature>
//! ```
//!
//! - `kq1.`: the format and its version.
//! - `<payload>`: base64url without padding (RFC 4648 §5; non-canonical trailing bits are
//!   refused, so each token has exactly one spelling) of the binary payload, big-endian:
//!
//!   | bytes | field |
//!   |---|---|
//!   | 1 | rider id length *n*, 1..=[`RIDER_ID_BYTES_MAX`] |
//!   | *n* | rider id, UTF-8, no NUL |
//!   | 16 | nonce |
//!   | 8 | issued at, unix seconds, u64 |
//!   | 8 | expires at, unix seconds, u64 |
//!
//!   Nothing may follow the last field.
//! - `<signature>`: base64url without padding of the 64-byte Ed25519 signature (RFC 8032,
//!   checked with `verify_strict`) over the ASCII bytes `kq1.` followed by the **binary** payload.
//!   The prefix in the signed message binds the signature to this format and version.
//!
//! A token is at most [`TOKEN_TEXT_CHARS_MAX`] characters, all from `A–Z a–z 0–9 - _ .`, so it
//! needs no escaping in JSON, URLs or a QR's byte mode.
//!
//! # Checks
//!
//! [`verify`] (or [`UnverifiedToken::parse`], then [`UnverifiedToken::verify`] or
//! [`UnverifiedToken::verify_with_any`] for a rider with several devices) refuses, in this
//! order: anything that does not decode as above, a lifetime over [`TOKEN_LIFETIME_MAX_S`] or an
//! expiry before the issue time, a bad signature, an issue time more than
//! [`TOKEN_CLOCK_SKEW_MAX_S`] ahead of `now` — all [`TokenError::Bad`] (`bad_token`) — and then
//! `now > expires_at` as [`TokenError::Expired`] (`token_expired`); `now == expires_at` is still
//! valid. Time is only looked at after the signature, so nobody learns anything about a token's
//! times from a forged one.
//!
//! The skew bound keeps every accepted token's expiry within `now + 60 + 120` s, so the engine
//! can forget a nonce once its token's expiry has passed. Accepting each nonce once is the
//! engine's job: [`VerifiedToken::nonce`] is what it remembers (per rider) until
//! [`VerifiedToken::expires_at_unix_s`].
//!
//! # Public keys
//!
//! A device public key is written as base64url without padding of its 32 bytes (43
//! characters): [`public_key_text`] writes it, [`parse_public_key`] reads it and refuses
//! encodings that are not points on the curve and weak (small-order) keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// The format tag and version, the first four characters of every token.
pub const TOKEN_PREFIX: &str = "kq1.";
/// The longest a token may live: expires_at − issued_at.
pub const TOKEN_LIFETIME_MAX_S: u64 = 120;
/// How far a token's issue time may be ahead of the verifier's clock.
pub const TOKEN_CLOCK_SKEW_MAX_S: u64 = 60;
/// Rider ids, as everywhere in kanjo (`kanjo_rules::limits::MAX_RIDER_ID_BYTES`).
pub const RIDER_ID_BYTES_MAX: usize = 128;
/// Nonce size: 128 random bits.
pub const NONCE_BYTES: usize = 16;
const SIGNATURE_BYTES: usize = 64;
const FIXED_PAYLOAD_BYTES: usize = 1 + NONCE_BYTES + 8 + 8;
/// The largest binary payload.
pub const PAYLOAD_BYTES_MAX: usize = FIXED_PAYLOAD_BYTES + RIDER_ID_BYTES_MAX;
/// The longest token text (306 characters).
pub const TOKEN_TEXT_CHARS_MAX: usize =
    TOKEN_PREFIX.len() + base64_chars(PAYLOAD_BYTES_MAX) + 1 + base64_chars(SIGNATURE_BYTES);
/// Base64url of 32 bytes without padding.
pub const PUBLIC_KEY_TEXT_CHARS: usize = base64_chars(32);

/// Characters of unpadded base64 for `bytes` bytes.
const fn base64_chars(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// The token's 128-bit nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nonce(pub [u8; NONCE_BYTES]);

impl Nonce {
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

impl std::fmt::Display for Nonce {
    /// 32 lower-case hexadecimal digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.as_u128())
    }
}

/// What a token says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenClaims {
    pub rider_id: String,
    pub nonce: Nonce,
    pub issued_at_unix_s: u64,
    pub expires_at_unix_s: u64,
}

/// Why a token was refused. Its `code()` is all a client sees; the detail is for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("bad token: {0}")]
    Bad(#[from] BadToken),
    #[error("token expired at {expires_at_unix_s} (now {now_unix_s})")]
    Expired {
        expires_at_unix_s: u64,
        now_unix_s: u64,
    },
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Bad(_) => "bad_token",
            TokenError::Expired { .. } => "token_expired",
        }
    }
}

/// The detail of a `bad_token`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    #[error("token is {chars} characters; at most {TOKEN_TEXT_CHARS_MAX}")]
    TooLong { chars: usize },
    #[error("token does not start with {TOKEN_PREFIX:?}")]
    WrongPrefix,
    #[error("token has no '.' between payload and signature")]
    NoSignature,
    #[error("{part} is not canonical unpadded base64url")]
    NotBase64 { part: &'static str },
    #[error("signature is {bytes} bytes, not {SIGNATURE_BYTES}")]
    SignatureLength { bytes: usize },
    #[error("payload is {bytes} bytes; a rider id of {rider_id_bytes} bytes needs {expected}")]
    PayloadLength {
        bytes: usize,
        rider_id_bytes: usize,
        expected: usize,
    },
    #[error("rider id is empty")]
    RiderIdEmpty,
    #[error("rider id is {bytes} bytes; at most {RIDER_ID_BYTES_MAX}")]
    RiderIdTooLong { bytes: usize },
    #[error("rider id is not UTF-8")]
    RiderIdNotUtf8,
    #[error("rider id contains NUL")]
    RiderIdNul,
    #[error("expires at {expires_at_unix_s}, before it was issued at {issued_at_unix_s}")]
    ExpiresBeforeIssued {
        issued_at_unix_s: u64,
        expires_at_unix_s: u64,
    },
    #[error("lifetime {lifetime_s} s is over {TOKEN_LIFETIME_MAX_S} s")]
    LifetimeTooLong { lifetime_s: u64 },
    #[error("signature does not verify with this key")]
    BadSignature,
    #[error(
        "issued at {issued_at_unix_s}, more than {TOKEN_CLOCK_SKEW_MAX_S} s after now ({now_unix_s})"
    )]
    IssuedInFuture {
        issued_at_unix_s: u64,
        now_unix_s: u64,
    },
}

/// A token whose signature checked out and which had not expired at `now`. Only [`verify`]
/// makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    claims: TokenClaims,
}

impl VerifiedToken {
    pub fn rider_id(&self) -> &str {
        &self.claims.rider_id
    }

    /// What the engine remembers, per rider, until [`VerifiedToken::expires_at_unix_s`], to
    /// accept the token once (`token_used` after that).
    pub fn nonce(&self) -> Nonce {
        self.claims.nonce
    }

    pub fn issued_at_unix_s(&self) -> u64 {
        self.claims.issued_at_unix_s
    }

    pub fn expires_at_unix_s(&self) -> u64 {
        self.claims.expires_at_unix_s
    }

    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }
}

/// A token that decodes and is well formed, signature not yet checked. Its rider id tells the
/// verifier which device keys to try; nothing else in it is to be trusted before
/// [`UnverifiedToken::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnverifiedToken {
    claims: TokenClaims,
    payload: Vec<u8>,
    signature: Signature,
}

impl UnverifiedToken {
    /// Decodes `token` and checks its form and lifetime.
    pub fn parse(token: &str) -> Result<UnverifiedToken, TokenError> {
        let chars = token.chars().count();
        if chars > TOKEN_TEXT_CHARS_MAX {
            return Err(BadToken::TooLong { chars }.into());
        }
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(BadToken::WrongPrefix)?;
        let (payload_text, signature_text) = rest.split_once('.').ok_or(BadToken::NoSignature)?;
        let payload = decode_base64(payload_text, "payload")?;
        let signature_bytes = decode_base64(signature_text, "signature")?;
        let signature_bytes: [u8; SIGNATURE_BYTES] = signature_bytes
            .as_slice()
            .try_into()
            .map_err(|_| BadToken::SignatureLength {
                bytes: signature_bytes.len(),
            })?;
        let claims = decode_payload(&payload)?;
        let signature = Signature::from_bytes(&signature_bytes);
        Ok(UnverifiedToken {
            claims,
            payload,
            signature,
        })
    }

    /// Whose token it claims to be.
    pub fn rider_id(&self) -> &str {
        &self.claims.rider_id
    }

    /// Checks the signature with `key`, then the time against `now_unix_s`.
    pub fn verify(&self, key: &VerifyingKey, now_unix_s: u64) -> Result<VerifiedToken, TokenError> {
        let message = signed_message(&self.payload);
        key.verify_strict(&message, &self.signature)
            .map_err(|_| BadToken::BadSignature)?;
        let claims = &self.claims;
        if claims.issued_at_unix_s > now_unix_s.saturating_add(TOKEN_CLOCK_SKEW_MAX_S) {
            let issued_at_unix_s = claims.issued_at_unix_s;
            return Err(BadToken::IssuedInFuture {
                issued_at_unix_s,
                now_unix_s,
            }
            .into());
        }
        if now_unix_s > claims.expires_at_unix_s {
            let expires_at_unix_s = claims.expires_at_unix_s;
            return Err(TokenError::Expired {
                expires_at_unix_s,
                now_unix_s,
            });
        }
        Ok(VerifiedToken {
            claims: claims.clone(),
        })
    }
}

impl UnverifiedToken {
    /// Verifies with whichever of the rider's device keys signed the token. A signature that
    /// none of them verifies is `bad_token`; a key that verifies decides the rest.
    pub fn verify_with_any<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k VerifyingKey>,
        now_unix_s: u64,
    ) -> Result<VerifiedToken, TokenError> {
        for key in keys {
            match self.verify(key, now_unix_s) {
                Err(TokenError::Bad(BadToken::BadSignature)) => continue,
                decided => return decided,
            }
        }
        Err(BadToken::BadSignature.into())
    }
}

/// Parses `token` and verifies it with `key` at `now_unix_s`.
pub fn verify(
    token: &str,
    key: &VerifyingKey,
    now_unix_s: u64,
) -> Result<VerifiedToken, TokenError> {
    UnverifiedToken::parse(token)?.verify(key, now_unix_s)
}

/// Signs `claims` with the device key (the phone's side; also the demo and the load generator).
/// Claims that [`verify`] would refuse for their form are refused here.
pub fn sign(claims: &TokenClaims, key: &SigningKey) -> Result<String, BadToken> {
    let payload = encode_payload(claims)?;
    let signature = key.sign(&signed_message(&payload));
    let mut token = String::with_capacity(TOKEN_TEXT_CHARS_MAX);
    token.push_str(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    assert!(token.len() <= TOKEN_TEXT_CHARS_MAX);
    Ok(token)
}

/// Why a device public key was refused (`bad_public_key`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key text is {chars} characters, not {PUBLIC_KEY_TEXT_CHARS}")]
    TextLength { chars: usize },
    #[error("public key is not canonical unpadded base64url")]
    NotBase64,
    #[error("public key is not a point on Ed25519's curve")]
    NotOnCurve,
    #[error("public key is a weak (small-order) point")]
    Weak,
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        "bad_public_key"
    }
}

/// Reads a device public key from its text form: base64url, no padding, 43 characters.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let chars = text.chars().count();
    if chars != PUBLIC_KEY_TEXT_CHARS {
        return Err(KeyError::TextLength { chars });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| KeyError::NotBase64)?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .expect("43 base64 characters are 32 bytes");
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotOnCurve)?;
    if key.is_weak() {
        return Err(KeyError::Weak);
    }
    Ok(key)
}

/// A device public key's text form, as [`parse_public_key`] reads it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_base64(text: &str, part: &'static str) -> Result<Vec<u8>, BadToken> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| BadToken::NotBase64 { part })
}

/// `kq1.` then the binary payload.
fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(TOKEN_PREFIX.len() + payload.len());
    message.extend_from_slice(TOKEN_PREFIX.as_bytes());
    message.extend_from_slice(payload);
    message
}

fn check_claims(claims: &TokenClaims) -> Result<(), BadToken> {
    check_rider_id(claims.rider_id.as_bytes())?;
    let (issued_at_unix_s, expires_at_unix_s) = (claims.issued_at_unix_s, claims.expires_at_unix_s);
    if expires_at_unix_s < issued_at_unix_s {
        return Err(BadToken::ExpiresBeforeIssued {
            issued_at_unix_s,
            expires_at_unix_s,
        });
    }
    let lifetime_s = expires_at_unix_s - issued_at_unix_s;
    if lifetime_s > TOKEN_LIFETIME_MAX_S {
        return Err(BadToken::LifetimeTooLong { lifetime_s });
    }
    Ok(())
}

fn check_rider_id(rider_id: &[u8]) -> Result<(), BadToken> {
    if rider_id.is_empty() {
        return Err(BadToken::RiderIdEmpty);
    }
    if rider_id.len() > RIDER_ID_BYTES_MAX {
        return Err(BadToken::RiderIdTooLong {
            bytes: rider_id.len(),
        });
    }
    if rider_id.contains(&0) {
        return Err(BadToken::RiderIdNul);
    }
    Ok(())
}

fn encode_payload(claims: &TokenClaims) -> Result<Vec<u8>, BadToken> {
    check_claims(claims)?;
    let rider_id = claims.rider_id.as_bytes();
    let mut payload = Vec::with_capacity(FIXED_PAYLOAD_BYTES + rider_id.len());
    payload.push(u8::try_from(rider_id.len()).expect("checked: at most 128 bytes"));
    payload.extend_from_slice(rider_id);
    payload.extend_from_slice(&claims.nonce.0);
    payload.extend_from_slice(&claims.issued_at_unix_s.to_be_bytes());
    payload.extend_from_slice(&claims.expires_at_unix_s.to_be_bytes());
    assert_eq!(payload.len(), FIXED_PAYLOAD_BYTES + rider_id.len());
    Ok(payload)
}

fn decode_payload(payload: &[u8]) -> Result<TokenClaims, BadToken> {
    let Some(&rider_id_length) = payload.first() else {
        let expected = FIXED_PAYLOAD_BYTES;
        return Err(BadToken::PayloadLength {
            bytes: 0,
            rider_id_bytes: 0,
            expected,
        });
    };
    let rider_id_bytes = usize::from(rider_id_length);
    let expected = FIXED_PAYLOAD_BYTES + rider_id_bytes;
    if payload.len() != expected {
        return Err(BadToken::PayloadLength {
            bytes: payload.len(),
            rider_id_bytes,
            expected,
        });
    }
    let (rider_id, rest) = payload[1..].split_at(rider_id_bytes);
    check_rider_id(rider_id)?;
    let rider_id = std::str::from_utf8(rider_id).map_err(|_| BadToken::RiderIdNotUtf8)?;
    let (nonce, times) = rest.split_at(NONCE_BYTES);
    let (issued, expires) = times.split_at(8);
    let claims = TokenClaims {
        rider_id: rider_id.to_owned(),
        nonce: Nonce(nonce.try_into().expect("split at 16")),
        issued_at_unix_s: u64::from_be_bytes(issued.try_into().expect("split at 8")),
        expires_at_unix_s: u64::from_be_bytes(expires.try_into().expect("8 bytes left")),
    };
    check_claims(&claims)?;
    Ok(claims)
}
