//! kanjo-auth: who may do what, and how anyone can tell afterwards that the books were not
//! rewritten.
//!
//! Three parts, all pure (no I/O, no clock: callers pass `now`), for the engine to wire in:
//!
//! - **Principals and scopes** ([`role`], [`action`], [`scope`]). A [`Principal`] is a key id
//!   and a [`Role`] (`operator:donan-bus`, `shop:books`, `bank:suzu-bank`,
//!   `election-office:station-012,station-013`, `town-admin`, `clerk`, `auditor`). Every API
//!   request, and every event inside a batch, is described as an [`Action`] with the party it
//!   acts for, and [`authorize`] decides it from one table ([`scope::SCOPE_TABLE`]). Anything
//!   the table does not allow is refused with [`Forbidden`] (`forbidden`).
//! - **API keys** ([`key`], [`keybook`]). [`generate_token`] makes a bearer token (256 random
//!   bits) and the [`KeyRecord`] that is logged instead of it: the record keeps only the token's
//!   SHA-256. [`KeyBook`] is rebuilt from [`KeyChange`]s in log order and turns an
//!   `Authorization` header into a [`Principal`] ([`KeyBook::authenticate`]), or an
//!   [`AuthError`] (`unauthorized`).
//! - **The tamper-evident chain** ([`chain`]). Each log record's hash covers its predecessor's
//!   hash, its seq and its canonical bytes ([`chain_hash`]); [`verify_chain`] recomputes a log
//!   and names the first bad seq and why.
//!
//! Randomness comes from one place, [`random::os_random`] (the operating system's RNG through
//! `getrandom`), used only by [`generate_token`]; [`token_from_entropy`] is the same function
//! with the random bytes handed in, for tests.
//!
//! The limits below bound everything a key record, a token or a header can hold, so nothing a
//! client sends makes this crate allocate or loop without bound.

pub mod action;
pub mod chain;
pub mod key;
pub mod keybook;
pub mod random;
pub mod role;
pub mod scope;

pub use action::{AccountOwner, Action, ActionKind, EventType, Party, Report, Submit};
pub use chain::{
    ChainBreak, ChainError, ChainHead, ChainLink, ChainVerifier, GENESIS, chain_hash, verify_chain,
};
pub use key::{
    KeyChange, KeyId, KeyRecord, KeyRecordError, NewKey, Revocation, Token, TokenEntropy,
    TokenHash, generate_token, token_from_entropy,
};
pub use keybook::{AuthError, KeyBook, KeyBookError};
pub use role::{Principal, Role, RoleError, RoleKind};
pub use scope::{Forbidden, authorize};

/// Operator, shop, bank source and station names in a role: the engine's reference bound
/// (`engine::event::REFERENCE_BYTES_MAX`), so every name an event can carry fits in a role.
pub const NAME_BYTES_MAX: usize = 128;
/// Polling stations one election-office key may act for. A large city's whole election fits.
pub const STATIONS_PER_KEY_MAX: usize = 1_024;
/// Keys one book holds, revoked ones included (they stay listed). Far beyond a town's needs;
/// it bounds the book's memory and a `keys list`.
pub const KEYS_MAX: usize = 10_000;
/// A key id is 8 random bytes written as 16 lowercase hex digits.
pub const KEY_ID_HEX_CHARS: usize = 16;
/// The secret part of a token: 256 random bits.
pub const TOKEN_SECRET_BYTES: usize = 32;
/// A token's text: `kjo_` + key id (16 hex) + `_` + secret (64 hex), exactly.
pub const TOKEN_CHARS: usize = TOKEN_PREFIX.len() + KEY_ID_HEX_CHARS + 1 + 2 * TOKEN_SECRET_BYTES;
/// What every token starts with, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "kjo_";
/// An `Authorization` header longer than this is refused before it is looked at.
pub const AUTHORIZATION_BYTES_MAX: usize = 256;
/// A role's text form at its longest: `election-office:` and every station, comma-separated.
pub const ROLE_TEXT_BYTES_MAX: usize =
    "election-office:".len() + STATIONS_PER_KEY_MAX * (NAME_BYTES_MAX + 1);
/// One key change's JSON (a key record with the longest role fits with room to spare).
pub const KEY_CHANGE_JSON_BYTES_MAX: usize = ROLE_TEXT_BYTES_MAX + 1_024;

const _: () = assert!(TOKEN_CHARS == 85);
const _: () = assert!(TOKEN_CHARS + "Bearer ".len() < AUTHORIZATION_BYTES_MAX);
