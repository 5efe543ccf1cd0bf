//! The key book: every key ever made, rebuilt by applying [`KeyChange`]s in log order, and the
//! authentication of a request against it.
//!
//! Deterministic: the same changes in the same order give the same book, and
//! [`KeyBook::records`] lists keys in the order they were made. A change the book refuses
//! changes nothing, so the engine can log a change, apply it, and on replay get the same
//! refusal.
//!
//! [`KeyBook::authenticate`] reads an `Authorization: Bearer kjo_…` header. It finds the record
//! by the key id in the token (a hash-map lookup, so the cost doesn't grow with the number of
//! keys), then compares SHA-256 of the token with the record's hash in constant time (`subtle`).
//! Refusals, all HTTP 401 with code `unauthorized`, in the order they are checked:
//! [`AuthError::Missing`], [`AuthError::Malformed`], [`AuthError::Unknown`] (no such key id, or
//! the secret is wrong: the two are not told apart), [`AuthError::Revoked`],
//! [`AuthError::Expired`]. Revocation and expiry are only told to a holder of the right secret.

use std::collections::HashMap;

use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::key::{KeyChange, KeyId, KeyRecord, Revocation, TokenHash, parse_token_text};
use crate::role::Principal;
use crate::{AUTHORIZATION_BYTES_MAX, KEYS_MAX, TOKEN_CHARS};

/// Every key, in the order made, with an index by key id.
#[derive(Clone, Debug, Default)]
pub struct KeyBook {
    records: Vec<KeyRecord>,
    index_by_key_id: HashMap<KeyId, usize>,
}

/// A key change the book refuses (and so does not apply).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyBookError {
    #[error("key {0} already exists")]
    DuplicateKeyId(KeyId),
    #[error("the book holds {KEYS_MAX} keys, the most it may")]
    TooManyKeys,
    #[error("a new key {0} can't already be revoked")]
    CreatedRevoked(KeyId),
    #[error("no key {0}")]
    UnknownKey(KeyId),
    #[error("key {key_id} was already revoked at unix second {at_unix_s}")]
    AlreadyRevoked { key_id: KeyId, at_unix_s: u64 },
    /// Refused by the engine before the book saw it: the log can't hold the change.
    #[error("the key change can't be logged: {0}")]
    Unloggable(String),
}

impl KeyBookError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyBookError::DuplicateKeyId(_) => "duplicate_key_id",
            KeyBookError::TooManyKeys => "too_many_keys",
            KeyBookError::CreatedRevoked(_) => "created_revoked",
            KeyBookError::UnknownKey(_) => "unknown_key",
            KeyBookError::AlreadyRevoked { .. } => "already_revoked",
            KeyBookError::Unloggable(_) => "unloggable",
        }
    }
}

/// Why a request could not be authenticated (HTTP 401).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("no `Authorization: Bearer …` header")]
    Missing,
    #[error("the Authorization header is not `Bearer kjo_…`: {reason}")]
    Malformed { reason: &'static str },
    #[error("no key matches this token")]
    Unknown,
    #[error("key {key_id} was revoked at unix second {at_unix_s}")]
    Revoked { key_id: KeyId, at_unix_s: u64 },
    #[error("key {key_id} expired at unix second {expires_at_unix_s}")]
    Expired {
        key_id: KeyId,
        expires_at_unix_s: u64,
    },
}

impl AuthError {
    pub const CODE: &'static str = "unauthorized";

    /// Every authentication failure answers `unauthorized`.
    pub fn code(&self) -> &'static str {
        Self::CODE
    }

    /// Which failure it was, for logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::Malformed { .. } => "malformed_token",
            AuthError::Unknown => "unknown_key",
            AuthError::Revoked { .. } => "revoked_key",
            AuthError::Expired { .. } => "expired_key",
        }
    }
}

impl KeyBook {
    pub fn new() -> KeyBook {
        KeyBook::default()
    }

