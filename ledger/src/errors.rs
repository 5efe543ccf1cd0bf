//! Per-item results of the batch operations. Only failures and `Exists` are reported; every
//! error has a stable snake_case `code()` for APIs and logs and a human `Display` message.

use thiserror::Error;

/// A transfer field that differs from the stored transfer with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferField {
    Flags,
    DebitAccountId,
    CreditAccountId,
    Amount,
    PendingId,
    UserData128,
    UserData64,
    TimeoutSeconds,
    Asset,
    Code,
}

impl TransferField {
    pub fn name(self) -> &'static str {
        match self {
            TransferField::Flags => "flags",
            TransferField::DebitAccountId => "debit_account_id",
            TransferField::CreditAccountId => "credit_account_id",
            TransferField::Amount => "amount",
            TransferField::PendingId => "pending_id",
            TransferField::UserData128 => "user_data_128",
            TransferField::UserData64 => "user_data_64",
            TransferField::TimeoutSeconds => "timeout_seconds",
            TransferField::Asset => "asset",
            TransferField::Code => "code",
        }
    }
}

/// An account field that differs from the stored account with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountField {
    Asset,
    Owner,
    Flags,
    Code,
    UserData128,
    UserData64,
}

impl AccountField {
    pub fn name(self) -> &'static str {
        match self {
            AccountField::Asset => "asset",
            AccountField::Owner => "owner",
            AccountField::Flags => "flags",
            AccountField::Code => "code",
            AccountField::UserData128 => "user_data_128",
            AccountField::UserData64 => "user_data_64",
        }
    }
}

/// An asset field that differs from the stored asset with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssetField {
    Code,
    Kind,
    Scale,
}

