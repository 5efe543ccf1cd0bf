//! API keys: bearer tokens, and the records kanjo logs instead of them.
//!
//! # Token
//!
//! ```text
//! kjo_3f2a9c0d1e4b5a69_9b1c…(64 lowercase hex digits)…e07d
//! ```
//!
//! `kjo_`, the key id (8 random bytes as 16 lowercase hex digits), `_`, then the secret: 32
//! random bytes (256 bits) as 64 lowercase hex digits. [`TOKEN_CHARS`] = 85 characters, all
//! `[0-9a-f_kjo]`, so a token needs no escaping anywhere and is easy to scan for if it leaks.
//! The key id is not secret: it lets [`crate::KeyBook`] find the one record to compare with,
//! without comparing every hash. The token is printed once, when made; kanjo keeps only its
//! hash.
//!
//! # Key record
//!
//! What the log holds for a key, as canonical JSON (fields in this order; absent optional
//! fields are left out):
//!
//! ```json
//! {"key_id":"3f2a9c0d1e4b5a69","role":"operator:donan-bus","created_at_unix_s":1767225600,
//!  "expires_at_unix_s":1798761600,"token_sha256":"<64 hex>","revoked":{"at_unix_s":1780000000}}
//! ```
//!
//! - `token_sha256`: SHA-256 of the token's 85 ASCII bytes, lowercase hex. A token is 256
//!   random bits, so a plain hash (no salt, no stretching) is enough: nobody can search that
//!   space, and the hash lets kanjo compare without storing anything that would authenticate.
//! - Times are **unix seconds** (UTC), as in `kanjo-qr`'s tokens. A key is valid up to and
//!   including the second `expires_at_unix_s`, and expired when `now > expires_at_unix_s`; an
//!   expiry must be after `created_at_unix_s`. No `expires_at_unix_s`: the key does not expire.
//! - `revoked` is present once a [`KeyChange::Revoke`] has been applied; revocation takes
//!   effect when it is applied, whatever its time says.
//!
//! Keys reach the log as [`KeyChange`]s (`{"change":"create","key":{…}}`,
//! `{"change":"revoke","key_id":"…","at_unix_s":…}`), applied in log order by
//! [`crate::KeyBook::apply`].
//!
//! [`TOKEN_CHARS`]: crate::TOKEN_CHARS

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::random::{RandomError, os_random};
use crate::role::{Role, RoleError};
use crate::{
    KEY_CHANGE_JSON_BYTES_MAX, KEY_ID_HEX_CHARS, TOKEN_CHARS, TOKEN_PREFIX, TOKEN_SECRET_BYTES,
};

/// A key's public name: 8 random bytes, written as 16 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u64);

impl KeyId {
    pub fn from_bytes(bytes: [u8; 8]) -> KeyId {
        KeyId(u64::from_be_bytes(bytes))
    }

