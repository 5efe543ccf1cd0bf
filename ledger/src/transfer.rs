//! Transfers: one asset moved from a debit account to a credit account.

use crate::account::AccountId;
use crate::asset::AssetId;

/// 128-bit transfer id; 0 and `u128::MAX` are invalid.
pub type TransferId = u128;

/// Transfer flags (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TransferFlags(pub u16);

impl TransferFlags {
    pub const NONE: TransferFlags = TransferFlags(0);
    /// This transfer and the next one succeed or fail together.
    pub const LINKED: TransferFlags = TransferFlags(1 << 0);
    /// Reserve the amount (two-phase, first phase).
    pub const PENDING: TransferFlags = TransferFlags(1 << 1);
    /// Post the pending transfer `pending_id` (fully, or partially with `amount`).
    pub const POST_PENDING: TransferFlags = TransferFlags(1 << 2);
    /// Void the pending transfer `pending_id`, releasing its reservation.
    pub const VOID_PENDING: TransferFlags = TransferFlags(1 << 3);
    /// Move at most what keeps the debit account's debits within its credits.
    pub const BALANCING_DEBIT: TransferFlags = TransferFlags(1 << 4);
    /// Move at most what keeps the credit account's credits within its debits.
    pub const BALANCING_CREDIT: TransferFlags = TransferFlags(1 << 5);
    /// Close the debit account (pending transfers only; voiding reopens it).
    pub const CLOSING_DEBIT: TransferFlags = TransferFlags(1 << 6);
    /// Close the credit account (pending transfers only; voiding reopens it).
    pub const CLOSING_CREDIT: TransferFlags = TransferFlags(1 << 7);
    /// Every bit that has a meaning; the others are reserved.
    pub const ALL: TransferFlags = TransferFlags(0xff);

    pub const fn contains(self, other: TransferFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: TransferFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: TransferFlags) -> TransferFlags {
        TransferFlags(self.0 | other.0)
    }
}

impl std::ops::BitOr for TransferFlags {
    type Output = TransferFlags;
    fn bitor(self, rhs: TransferFlags) -> TransferFlags {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for TransferFlags {
    fn bitor_assign(&mut self, rhs: TransferFlags) {
        *self = self.union(rhs);
    }
}

/// A transfer. As stored, post/void transfers carry the pending transfer's accounts, asset and
/// code, and `amount` is what actually moved (balancing transfers may move less than asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    /// Minor units of `asset`.
    pub amount: u64,
    /// The pending transfer a post/void refers to; 0 otherwise.
    pub pending_id: TransferId,
    /// Reference, e.g. the event id.
    pub user_data_128: u128,
    /// Reference, e.g. the settlement id.
    pub user_data_64: u64,
    /// Pending transfers only; 0 = never times out.
    pub timeout_seconds: u32,
    pub asset: AssetId,
    /// Reason code.
    pub code: u16,
    pub flags: TransferFlags,
    /// Ledger-assigned (ns); must be 0 on input.
    pub timestamp: u64,
}

impl Transfer {
    /// A plain single-phase transfer with no references.
    pub fn new(
        id: TransferId,
        debit_account_id: AccountId,
        credit_account_id: AccountId,
        amount: u64,
        asset: AssetId,
        code: u16,
    ) -> Transfer {
        Transfer {
            id,
            debit_account_id,
            credit_account_id,
            amount,
            pending_id: 0,
            user_data_128: 0,
            user_data_64: 0,
            timeout_seconds: 0,
            asset,
            code,
            flags: TransferFlags::NONE,
            timestamp: 0,
        }
    }

    /// A transfer that posts (`amount` 0 = the full pending amount) the pending transfer `pending_id`.
    pub fn post(id: TransferId, pending_id: TransferId, amount: u64) -> Transfer {
        Transfer {
            pending_id,
            flags: TransferFlags::POST_PENDING,
            ..Transfer::new(id, 0, 0, amount, AssetId(0), 0)
        }
    }

    /// A transfer that voids the pending transfer `pending_id`.
    pub fn void(id: TransferId, pending_id: TransferId) -> Transfer {
        Transfer {
            pending_id,
            flags: TransferFlags::VOID_PENDING,
            ..Transfer::new(id, 0, 0, 0, AssetId(0), 0)
        }
    }

    pub fn with_flags(mut self, flags: TransferFlags) -> Transfer {
        self.flags = flags;
        self
    }

    pub fn is_post_or_void(&self) -> bool {
        self.flags
            .intersects(TransferFlags::POST_PENDING.union(TransferFlags::VOID_PENDING))
    }
}

/// What became of a pending transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PendingStatus {
    /// Still reserved.
    Pending,
    Posted,
    Voided,
    /// Timed out; its reservation was released.
    Expired,
}

impl PendingStatus {
    pub(crate) fn tag(self) -> u8 {
        match self {
            PendingStatus::Pending => 1,
            PendingStatus::Posted => 2,
            PendingStatus::Voided => 3,
            PendingStatus::Expired => 4,
        }
    }
}
