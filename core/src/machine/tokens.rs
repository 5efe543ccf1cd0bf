//! Customer-presented one-time tokens, on the machine: the riders' device keys, and each
//! token's nonce accepted once.
//!
//! The edge (the API, `kanjo import`) verifies a token's Ed25519 signature with the keys kept
//! here and hands the machine a [`TokenUse`]: the nonce and the expiry, never the signature. The
//! machine then decides, from replayed state only, so a restart gives the same answers:
//!
//! - `at` (the event's time, as the edge used it) after the expiry: `token_expired`;
//! - a nonce this rider already paid with: `token_used`;
//! - a token expiring at or before [`TokenBook::forgotten_through_s`]: `token_expired` too. Used
//!   nonces are forgotten once the event-time watermark is [`TOKEN_UPLOAD_GRACE_S`] past their
//!   expiry, or, beyond [`USED_TOKENS_MAX`], the soonest-expiring first; either way the bound
//!   moves up, so a forgotten nonce can never pay twice (only a very late upload is refused).
//!
//! A nonce is remembered only when its payment is accepted: a refused payment changes nothing.

use std::collections::BTreeSet;

use hashbrown::{HashMap, HashSet};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use super::Machine;
use crate::answer::{Rejection, RejectionCode};
use crate::event::{PaymentToken, TokenUse};

/// Device keys one rider may register (phones, a replacement, a tablet).
pub const DEVICE_KEYS_PER_RIDER_MAX: usize = 8;
/// A device key's text: base64url without padding of 32 bytes.
pub const DEVICE_KEY_TEXT_CHARS: usize = 43;
/// Used nonces remembered at most (about 80 B each: ≈ 80 MB). Tokens live ≤ 120 s, so this is
/// over 8 000 token payments a second sustained through the grace below.
pub const USED_TOKENS_MAX: usize = 1 << 20;
/// How long after a token's expiry (event time) its nonce is kept, for late uploads.
pub const TOKEN_UPLOAD_GRACE_S: u64 = 60 * 60;
const NS_PER_S: i128 = 1_000_000_000;

/// Why a device key was not registered: the code of the keys route's error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusalCode {
    /// No rider record with that id: register the rider first.
    UnknownRider,
    /// Not 43 characters of base64url.
    BadPublicKey,
    /// The rider already has `DEVICE_KEYS_PER_RIDER_MAX` keys.
    TooManyKeys,
    /// A record the edge should have refused (the log can't hold it).
    BadKeyRecord,
}

impl KeyRefusalCode {
    pub const fn code(self) -> &'static str {
        match self {
            KeyRefusalCode::UnknownRider => "unknown_rider",
            KeyRefusalCode::BadPublicKey => "bad_public_key",
            KeyRefusalCode::TooManyKeys => "too_many_keys",
            KeyRefusalCode::BadKeyRecord => "bad_key_record",
        }
    }
}

/// A refused device key: its code and a message for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRefusal {
    pub code: KeyRefusalCode,
    pub message: String,
}

impl KeyRefusal {
    pub fn new(code: KeyRefusalCode, message: impl Into<String>) -> KeyRefusal {
        KeyRefusal {
            code,
            message: message.into(),
        }
    }
}

/// A device-key record as logged (`EntryKind::DeviceKey`): one key for one rider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKey {
    pub rider: String,
    /// `kanjo_qr::token::public_key_text` form, checked at the edge.
    pub public_key: String,
}

impl DeviceKey {
    /// The one JSON form, as the log stores it.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("two strings serialise")
    }
}

/// Device keys by rider and the used nonces.
#[derive(Default)]
pub(super) struct TokenBook {
    keys: HashMap<Box<str>, Vec<Box<str>>>,
    /// (rider id hash, nonce) of every accepted token not yet forgotten.
    used: HashSet<(u128, u128)>,
    /// The same, ordered by expiry: the pruning queue.
    by_expiry: BTreeSet<(u64, u128, u128)>,
    /// Tokens expiring at or before this were forgotten; they are refused as expired.
    forgotten_through_s: Option<u64>,
}

impl TokenBook {
    fn forget_first(&mut self) {
        let (expires_at_unix_s, rider, nonce) = self
            .by_expiry
            .pop_first()
            .expect("forget_first is called on a non-empty book");
        assert!(self.used.remove(&(rider, nonce)));
        self.forgotten_through_s = Some(
            self.forgotten_through_s
                .map_or(expires_at_unix_s, |through| through.max(expires_at_unix_s)),
        );
    }
}

