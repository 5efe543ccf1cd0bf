//! Why an event was rejected: the one list of the `error.code` values an event's answer can
//! carry. Each code is a stable snake_case string, like the ledger's error codes; the API's
//! OpenAPI document lists the same set (engine/tests/openapi_codes.rs checks both ways).

/// Declares the enum, its `code()` and `ALL` from one list, so that no variant can be left out
/// of either.
macro_rules! rejection_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal,)+) => {
        /// The `error.code` of a rejected event's answer.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RejectionCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl RejectionCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [RejectionCode] = &[$(RejectionCode::$variant,)+];

            /// The code as the answer's JSON writes it.
            pub const fn code(self) -> &'static str {
                match self {
                    $(RejectionCode::$variant => $code,)+
                }
            }
        }
    };
}

rejection_codes! {
    /// The event is malformed (not JSON, a missing or mistyped field, a My Number in a field),
    /// or a wallet ride names no rider.
    BadEvent => "bad_event",
    /// The id was already received with a different body.
    IdConflict => "id_conflict",
    /// No fare table for the operator.
    UnknownOperator => "unknown_operator",
    /// A stop the operator's fare table does not know.
    UnknownStop => "unknown_stop",
    /// No fare rule matches the ride.
    NoFare => "no_fare",
    /// An asset the programme does not have.
    UnknownAsset => "unknown_asset",
    /// Money granted, or points and entitlements topped up or redeemed as money.
    WrongAssetKind => "wrong_asset_kind",
    /// More than one event may carry, or more than an account's running totals can hold.
    AmountTooLarge => "amount_too_large",
    /// The rider's wallet or holdings can't pay.
    InsufficientFunds => "insufficient_funds",
    /// The rider holds less of the entitlement than the redemption needs.
    NotEntitled => "not_entitled",
    /// A one-per-person entitlement already used.
    AlreadyRedeemed => "already_redeemed",
    /// A one-per-person entitlement already granted.
    AlreadyGranted => "already_granted",
    /// A one-per-person entitlement granted more than one at a time.
    OnePerPerson => "one_per_person",
    /// The ledger refused the chain; the message names the ledger's own code.
    LedgerRefused => "ledger_refused",
    /// The engine holds the most unpaired taps it may.
    TooManyPendingTaps => "too_many_pending_taps",
    /// No shop with that id.
    UnknownShop => "unknown_shop",
    /// The shop is suspended and takes no payments.
    ShopSuspended => "shop_suspended",
    /// No accepted authorisation with that id.
    UnknownAuthorization => "unknown_authorization",
    /// The authorisation was already captured.
    AlreadyCaptured => "already_captured",
    /// The authorisation was already voided.
    AlreadyVoided => "already_voided",
    /// The authorisation's time ran out; its hold is released.
    AuthorizationExpired => "authorization_expired",
    /// A capture of more than the authorisation holds.
    AmountExceedsAuthorized => "amount_exceeds_authorized",
    /// No accepted purchase or capture with that id to refund.
    UnknownPurchase => "unknown_purchase",
    /// A refund of more than is left to refund.
    RefundExceedsPurchase => "refund_exceeds_purchase",
    /// A refund after close that neither the shop's receipts nor what the town still owes the
    /// shop (its unpaid payables) can cover.
    RefundExceedsShopFunds => "refund_exceeds_shop_funds",
    /// The asset does not move between riders.
    NotTransferable => "not_transferable",
    /// A customer token (`kq1.`) that is malformed, badly signed or not valid for this payment.
    BadToken => "bad_token",
    /// A customer token whose nonce was already accepted once.
    TokenUsed => "token_used",
    /// A customer token past its expiry.
    TokenExpired => "token_expired",
    /// The event is outside the scope of the API key that sent it (its role may not submit this
    /// type of event for this operator, shop, bank or station). Not logged: the id stays free.
    Forbidden => "forbidden",
    /// Only a stablecoin is redeemed for yen at its bank; points and the rest can't be withdrawn.
    NotRedeemable => "not_redeemable",
    /// A stablecoin topup naming a bank other than the coin's issuer.
    WrongIssuer => "wrong_issuer",
    /// A voucher purchase past the rider's limit in sets (bought + asked > limit), a pass past
    /// its product's `per_person`, or a refund after close when the log already keeps the most
    /// refunds after close it may (`REFUNDS_AFTER_CLOSE_MAX`).
    LimitReached => "limit_reached",
    /// The voucher's premium budget can't fund the sets asked for (no partial sets), or a pass
    /// product has issued its `issue_limit`.
    SoldOut => "sold_out",
    /// A voucher purchase before the sale opens or from the instant it closes.
    OutsideSaleWindow => "outside_sale_window",
    /// A voucher purchase of an asset that is not a voucher.
    NotAVoucher => "not_a_voucher",
    /// No `[[passes]]` product with that id.
    UnknownPass => "unknown_pass",
    /// The rider does not meet the pass product's `eligible` keys on the issue day.
    NotEligible => "not_eligible",
    /// The rider's pass for the ride is not valid on the ride's local date (the ride is rated
    /// normally).
    PassExpired => "pass_expired",
    /// The rider's pass has taken its rides for that day (the ride is rated normally).
    PassDailyLimit => "pass_daily_limit",
    /// The rider's pass has taken all its rides (the ride is rated normally).
    PassUsedUp => "pass_used_up",
    /// A once-per-person conversion (a Mynapoint claim) the rider already made.
    AlreadyClaimed => "already_claimed",
    /// A grant at a place past the programme's grants per rider, place and day.
    GrantLimitReached => "grant_limit_reached",
    /// No `[[conversions]]` from that asset to that one.
    NoConversion => "no_conversion",
    /// A conversion of less than one block of the rate: nothing would convert.
    BelowConversionRate => "below_conversion_rate",
}

impl RejectionCode {
    /// The rejection for a rating error. `duplicate_id` is only `kanjo rate`'s: the machine has
    /// checked the id before it rates, so a repeat there is a conflict.
    pub fn of_rate_error(error: &kanjo_rules::RateError) -> RejectionCode {
        use kanjo_rules::RateError;
        match error {
            RateError::BadEvent(_) => RejectionCode::BadEvent,
            RateError::DuplicateId => RejectionCode::IdConflict,
            RateError::UnknownOperator(_) => RejectionCode::UnknownOperator,
            RateError::UnknownStop(_) => RejectionCode::UnknownStop,
            RateError::NoFare(_) => RejectionCode::NoFare,
        }
    }
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::RejectionCode;

    #[test]
    fn every_code_is_distinct_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in RejectionCode::ALL {
            let text = code.code();
            assert!(seen.insert(text), "{text} is listed twice");
            assert!(
                !text.is_empty()
                    && text
                        .bytes()
                        .all(|byte| byte.is_ascii_lowercase() || byte == b'_'),
                "{text} is snake_case"
            );
        }
    }

    #[test]
    fn a_rating_error_keeps_its_code_except_the_rate_runs_duplicate_id() {
        use kanjo_rules::RateError;
        for error in [
            RateError::BadEvent("x".into()),
            RateError::UnknownOperator("x".into()),
            RateError::UnknownStop("x".into()),
            RateError::NoFare("x".into()),
        ] {
            assert_eq!(RejectionCode::of_rate_error(&error).code(), error.code());
        }
        assert_eq!(
            RejectionCode::of_rate_error(&RateError::DuplicateId),
            RejectionCode::IdConflict
        );
    }
}