impl AssetField {
    pub fn name(self) -> &'static str {
        match self {
            AssetField::Code => "code",
            AssetField::Kind => "kind",
            AssetField::Scale => "scale",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum CreateAssetError {
    #[error("the batch holds more assets than ASSETS_PER_BATCH_MAX")]
    BatchTooLarge,
    #[error("asset id must not be zero")]
    IdMustNotBeZero,
    #[error("asset code must not be empty")]
    CodeMustNotBeEmpty,
    #[error("asset code is longer than ASSET_CODE_LEN_MAX bytes")]
    CodeTooLong,
    #[error("asset scale is larger than ASSET_SCALE_MAX")]
    ScaleTooLarge,
    #[error("another asset already uses this code")]
    CodeAlreadyUsed,
    #[error("the asset already exists with the same fields")]
    Exists,
    #[error("the asset already exists with a different {}", .0.name())]
    ExistsWithDifferent(AssetField),
}

impl CreateAssetError {
    pub fn code(&self) -> &'static str {
        match self {
            CreateAssetError::BatchTooLarge => "batch_too_large",
            CreateAssetError::IdMustNotBeZero => "id_must_not_be_zero",
            CreateAssetError::CodeMustNotBeEmpty => "code_must_not_be_empty",
            CreateAssetError::CodeTooLong => "code_too_long",
            CreateAssetError::ScaleTooLarge => "scale_too_large",
            CreateAssetError::CodeAlreadyUsed => "code_already_used",
            CreateAssetError::Exists => "exists",
            CreateAssetError::ExistsWithDifferent(field) => match field {
                AssetField::Code => "exists_with_different_code",
                AssetField::Kind => "exists_with_different_kind",
                AssetField::Scale => "exists_with_different_scale",
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum CreateAccountError {
    #[error("an account in this linked chain failed")]
    LinkedEventFailed,
    #[error("the batch ends inside a linked chain")]
    LinkedEventChainOpen,
    #[error("the batch holds more accounts than ACCOUNTS_PER_BATCH_MAX")]
    BatchTooLarge,
    #[error("timestamp must be zero: the ledger assigns it")]
    TimestampMustBeZero,
    #[error("a reserved account flag is set")]
    ReservedFlag,
    #[error("account id must not be zero")]
    IdMustNotBeZero,
    #[error("account id must not be u128::MAX")]
    IdMustNotBeIntMax,
    #[error("debits_must_not_exceed_credits and credits_must_not_exceed_debits exclude each other")]
    FlagsAreMutuallyExclusive,
    #[error("debits_pending must be zero on creation")]
    DebitsPendingMustBeZero,
    #[error("debits_posted must be zero on creation")]
    DebitsPostedMustBeZero,
    #[error("credits_pending must be zero on creation")]
    CreditsPendingMustBeZero,
    #[error("credits_posted must be zero on creation")]
    CreditsPostedMustBeZero,
    #[error("the account's asset does not exist")]
    AssetNotFound,
    #[error("the account already exists with the same fields")]
    Exists,
    #[error("the account already exists with a different {}", .0.name())]
    ExistsWithDifferent(AccountField),
}

impl CreateAccountError {
    pub fn code(&self) -> &'static str {
        match self {
            CreateAccountError::LinkedEventFailed => "linked_event_failed",
            CreateAccountError::LinkedEventChainOpen => "linked_event_chain_open",
            CreateAccountError::BatchTooLarge => "batch_too_large",
            CreateAccountError::TimestampMustBeZero => "timestamp_must_be_zero",
            CreateAccountError::ReservedFlag => "reserved_flag",
            CreateAccountError::IdMustNotBeZero => "id_must_not_be_zero",
            CreateAccountError::IdMustNotBeIntMax => "id_must_not_be_int_max",
            CreateAccountError::FlagsAreMutuallyExclusive => "flags_are_mutually_exclusive",
            CreateAccountError::DebitsPendingMustBeZero => "debits_pending_must_be_zero",
            CreateAccountError::DebitsPostedMustBeZero => "debits_posted_must_be_zero",
            CreateAccountError::CreditsPendingMustBeZero => "credits_pending_must_be_zero",
            CreateAccountError::CreditsPostedMustBeZero => "credits_posted_must_be_zero",
            CreateAccountError::AssetNotFound => "asset_not_found",
            CreateAccountError::Exists => "exists",
            CreateAccountError::ExistsWithDifferent(field) => match field {
                AccountField::Asset => "exists_with_different_asset",
                AccountField::Owner => "exists_with_different_owner",
                AccountField::Flags => "exists_with_different_flags",
                AccountField::Code => "exists_with_different_code",
                AccountField::UserData128 => "exists_with_different_user_data_128",
                AccountField::UserData64 => "exists_with_different_user_data_64",
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum CreateTransferError {
    #[error("a transfer in this linked chain failed")]
    LinkedEventFailed,
    #[error("the batch ends inside a linked chain")]
    LinkedEventChainOpen,
    #[error("the batch holds more transfers than TRANSFERS_PER_BATCH_MAX")]
    BatchTooLarge,
    #[error("timestamp must be zero: the ledger assigns it")]
    TimestampMustBeZero,
    #[error("a reserved transfer flag is set")]
    ReservedFlag,
    #[error("transfer id must not be zero")]
    IdMustNotBeZero,
    #[error("transfer id must not be u128::MAX")]
    IdMustNotBeIntMax,
    #[error("these transfer flags exclude each other")]
    FlagsAreMutuallyExclusive,
    #[error("closing_debit/closing_credit need the pending flag")]
    ClosingTransferMustBePending,
    #[error("debit_account_id must not be zero")]
    DebitAccountIdMustNotBeZero,
    #[error("credit_account_id must not be zero")]
    CreditAccountIdMustNotBeZero,
    #[error("debit and credit account must be different")]
    AccountsMustBeDifferent,
    #[error("pending_id must be zero unless posting or voiding")]
    PendingIdMustBeZero,
    #[error("pending_id must not be zero when posting or voiding")]
    PendingIdMustNotBeZero,
    #[error("pending_id must differ from the transfer's own id")]
    PendingIdMustBeDifferent,
    #[error("timeout_seconds is only for pending transfers")]
    TimeoutReservedForPendingTransfer,
    #[error("the debit account does not exist")]
    DebitAccountNotFound,
    #[error("the credit account does not exist")]
    CreditAccountNotFound,
    #[error("debit and credit account hold different assets")]
    AccountsMustHaveSameAsset,
    #[error("the transfer's asset is not the accounts' asset")]
    AssetMismatch,
    #[error("the debit account is closed")]
    DebitAccountClosed,
    #[error("the credit account is closed")]
    CreditAccountClosed,
    #[error("the pending transfer does not exist")]
    PendingTransferNotFound,
    #[error("the transfer referred to by pending_id is not pending")]
    PendingTransferNotPending,
    #[error("debit_account_id differs from the pending transfer's")]
    PendingTransferHasDifferentDebitAccountId,
    #[error("credit_account_id differs from the pending transfer's")]
    PendingTransferHasDifferentCreditAccountId,
    #[error("asset differs from the pending transfer's")]
    PendingTransferHasDifferentAsset,
    #[error("code differs from the pending transfer's")]
    PendingTransferHasDifferentCode,
    #[error("a void must name no amount or exactly the pending amount")]
    PendingTransferHasDifferentAmount,
    #[error("the amount exceeds the pending transfer's amount")]
    ExceedsPendingTransferAmount,
    #[error("the pending transfer was already posted")]
    PendingTransferAlreadyPosted,
    #[error("the pending transfer was already voided")]
    PendingTransferAlreadyVoided,
    #[error("the pending transfer has expired")]
    PendingTransferExpired,
    #[error("the transfer already exists with the same fields")]
    Exists,
    #[error("the transfer already exists with a different {}", .0.name())]
    ExistsWithDifferent(TransferField),
    #[error("debits_pending of the debit account would overflow")]
    OverflowsDebitsPending,
    #[error("credits_pending of the credit account would overflow")]
    OverflowsCreditsPending,
    #[error("debits_posted of the debit account would overflow")]
    OverflowsDebitsPosted,
    #[error("credits_posted of the credit account would overflow")]
    OverflowsCreditsPosted,
    #[error("debits pending + posted of the debit account would overflow")]
    OverflowsDebits,
    #[error("credits pending + posted of the credit account would overflow")]
    OverflowsCredits,
    #[error("the pending transfer's deadline would overflow")]
    OverflowsTimeout,
    #[error("the debit account's debits would exceed its credits")]
    ExceedsCredits,
    #[error("the credit account's credits would exceed its debits")]
    ExceedsDebits,
}

impl CreateTransferError {
    pub fn code(&self) -> &'static str {
        use CreateTransferError as E;
        match self {
            E::LinkedEventFailed => "linked_event_failed",
            E::LinkedEventChainOpen => "linked_event_chain_open",
            E::BatchTooLarge => "batch_too_large",
            E::TimestampMustBeZero => "timestamp_must_be_zero",
            E::ReservedFlag => "reserved_flag",
            E::IdMustNotBeZero => "id_must_not_be_zero",
            E::IdMustNotBeIntMax => "id_must_not_be_int_max",
            E::FlagsAreMutuallyExclusive => "flags_are_mutually_exclusive",
            E::ClosingTransferMustBePending => "closing_transfer_must_be_pending",
            E::DebitAccountIdMustNotBeZero => "debit_account_id_must_not_be_zero",
            E::CreditAccountIdMustNotBeZero => "credit_account_id_must_not_be_zero",
            E::AccountsMustBeDifferent => "accounts_must_be_different",
            E::PendingIdMustBeZero => "pending_id_must_be_zero",
            E::PendingIdMustNotBeZero => "pending_id_must_not_be_zero",
            E::PendingIdMustBeDifferent => "pending_id_must_be_different",
            E::TimeoutReservedForPendingTransfer => "timeout_reserved_for_pending_transfer",
            E::DebitAccountNotFound => "debit_account_not_found",
            E::CreditAccountNotFound => "credit_account_not_found",
            E::AccountsMustHaveSameAsset => "accounts_must_have_same_asset",
            E::AssetMismatch => "asset_mismatch",
            E::DebitAccountClosed => "debit_account_closed",
            E::CreditAccountClosed => "credit_account_closed",
            E::PendingTransferNotFound => "pending_transfer_not_found",
            E::PendingTransferNotPending => "pending_transfer_not_pending",
            E::PendingTransferHasDifferentDebitAccountId => {
                "pending_transfer_has_different_debit_account_id"
            }
            E::PendingTransferHasDifferentCreditAccountId => {
                "pending_transfer_has_different_credit_account_id"
            }
            E::PendingTransferHasDifferentAsset => "pending_transfer_has_different_asset",
            E::PendingTransferHasDifferentCode => "pending_transfer_has_different_code",
            E::PendingTransferHasDifferentAmount => "pending_transfer_has_different_amount",
            E::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            E::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            E::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            E::PendingTransferExpired => "pending_transfer_expired",
            E::Exists => "exists",
            E::ExistsWithDifferent(field) => match field {
                TransferField::Flags => "exists_with_different_flags",
                TransferField::DebitAccountId => "exists_with_different_debit_account_id",
                TransferField::CreditAccountId => "exists_with_different_credit_account_id",
                TransferField::Amount => "exists_with_different_amount",
                TransferField::PendingId => "exists_with_different_pending_id",
                TransferField::UserData128 => "exists_with_different_user_data_128",
                TransferField::UserData64 => "exists_with_different_user_data_64",
                TransferField::TimeoutSeconds => "exists_with_different_timeout_seconds",
                TransferField::Asset => "exists_with_different_asset",
                TransferField::Code => "exists_with_different_code",
            },
            E::OverflowsDebitsPending => "overflows_debits_pending",
            E::OverflowsCreditsPending => "overflows_credits_pending",
            E::OverflowsDebitsPosted => "overflows_debits_posted",
            E::OverflowsCreditsPosted => "overflows_credits_posted",
            E::OverflowsDebits => "overflows_debits",
            E::OverflowsCredits => "overflows_credits",
            E::OverflowsTimeout => "overflows_timeout",
            E::ExceedsCredits => "exceeds_credits",
            E::ExceedsDebits => "exceeds_debits",
        }
    }
}

/// One failed (or already existing) asset of a `create_assets` batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateAssetResult {
    pub index: u32,
    pub result: CreateAssetError,
}

/// One failed (or already existing) account of a `create_accounts` batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateAccountResult {
    pub index: u32,
    pub result: CreateAccountError,
}

/// One failed (or already existing) transfer of a `create_transfers` batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateTransferResult {
    pub index: u32,
    pub result: CreateTransferError,
}
