//! The `error.code` of the service's own error answers (`{"error": {"code", "message"}}`, the
//! OpenAPI `Error` schema): what is wrong with a request as a whole, or with the service. An
//! event's own rejection is a `kanjo_core::answer::RejectionCode` inside a 200 answer instead.

/// Declares the enum, its `code()` and `ALL` from one list, so that no variant can be left out.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal,)+) => {
        /// The `error.code` of a service error answer.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as the answer's JSON writes it.
            pub const fn code(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// The body is not UTF-8, not JSON, empty, or not the array or object the route takes.
    BadBody => "bad_body",
    /// A path parameter that is not UTF-8 once percent-decoded.
    BadPath => "bad_path",
    /// A query parameter that is malformed, mistyped or out of range.
    BadQuery => "bad_query",
    /// Neither an account name nor a 32-hex-digit account id.
    BadAccount => "bad_account",
    /// No such route, event, account or shop.
    NotFound => "not_found",
    /// The route exists, the method does not (the `Allow` header lists the methods).
    MethodNotAllowed => "method_not_allowed",
    /// The body is larger than the request limit, or holds more items than one submission may.
    TooLarge => "too_large",
    /// The engine's queue is full: retry after `Retry-After` seconds.
    QueueFull => "queue_full",
    /// The store is being reconnected: retry after `Retry-After` seconds.
    Recovering => "recovering",
    /// The engine stopped: kanjo exits and its supervisor restarts it; resend with the same ids.
    Stopped => "stopped",
    /// No valid `Authorization: Bearer kjo_…` header: missing, malformed, unknown, revoked or
    /// expired key (401).
    Unauthorized => "unauthorized",
    /// The key's role may not do this (403).
    Forbidden => "forbidden",
    /// The key sent more requests than its rate allows: retry after `Retry-After` seconds (429).
    RateLimited => "rate_limited",
    /// A key change the key book refuses (an unknown or already revoked key, a bad role).
    BadKey => "bad_key",
    /// This process installed no metrics recorder.
    NoMetrics => "no_metrics",
    /// A rider id in the path that the log can't hold or that holds a 12-digit number.
    BadRider => "bad_rider",
    /// A device key that is not an Ed25519 public key in base64url (43 characters).
    BadPublicKey => "bad_public_key",
    /// No rider record with that id (register the rider first).
    UnknownRider => "unknown_rider",
    /// The rider already has the most device keys one rider may.
    TooManyKeys => "too_many_keys",
    /// A device-key record the edge should have refused: the log can't hold it.
    BadKeyRecord => "bad_key_record",
    /// A settlement command that is not `{"through": "YYYY-MM-DD"}` with a real date.
    BadSettlement => "bad_settlement",
    /// A payout command with a missing or malformed field, or an amount of 0.
    BadPayout => "bad_payout",
    /// A settlement through a date before the last closed one: closed periods never change.
    PeriodClosed => "period_closed",
    /// A settlement through a date after today (the programme's time zone): days still to come
    /// can't be closed.
    PeriodNotOver => "period_not_over",
    /// No settlement with that id.
    UnknownSettlement => "unknown_settlement",
    /// The settlement settled nothing for that party (no statement).
    UnknownParty => "unknown_party",
    /// The settlement has no payable for that party and asset.
    NothingPayable => "nothing_payable",
    /// The payout is more than what is still payable.
    PayoutExceedsPayable => "payout_exceeds_payable",
    /// A payout id already recorded with a different body.
    PayoutIdConflict => "payout_id_conflict",
    /// The log holds the most settlements or payouts it may.
    TooManySettlements => "too_many_settlements",
    /// The settlement has no unpaid JPY payable: a payout file would transfer nothing.
    NothingToPay => "nothing_to_pay",
    /// The programme has no `[payer]`, the town's account a payout file's header names.
    NoPayer => "no_payer",
    /// Payees (or the payer) whose bank details are missing or can't be written; all are named.
    BadBankDetails => "bad_bank_details",
    /// A `transfer_date` that is not `YYYY-MM-DD`, or before the settled period ends.
    BadTransferDate => "bad_transfer_date",
    /// More payees or a larger total than one Zengin file can hold.
    PayoutFileTooLarge => "payout_file_too_large",
    /// A resolution without a reason or clerk, too long, or holding a 12-digit number.
    BadResolution => "bad_resolution",
    /// The exception was resolved before, by another clerk or with another reason.
    AlreadyResolved => "already_resolved",
    /// A programme version whose source does not compile, names a GTFS file the body lacks or
    /// carries one it does not name, or whose `effective` is not RFC 3339 with an offset.
    BadProgramme => "bad_programme",
    /// A programme version that contradicts the books or takes effect too early (409; the
    /// error's `key` names what).
    ProgrammeRefused => "programme_refused",
    /// Another client error that axum or hyper answered, rewritten as JSON.
    BadRequest => "bad_request",
    /// Another server error that axum or hyper answered, rewritten as JSON.
    ServerError => "server_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.code())
    }
}

impl From<kanjo_core::machine::KeyRefusalCode> for ErrorCode {
    fn from(code: kanjo_core::machine::KeyRefusalCode) -> ErrorCode {
        use kanjo_core::machine::KeyRefusalCode;
        match code {
            KeyRefusalCode::UnknownRider => ErrorCode::UnknownRider,
            KeyRefusalCode::BadPublicKey => ErrorCode::BadPublicKey,
            KeyRefusalCode::TooManyKeys => ErrorCode::TooManyKeys,
            KeyRefusalCode::BadKeyRecord => ErrorCode::BadKeyRecord,
        }
    }
}