    /// Whether `change` would apply, without applying it (the edge check before logging).
    pub fn check(&self, change: &KeyChange) -> Result<(), KeyBookError> {
        match change {
            KeyChange::Create { key } => {
                if key.revoked().is_some() {
                    return Err(KeyBookError::CreatedRevoked(key.key_id()));
                }
                if self.index_by_key_id.contains_key(&key.key_id()) {
                    return Err(KeyBookError::DuplicateKeyId(key.key_id()));
                }
                if self.records.len() >= KEYS_MAX {
                    return Err(KeyBookError::TooManyKeys);
                }
                Ok(())
            }
            KeyChange::Revoke { key_id, .. } => {
                let record = self.get(*key_id).ok_or(KeyBookError::UnknownKey(*key_id))?;
                match record.revoked() {
                    Some(revocation) => Err(KeyBookError::AlreadyRevoked {
                        key_id: *key_id,
                        at_unix_s: revocation.at_unix_s,
                    }),
                    None => Ok(()),
                }
            }
        }
    }

    /// Applies one change, or refuses it and changes nothing.
    pub fn apply(&mut self, change: &KeyChange) -> Result<(), KeyBookError> {
        self.check(change)?;
        match change {
            KeyChange::Create { key } => {
                self.index_by_key_id
                    .insert(key.key_id(), self.records.len());
                self.records.push(key.clone());
            }
            KeyChange::Revoke { key_id, at_unix_s } => {
                let index = self.index_by_key_id[key_id];
                self.records[index].revoke(Revocation {
                    at_unix_s: *at_unix_s,
                });
            }
        }
        assert_eq!(self.records.len(), self.index_by_key_id.len());
        assert!(self.records.len() <= KEYS_MAX);
        Ok(())
    }

    pub fn get(&self, key_id: KeyId) -> Option<&KeyRecord> {
        self.index_by_key_id
            .get(&key_id)
            .map(|index| &self.records[*index])
    }

    /// Every key, revoked ones included, in the order they were made.
    pub fn records(&self) -> &[KeyRecord] {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The principal behind an `Authorization` header value (`None`: no header), at `now`.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        now_unix_s: u64,
    ) -> Result<Principal, AuthError> {
        let token = bearer_token(authorization)?;
        let key_id = parse_token_text(token).ok_or(AuthError::Malformed {
            reason: "the token is not kjo_, 16 hex digits, _, 64 hex digits",
        })?;
        let record = self.get(key_id).ok_or(AuthError::Unknown)?;
        let presented = TokenHash::of_token_text(token);
        let matches: bool = presented.0.ct_eq(&record.token_sha256().0).into();
        if !matches {
            return Err(AuthError::Unknown);
        }
        if let Some(revocation) = record.revoked() {
            return Err(AuthError::Revoked {
                key_id,
                at_unix_s: revocation.at_unix_s,
            });
        }
        if let Some(expires_at_unix_s) = record.expires_at_unix_s()
            && record.is_expired(now_unix_s)
        {
            return Err(AuthError::Expired {
                key_id,
                expires_at_unix_s,
            });
        }
        Ok(Principal {
            key_id,
            role: record.role().clone(),
        })
    }
}

/// The token in `Bearer <token>` (RFC 6750: the scheme in any case, then spaces).
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header = match authorization {
        None => return Err(AuthError::Missing),
        Some(header) if header.trim().is_empty() => return Err(AuthError::Missing),
        Some(header) => header,
    };
    if header.len() > AUTHORIZATION_BYTES_MAX {
        return Err(AuthError::Malformed {
            reason: "the header is too long",
        });
    }
    let malformed = AuthError::Malformed {
        reason: "expected `Bearer ` and a token",
    };
    let (scheme, token) = header.split_once(' ').ok_or(malformed.clone())?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed);
    }
    let token = token.trim_start_matches(' ');
    if token.len() != TOKEN_CHARS {
        return Err(AuthError::Malformed {
            reason: "the token is not 85 characters",
        });
    }
    Ok(token)
}