    /// Exactly [`KEY_ID_HEX_CHARS`] lowercase hex digits.
    pub fn parse(text: &str) -> Result<KeyId, KeyRecordError> {
        let bad = || KeyRecordError::BadKeyId(text.chars().take(2 * KEY_ID_HEX_CHARS).collect());
        if text.len() != KEY_ID_HEX_CHARS || !is_lower_hex(text) {
            return Err(bad());
        }
        u64::from_str_radix(text, 16).map(KeyId).map_err(|_| bad())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for KeyId {
    type Err = KeyRecordError;

    fn from_str(text: &str) -> Result<KeyId, KeyRecordError> {
        KeyId::parse(text)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        KeyId::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// SHA-256 of a token's text: what a key record keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of_token_text(token_text: &str) -> TokenHash {
        TokenHash(Sha256::digest(token_text.as_bytes()).into())
    }

    /// 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<TokenHash, KeyRecordError> {
        let mut bytes = [0u8; 32];
        if text.len() != 64 || !is_lower_hex(text) {
            return Err(KeyRecordError::BadTokenHash);
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyRecordError::BadTokenHash)?;
        Ok(TokenHash(bytes))
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({self})")
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenHash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        TokenHash::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A bearer token in clear. It exists once, when a key is made, to be printed; `Debug` shows
/// only its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    text: String,
    key_id: KeyId,
}

impl Token {
    /// The token's text, to hand to the key's holder. Never log it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({TOKEN_PREFIX}{}_…)", self.key_id())
    }
}

/// The key id a token's text names, if the text has the token's exact shape.
pub(crate) fn parse_token_text(text: &str) -> Option<KeyId> {
    if text.len() != TOKEN_CHARS {
        return None;
    }
    let rest = text.strip_prefix(TOKEN_PREFIX)?;
    let (key_id, secret) = rest.split_at_checked(KEY_ID_HEX_CHARS)?;
    let secret = secret.strip_prefix('_')?;
    if secret.len() != 2 * TOKEN_SECRET_BYTES || !is_lower_hex(secret) {
        return None;
    }
    KeyId::parse(key_id).ok()
}

/// The random bytes a key is made from. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEntropy {
    pub key_id: [u8; 8],
    pub secret: [u8; TOKEN_SECRET_BYTES],
}

impl TokenEntropy {
    /// Fresh bytes from the operating system's RNG ([`crate::random::os_random`]).
    pub fn from_os_rng() -> Result<TokenEntropy, RandomError> {
        Ok(TokenEntropy {
            key_id: os_random()?,
            secret: os_random()?,
        })
    }
}

impl fmt::Debug for TokenEntropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenEntropy {{ key_id: {}, secret: … }}",
            KeyId::from_bytes(self.key_id)
        )
    }
}

/// A key just made: the token to print once, and the record to log.
#[derive(Debug)]
pub struct NewKey {
    pub token: Token,
    pub record: KeyRecord,
}

/// Makes a key for `role` from the operating system's RNG: 256 random bits of secret.
pub fn generate_token(
    role: Role,
    created_at_unix_s: u64,
    expires_at_unix_s: Option<u64>,
) -> Result<NewKey, KeyRecordError> {
    let entropy = TokenEntropy::from_os_rng()?;
    token_from_entropy(&entropy, role, created_at_unix_s, expires_at_unix_s)
}

/// [`generate_token`] with the random bytes handed in: deterministic, for tests.
pub fn token_from_entropy(
    entropy: &TokenEntropy,
    role: Role,
    created_at_unix_s: u64,
    expires_at_unix_s: Option<u64>,
) -> Result<NewKey, KeyRecordError> {
    let key_id = KeyId::from_bytes(entropy.key_id);
    let text = format!("{TOKEN_PREFIX}{key_id}_{}", hex::encode(entropy.secret));
    assert_eq!(parse_token_text(&text), Some(key_id));
    let record = KeyRecord::new(
        key_id,
        role,
        created_at_unix_s,
        expires_at_unix_s,
        TokenHash::of_token_text(&text),
    )?;
    Ok(NewKey {
        token: Token { text, key_id },
        record,
    })
}

/// When a key was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub at_unix_s: u64,
}

/// One key, as logged and listed. Never holds the token, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawKeyRecord")]
pub struct KeyRecord {
    key_id: KeyId,
    role: Role,
    created_at_unix_s: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at_unix_s: Option<u64>,
    token_sha256: TokenHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<Revocation>,
}

/// The JSON as read, before its fields are checked together.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyRecord {
    key_id: KeyId,
    role: Role,
    created_at_unix_s: u64,
    #[serde(default)]
    expires_at_unix_s: Option<u64>,
    token_sha256: TokenHash,
    #[serde(default)]
    revoked: Option<Revocation>,
}

impl TryFrom<RawKeyRecord> for KeyRecord {
    type Error = KeyRecordError;

    fn try_from(raw: RawKeyRecord) -> Result<KeyRecord, KeyRecordError> {
        let mut record = KeyRecord::new(
            raw.key_id,
            raw.role,
            raw.created_at_unix_s,
            raw.expires_at_unix_s,
            raw.token_sha256,
        )?;
        record.revoked = raw.revoked;
        Ok(record)
    }
}

