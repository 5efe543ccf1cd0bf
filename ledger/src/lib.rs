//! kanjo-ledger: the pure, deterministic double-entry state machine of kanjo.
//!
//! Every yen, stablecoin unit, point and entitlement moves through [`Ledger`]. The ledger does
//! no I/O and reads no clock: callers pass `clock_ns` in, and the ledger assigns strictly
//! increasing timestamps itself. Replaying the same batches with the same clocks yields the same
//! state and the same [`Ledger::digest`]. See `ARCHITECTURE-ledger.md` for the code map.

mod account;
mod asset;
mod digest;
mod errors;
mod history;
mod id_index;
mod invariants;
mod ledger;
mod lookahead;
mod memory;
mod pending;
mod transfer;
mod transfers;
pub mod workload;

pub use account::{Account, AccountFlags, AccountId, OwnerKind};
pub use asset::{Asset, AssetId, AssetKind};
pub use errors::{
    AccountField, AssetField, CreateAccountError, CreateAccountResult, CreateAssetError,
    CreateAssetResult, CreateTransferError, CreateTransferResult, TransferField,
};
pub use history::{ACCOUNT_FILTER_LIMIT_MAX, AccountFilter};
pub use invariants::{AssetTotals, InvariantViolation};
pub use ledger::Ledger;
pub use transfer::{PendingStatus, Transfer, TransferFlags, TransferId};

/// Most transfers one `create_transfers` call accepts (TigerBeetle's batch size).
pub const TRANSFERS_PER_BATCH_MAX: usize = 8190;
/// Most accounts one `create_accounts` call accepts.
pub const ACCOUNTS_PER_BATCH_MAX: usize = 8190;
/// Most assets one `create_assets` call accepts.
pub const ASSETS_PER_BATCH_MAX: usize = 1024;
/// Longest asset code, in bytes ("JPY", "JPYC", "PT-MURORAN", "BALLOT-2027").
pub const ASSET_CODE_LEN_MAX: usize = 32;
/// Largest minor-unit scale: 10^19 no longer fits a u64 amount.
pub const ASSET_SCALE_MAX: u8 = 18;
/// Nanoseconds in one second, for pending timeouts.
pub const NS_PER_SECOND: u64 = 1_000_000_000;