impl Machine {
    /// Registers a rider's device public key; the same key again changes nothing.
    pub fn register_device_key(&mut self, key: &DeviceKey) -> Result<(), KeyRefusal> {
        if self.riders.get(&key.rider).is_none() {
            return Err(KeyRefusal::new(
                KeyRefusalCode::UnknownRider,
                format!("no rider {:?}: register the rider record first", key.rider),
            ));
        }
        let well_formed = key.public_key.len() == DEVICE_KEY_TEXT_CHARS
            && key
                .public_key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !well_formed {
            return Err(KeyRefusal::new(
                KeyRefusalCode::BadPublicKey,
                "a device key is 43 characters of base64url",
            ));
        }
        let keys = self
            .tokens
            .keys
            .entry(key.rider.as_str().into())
            .or_default();
        if keys.iter().any(|known| **known == *key.public_key) {
            return Ok(());
        }
        if keys.len() >= DEVICE_KEYS_PER_RIDER_MAX {
            return Err(KeyRefusal::new(
                KeyRefusalCode::TooManyKeys,
                format!(
                    "rider {:?} already has {DEVICE_KEYS_PER_RIDER_MAX} device keys",
                    key.rider
                ),
            ));
        }
        keys.push(key.public_key.as_str().into());
        Ok(())
    }

    /// A rider's device keys, in registration order.
    pub fn device_keys(&self, rider: &str) -> &[Box<str>] {
        self.tokens.keys.get(rider).map_or(&[], Vec::as_slice)
    }

    /// Used nonces remembered now.
    pub fn used_tokens(&self) -> usize {
        self.tokens.used.len()
    }

    /// Whether `token` may pay for `rider` at `at`; changes nothing.
    pub(super) fn check_token(
        &self,
        rider: &str,
        token: &PaymentToken,
        at: Timestamp,
    ) -> Result<(), Rejection> {
        let used = match token {
            PaymentToken::Checked(used) => used,
            PaymentToken::Presented(_) => {
                return Err(Rejection::new(
                    RejectionCode::BadToken,
                    "the token was not checked at the edge (POST /v1/events, kanjo import)",
                ));
            }
        };
        let at_s = u64::try_from(at.as_second()).unwrap_or(0);
        let forgotten = self
            .tokens
            .forgotten_through_s
            .is_some_and(|through| used.expires_at_unix_s <= through);
        if at_s > used.expires_at_unix_s || forgotten {
            return Err(Rejection::new(
                RejectionCode::TokenExpired,
                format!("the token expired at {} (unix s)", used.expires_at_unix_s),
            ));
        }
        if self
            .tokens
            .used
            .contains(&(xxh3_128(rider.as_bytes()), used.nonce))
        {
            return Err(Rejection::new(
                RejectionCode::TokenUsed,
                format!("this token of rider {rider:?} already paid; show a new one"),
            ));
        }
        Ok(())
    }

    /// Remembers an accepted payment's nonce (after `check_token` allowed it).
    pub(super) fn remember_token(&mut self, rider: &str, used: &TokenUse) {
        let key = (xxh3_128(rider.as_bytes()), used.nonce);
        assert!(
            self.tokens.used.insert(key),
            "check_token refused a used nonce"
        );
        self.tokens
            .by_expiry
            .insert((used.expires_at_unix_s, key.0, key.1));
        while self.tokens.used.len() > USED_TOKENS_MAX {
            self.tokens.forget_first();
        }
        assert_eq!(self.tokens.used.len(), self.tokens.by_expiry.len());
    }

    /// Forgets the nonces whose expiry the event-time watermark passed by the grace. Run as a
    /// batch begins: the watermark is the last batch's.
    pub(super) fn forget_expired_tokens(&mut self) {
        let watermark_s = self.watermark_ns.div_euclid(NS_PER_S);
        while let Some(&(expires_at_unix_s, _, _)) = self.tokens.by_expiry.first() {
            let forget_after_s = i128::from(expires_at_unix_s) + i128::from(TOKEN_UPLOAD_GRACE_S);
            if forget_after_s >= watermark_s {
                break;
            }
            self.tokens.forget_first();
        }
    }
}