impl KeyRecord {
    /// A new, unrevoked key. Refuses an invalid role and an expiry not after creation.
    pub fn new(
        key_id: KeyId,
        role: Role,
        created_at_unix_s: u64,
        expires_at_unix_s: Option<u64>,
        token_sha256: TokenHash,
    ) -> Result<KeyRecord, KeyRecordError> {
        role.check()?;
        if let Some(expires_at_unix_s) = expires_at_unix_s
            && expires_at_unix_s <= created_at_unix_s
        {
            return Err(KeyRecordError::ExpiresBeforeCreation {
                created_at_unix_s,
                expires_at_unix_s,
            });
        }
        Ok(KeyRecord {
            key_id,
            role,
            created_at_unix_s,
            expires_at_unix_s,
            token_sha256,
            revoked: None,
        })
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn created_at_unix_s(&self) -> u64 {
        self.created_at_unix_s
    }

    pub fn expires_at_unix_s(&self) -> Option<u64> {
        self.expires_at_unix_s
    }

    pub fn token_sha256(&self) -> &TokenHash {
        &self.token_sha256
    }

    pub fn revoked(&self) -> Option<Revocation> {
        self.revoked
    }

    /// Valid through `expires_at_unix_s` inclusive.
    pub fn is_expired(&self, now_unix_s: u64) -> bool {
        self.expires_at_unix_s
            .is_some_and(|expires_at_unix_s| now_unix_s > expires_at_unix_s)
    }

    pub(crate) fn revoke(&mut self, revocation: Revocation) {
        assert!(self.revoked.is_none(), "a key is revoked once");
        self.revoked = Some(revocation);
    }

    /// The canonical JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a key record always serialises")
    }
}

/// One change to the key book, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyChange {
    Create { key: KeyRecord },
    Revoke { key_id: KeyId, at_unix_s: u64 },
}

impl KeyChange {
    /// The canonical JSON: what the log stores and the chain hashes.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string(self).expect("a key change always serialises");
        assert!(json.len() <= KEY_CHANGE_JSON_BYTES_MAX);
        json
    }

    /// Reads a change back (from the log or an import), checking every field and bound.
    pub fn from_json(json: &str) -> Result<KeyChange, KeyRecordError> {
        if json.len() > KEY_CHANGE_JSON_BYTES_MAX {
            return Err(KeyRecordError::TooLong {
                length_bytes: json.len(),
            });
        }
        serde_json::from_str(json).map_err(|error| KeyRecordError::Json(error.to_string()))
    }
}

/// Why a key record, a key id or a key change was refused, or a key could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyRecordError {
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(
        "the key would expire (unix second {expires_at_unix_s}) no later than it was made ({created_at_unix_s})"
    )]
    ExpiresBeforeCreation {
        created_at_unix_s: u64,
        expires_at_unix_s: u64,
    },
    #[error("key id {0:?} is not {KEY_ID_HEX_CHARS} lowercase hex digits")]
    BadKeyId(String),
    #[error("token_sha256 is not 64 lowercase hex digits")]
    BadTokenHash,
    #[error(
        "key change is {length_bytes} bytes, more than the {KEY_CHANGE_JSON_BYTES_MAX} allowed"
    )]
    TooLong { length_bytes: usize },
    #[error("not a key change: {0}")]
    Json(String),
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl KeyRecordError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyRecordError::Role(error) => error.code(),
            KeyRecordError::ExpiresBeforeCreation { .. } => "expires_before_creation",
            KeyRecordError::BadKeyId(_) => "bad_key_id",
            KeyRecordError::BadTokenHash => "bad_token_hash",
            KeyRecordError::TooLong { .. } => "too_long",
            KeyRecordError::Json(_) => "bad_key_change",
            KeyRecordError::Random(error) => error.code(),
        }
    }
}
