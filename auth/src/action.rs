//! Everything a principal can ask kanjo to do, each with the party it acts for (its subject).
//!
//! The engine turns each request into an [`Action`] before it does anything: an HTTP request
//! into one action, and each event of a batch into its own [`Action::Submit`], so an event
//! outside the principal's scope is refused alone. Subjects the engine looks up (the shop of
//! the authorisation a `capture` names, the issuing bank of the asset a `withdraw` burns) are
//! `None` when the lookup finds nothing; nobody may act on a subject that is `None`.
//!
//! | endpoint or command | action |
//! |---|---|
//! | `POST /v1/events`, `kanjo import` (each event) | [`Action::Submit`] |
//! | `GET /v1/events/{id}` | [`Action::ReadEvent`] (the event's type and subject) |
//! | `GET /v1/accounts/{id}` | [`Action::ReadAccount`] (the account's owner) |
//! | `GET /v1/accounts/{id}/transfers`, `GET /v1/riders/{id}/lots` | [`Action::ReadHistory`] |
//! | `GET /v1/shops/{id}` | [`Action::ReadShop`] |
//! | `kanjo report …`, statements, settlements, the Zengin file, reconciliation runs, `/finance` | [`Action::ReadReport`] |
//! | `POST /v1/reconciliations/{id}/exceptions/{n}/resolve` | [`Action::ResolveException`] |
//! | `kanjo reconcile` (stores a run) | [`Action::RunReconciliation`] |
//! | `POST /v1/settlements`, `kanjo settle` | [`Action::Settle`] |
//! | payout records | [`Action::RecordPayout`] |
//! | `POST /v1/riders` | [`Action::UpsertRiders`] |
//! | `POST /v1/riders/{id}/keys` | [`Action::RegisterRiderDevice`] |
//! | `POST /v1/shops` | [`Action::UpsertShops`] |
//! | programme changes | [`Action::ChangeProgramme`] |
//! | `kanjo keys create` / `revoke` / `list` | [`Action::CreateKey`] / [`Action::RevokeKey`] / [`Action::ListKeys`] |
//! | `kanjo verify` | [`Action::Verify`] |
//! | `GET /metrics` | [`Action::ReadMetrics`] |
//!
//! # Text form
//!
//! Each action has a one-line text form, used in `forbidden` messages and in the scope matrix
//! (`auth/tests/scope_matrix.md`): `submit ride operator:donan-bus`,
//! `submit capture (unresolved)`, `read-event redeem place:station-012`,
//! `read-history place:station-012`, `read-report statement shop:books`, `create-key`.
//! `Action::parse(&action.to_string()) == Ok(action)` for every action whose names are valid.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::NAME_BYTES_MAX;
use crate::role::{RoleError, check_name};

/// Anything a principal can ask for. See the module docs for which endpoint is which.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Submit one event.
    Submit(Submit),
    /// Look up an event's answer. Described by the event's type and subject, because whoever
    /// could have submitted it may read it.
    ReadEvent(Submit),
    /// An account's balances.
    ReadAccount(AccountOwner),
    /// An account's transfers (or a rider's point lots): who paid whom, when.
    ReadHistory(AccountOwner),
    /// A shop's record.
    ReadShop {
        shop: String,
    },
    ReadReport(Report),
    ResolveException,
    RunReconciliation,
    Settle,
    RecordPayout,
    UpsertRiders,
    RegisterRiderDevice,
    UpsertShops,
    ChangeProgramme,
    CreateKey,
    RevokeKey,
    ListKeys,
    Verify,
    ReadMetrics,
}

/// The event types, as the `type` field of an event names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Ride,
    Tap,
    Purchase,
    Authorize,
    Capture,
    Void,
    Refund,
    Topup,
    Withdraw,
    Send,
    Redeem,
    Grant,
    VoucherPurchase,
    Convert,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::Ride,
        EventType::Tap,
        EventType::Purchase,
        EventType::Authorize,
        EventType::Capture,
        EventType::Void,
        EventType::Refund,
        EventType::Topup,
        EventType::Withdraw,
        EventType::Send,
        EventType::Redeem,
        EventType::Grant,
        EventType::VoucherPurchase,
        EventType::Convert,
    ];

    /// The event's `type` in JSON.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Ride => "ride",
            EventType::Tap => "tap",
            EventType::Purchase => "purchase",
            EventType::Authorize => "authorize",
            EventType::Capture => "capture",
            EventType::Void => "void",
            EventType::Refund => "refund",
            EventType::Topup => "topup",
            EventType::Withdraw => "withdraw",
            EventType::Send => "send",
            EventType::Redeem => "redeem",
            EventType::Grant => "grant",
            EventType::VoucherPurchase => "voucher_purchase",
            EventType::Convert => "convert",
        }
    }

    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// What kind of party the event acts for, if any.
    fn subject_kind(self) -> Option<SubjectKind> {
        match self {
            EventType::Ride | EventType::Tap => Some(SubjectKind::Operator),
            EventType::Purchase
            | EventType::Authorize
            | EventType::Capture
            | EventType::Void
            | EventType::Refund => Some(SubjectKind::Shop),
            EventType::Topup | EventType::Withdraw | EventType::Send => Some(SubjectKind::Bank),
            EventType::Redeem => Some(SubjectKind::Place),
            EventType::Grant | EventType::VoucherPurchase | EventType::Convert => None,
        }
    }
}

/// One event to submit (or to look up), with the party it acts for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Submit {
    /// The ride's `operator`.
    Ride {
        operator: String,
    },
    /// The tap's `operator`.
    Tap {
        operator: String,
    },
    /// The purchase's `shop`.
    Purchase {
        shop: String,
    },
    /// The authorisation's `shop`.
    Authorize {
        shop: String,
    },
    /// The shop of the authorisation captured; `None` if no such authorisation.
    Capture {
        shop: Option<String>,
    },
    /// The shop of the authorisation voided; `None` if no such authorisation.
    Void {
        shop: Option<String>,
    },
    /// The shop of the purchase refunded; `None` if no such purchase.
    Refund {
        shop: Option<String>,
    },
    /// The topup's `source` (the engine's default source when the event names none).
    Topup {
        source: String,
    },
    /// The bank that issued the asset withdrawn; `None` if the asset has no issuing bank.
    Withdraw {
        source: Option<String>,
    },
    /// The bank that issued the (transferable) asset sent; `None` if the asset has none.
    Send {
        source: Option<String>,
    },
    /// The redeem's `place` (a polling station for ballots).
    Redeem {
        place: String,
    },
    Grant,
    VoucherPurchase,
    Convert,
}

impl Submit {
    pub fn event_type(&self) -> EventType {
        match self {
            Submit::Ride { .. } => EventType::Ride,
            Submit::Tap { .. } => EventType::Tap,
            Submit::Purchase { .. } => EventType::Purchase,
            Submit::Authorize { .. } => EventType::Authorize,
            Submit::Capture { .. } => EventType::Capture,
            Submit::Void { .. } => EventType::Void,
            Submit::Refund { .. } => EventType::Refund,
            Submit::Topup { .. } => EventType::Topup,
            Submit::Withdraw { .. } => EventType::Withdraw,
            Submit::Send { .. } => EventType::Send,
            Submit::Redeem { .. } => EventType::Redeem,
            Submit::Grant => EventType::Grant,
            Submit::VoucherPurchase => EventType::VoucherPurchase,
            Submit::Convert => EventType::Convert,
        }
    }

    /// The party the event acts for: `None` for events no party owns (grants) and for subjects
    /// that could not be resolved.
    pub(crate) fn subject(&self) -> Option<Subject<'_>> {
        match self {
            Submit::Ride { operator } | Submit::Tap { operator } => {
                Some(Subject::Operator(operator))
            }
            Submit::Purchase { shop } | Submit::Authorize { shop } => Some(Subject::Shop(shop)),
            Submit::Capture { shop } | Submit::Void { shop } | Submit::Refund { shop } => {
                shop.as_deref().map(Subject::Shop)
            }
            Submit::Topup { source } => Some(Subject::Bank(source)),
            Submit::Withdraw { source } | Submit::Send { source } => {
                source.as_deref().map(Subject::Bank)
            }
            Submit::Redeem { place } => Some(Subject::Place(place)),
            Submit::Grant | Submit::VoucherPurchase | Submit::Convert => None,
        }
    }

    /// The name of the party the event acts for (operator, shop, bank source or place), if any
    /// and if resolved: what [`Submit::from_parts`] takes back.
    pub fn subject_name(&self) -> Option<&str> {
        self.subject().map(|subject| match subject {
            Subject::Operator(name)
            | Subject::Shop(name)
            | Subject::Bank(name)
            | Subject::Place(name) => name,
        })
    }

    /// Builds the submission of `event_type` for `subject` (`None`: unresolved or none).
    pub fn from_parts(event_type: EventType, subject: Option<String>) -> Submit {
        match event_type {
            EventType::Ride => Submit::Ride {
                operator: subject.unwrap_or_default(),
            },
            EventType::Tap => Submit::Tap {
                operator: subject.unwrap_or_default(),
            },
            EventType::Purchase => Submit::Purchase {
                shop: subject.unwrap_or_default(),
            },
            EventType::Authorize => Submit::Authorize {
                shop: subject.unwrap_or_default(),
            },
            EventType::Capture => Submit::Capture { shop: subject },
            EventType::Void => Submit::Void { shop: subject },
            EventType::Refund => Submit::Refund { shop: subject },
            EventType::Topup => Submit::Topup {
                source: subject.unwrap_or_default(),
            },
            EventType::Withdraw => Submit::Withdraw { source: subject },
            EventType::Send => Submit::Send { source: subject },
            EventType::Redeem => Submit::Redeem {
                place: subject.unwrap_or_default(),
            },
            EventType::Grant => Submit::Grant,
            EventType::VoucherPurchase => Submit::VoucherPurchase,
            EventType::Convert => Submit::Convert,
        }
    }

    /// Whether the subject may be `None` (looked up by the engine rather than named).
    fn subject_may_be_unresolved(event_type: EventType) -> bool {
        matches!(
            event_type,
            EventType::Capture
                | EventType::Void
                | EventType::Refund
                | EventType::Withdraw
                | EventType::Send
        )
    }
}

/// Whose an account is, as the engine's chart of accounts names it. The engine maps each account
/// name to its owner; anything it can't classify is [`AccountOwner::Unclassified`], which only
/// the auditor may read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccountOwner {
    /// `rider:{rider}:{asset}`
    Rider { rider: String },
    /// `operator:{operator}:fares|subsidy|cash`, and the operator's `payable:` account.
    Operator { operator: String },
    /// A shop's receipts, fees and `payable:` account.
    Shop { shop: String },
    /// `budget:{budget}:FY{year}`
    Budget { budget: String },
    /// `town:{town}:treasury`
    Town { town: String },
    /// `bank:{source}:{asset}`
    Bank { source: String },
    /// `issuer:{asset}`
    Issuer { asset: String },
    /// `place:{place}:{asset}`: a polling station's ballots used (who checked in).
    Place { place: String },
    /// `expired:{asset}`: breakage.
    Breakage { asset: String },
    /// `clearing:ic:JPY`
    Clearing,
    /// An account the engine could not classify.
    Unclassified,
}

impl AccountOwner {
    fn subject(&self) -> Option<Subject<'_>> {
        match self {
            AccountOwner::Operator { operator } => Some(Subject::Operator(operator)),
            AccountOwner::Shop { shop } => Some(Subject::Shop(shop)),
            AccountOwner::Bank { source } => Some(Subject::Bank(source)),
            AccountOwner::Place { place } => Some(Subject::Place(place)),
            AccountOwner::Rider { .. }
            | AccountOwner::Budget { .. }
            | AccountOwner::Town { .. }
            | AccountOwner::Issuer { .. }
            | AccountOwner::Breakage { .. }
            | AccountOwner::Clearing
            | AccountOwner::Unclassified => None,
        }
    }
}

/// A party with a statement and a payable account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    Operator(String),
    Shop(String),
}

/// What finance and reporting read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Report {
    /// `kanjo report trial-balance` (with the chain head).
    TrialBalance,
    /// One operator's day report.
    Operator { operator: String },
    /// One shop's sales, fees, refunds and net per day.
    Shop { shop: String },
    /// `kanjo report shops`: every shop.
    AllShops,
    /// Budgets per fiscal year, with their burn-down.
    Budgets,
    /// `kanjo report expiry`: points about to lapse.
    Expiry,
    /// Periods and their settlements.
    Settlements,
    /// One party's statement for a period.
    Statement { party: Party },
    /// A settlement's Zengin payout file.
    PayoutFile,
    /// Reconciliation runs and their exceptions.
    Reconciliations,
    /// The `/finance` page.
    FinancePage,
}

impl Report {
    fn subject(&self) -> Option<Subject<'_>> {
        match self {
            Report::Operator { operator }
            | Report::Statement {
                party: Party::Operator(operator),
            } => Some(Subject::Operator(operator)),
            Report::Shop { shop }
            | Report::Statement {
                party: Party::Shop(shop),
            } => Some(Subject::Shop(shop)),
            Report::TrialBalance
            | Report::AllShops
            | Report::Budgets
            | Report::Expiry
            | Report::Settlements
            | Report::PayoutFile
            | Report::Reconciliations
            | Report::FinancePage => None,
        }
    }
}

/// The party an action is for, as [`crate::scope`] compares it with a role's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject<'a> {
    Operator(&'a str),
    Shop(&'a str),
    Bank(&'a str),
    Place(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubjectKind {
    Operator,
    Shop,
    Bank,
    Place,
}

impl SubjectKind {
    fn prefix(self) -> &'static str {
        match self {
            SubjectKind::Operator => "operator",
            SubjectKind::Shop => "shop",
            SubjectKind::Bank => "bank",
            SubjectKind::Place => "place",
        }
    }
}

/// One row of the scope table per kind: each event type apart (their subjects differ), then one
/// per other action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    SubmitRide,
    SubmitTap,
    SubmitPurchase,
    SubmitAuthorize,
    SubmitCapture,
    SubmitVoid,
    SubmitRefund,
    SubmitTopup,
    SubmitWithdraw,
    SubmitSend,
    SubmitRedeem,
    SubmitGrant,
    SubmitVoucherPurchase,
    SubmitConvert,
    ReadEvent,
    ReadAccount,
    ReadHistory,
    ReadShop,
    ReadReport,
    ResolveException,
    RunReconciliation,
    Settle,
    RecordPayout,
    UpsertRiders,
    RegisterRiderDevice,
    UpsertShops,
    ChangeProgramme,
    CreateKey,
    RevokeKey,
    ListKeys,
    Verify,
    ReadMetrics,
}

impl ActionKind {
    pub const COUNT: usize = 32;

    pub const ALL: [ActionKind; ActionKind::COUNT] = [
        ActionKind::SubmitRide,
        ActionKind::SubmitTap,
        ActionKind::SubmitPurchase,
        ActionKind::SubmitAuthorize,
        ActionKind::SubmitCapture,
        ActionKind::SubmitVoid,
        ActionKind::SubmitRefund,
        ActionKind::SubmitTopup,
        ActionKind::SubmitWithdraw,
        ActionKind::SubmitSend,
        ActionKind::SubmitRedeem,
        ActionKind::SubmitGrant,
        ActionKind::SubmitVoucherPurchase,
        ActionKind::SubmitConvert,
        ActionKind::ReadEvent,
        ActionKind::ReadAccount,
        ActionKind::ReadHistory,
        ActionKind::ReadShop,
        ActionKind::ReadReport,
        ActionKind::ResolveException,
        ActionKind::RunReconciliation,
        ActionKind::Settle,
        ActionKind::RecordPayout,
        ActionKind::UpsertRiders,
        ActionKind::RegisterRiderDevice,
        ActionKind::UpsertShops,
        ActionKind::ChangeProgramme,
        ActionKind::CreateKey,
        ActionKind::RevokeKey,
        ActionKind::ListKeys,
        ActionKind::Verify,
        ActionKind::ReadMetrics,
    ];

    fn submit(event_type: EventType) -> ActionKind {
        match event_type {
            EventType::Ride => ActionKind::SubmitRide,
            EventType::Tap => ActionKind::SubmitTap,
            EventType::Purchase => ActionKind::SubmitPurchase,
            EventType::Authorize => ActionKind::SubmitAuthorize,
            EventType::Capture => ActionKind::SubmitCapture,
            EventType::Void => ActionKind::SubmitVoid,
            EventType::Refund => ActionKind::SubmitRefund,
            EventType::Topup => ActionKind::SubmitTopup,
            EventType::Withdraw => ActionKind::SubmitWithdraw,
            EventType::Send => ActionKind::SubmitSend,
            EventType::Redeem => ActionKind::SubmitRedeem,
            EventType::Grant => ActionKind::SubmitGrant,
            EventType::VoucherPurchase => ActionKind::SubmitVoucherPurchase,
            EventType::Convert => ActionKind::SubmitConvert,
        }
    }
}

/// The actions without a subject; their text form is their name.
const PLAIN_ACTIONS: [Action; 13] = [
    Action::ResolveException,
    Action::RunReconciliation,
    Action::Settle,
    Action::RecordPayout,
    Action::UpsertRiders,
    Action::RegisterRiderDevice,
    Action::UpsertShops,
    Action::ChangeProgramme,
    Action::CreateKey,
    Action::RevokeKey,
    Action::ListKeys,
    Action::Verify,
    Action::ReadMetrics,
];

/// The reports without a subject; their text form is their name.
const PLAIN_REPORTS: [Report; 8] = [
    Report::TrialBalance,
    Report::AllShops,
    Report::Budgets,
    Report::Expiry,
    Report::Settlements,
    Report::PayoutFile,
    Report::Reconciliations,
    Report::FinancePage,
];

/// The longest text form: a verb, an event type or report, a subject kind and a name.
pub const ACTION_TEXT_BYTES_MAX: usize = 64 + NAME_BYTES_MAX;

/// How a subject the engine could not look up is written.
const UNRESOLVED: &str = "(unresolved)";
/// How an account owner the engine could not classify is written.
const UNCLASSIFIED: &str = "(unclassified)";

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Submit(submit) => ActionKind::submit(submit.event_type()),
            Action::ReadEvent(_) => ActionKind::ReadEvent,
            Action::ReadAccount(_) => ActionKind::ReadAccount,
            Action::ReadHistory(_) => ActionKind::ReadHistory,
            Action::ReadShop { .. } => ActionKind::ReadShop,
            Action::ReadReport(_) => ActionKind::ReadReport,
            Action::ResolveException => ActionKind::ResolveException,
            Action::RunReconciliation => ActionKind::RunReconciliation,
            Action::Settle => ActionKind::Settle,
            Action::RecordPayout => ActionKind::RecordPayout,
            Action::UpsertRiders => ActionKind::UpsertRiders,
            Action::RegisterRiderDevice => ActionKind::RegisterRiderDevice,
            Action::UpsertShops => ActionKind::UpsertShops,
            Action::ChangeProgramme => ActionKind::ChangeProgramme,
            Action::CreateKey => ActionKind::CreateKey,
            Action::RevokeKey => ActionKind::RevokeKey,
            Action::ListKeys => ActionKind::ListKeys,
            Action::Verify => ActionKind::Verify,
            Action::ReadMetrics => ActionKind::ReadMetrics,
        }
    }

    /// The party the action is for; `None` when no party owns it or it was not resolved.
    pub(crate) fn subject(&self) -> Option<Subject<'_>> {
        match self {
            Action::Submit(submit) | Action::ReadEvent(submit) => submit.subject(),
            Action::ReadAccount(owner) | Action::ReadHistory(owner) => owner.subject(),
            Action::ReadShop { shop } => Some(Subject::Shop(shop)),
            Action::ReadReport(report) => report.subject(),
            _ => None,
        }
    }

    /// Parses the text form (see the module docs).
    pub fn parse(text: &str) -> Result<Action, ActionParseError> {
        if text.len() > ACTION_TEXT_BYTES_MAX {
            return Err(ActionParseError::TooLong {
                length_bytes: text.len(),
            });
        }
        let (verb, rest) = match text.split_once(' ') {
            Some((verb, rest)) => (verb, Some(rest)),
            None => (text, None),
        };
        if let Some(action) = PLAIN_ACTIONS
            .iter()
            .find(|action| action.to_string() == verb)
        {
            return match rest {
                None => Ok(action.clone()),
                Some(_) => Err(ActionParseError::Unexpected(text.to_owned())),
            };
        }
        let rest = rest.ok_or_else(|| ActionParseError::Unknown(text.to_owned()))?;
        match verb {
            "submit" => Ok(Action::Submit(parse_submit(rest)?)),
            "read-event" => Ok(Action::ReadEvent(parse_submit(rest)?)),
            "read-account" => Ok(Action::ReadAccount(parse_owner(rest)?)),
            "read-history" => Ok(Action::ReadHistory(parse_owner(rest)?)),
            "read-shop" => Ok(Action::ReadShop {
                shop: parse_named(rest, "shop")?,
            }),
            "read-report" => Ok(Action::ReadReport(parse_report(rest)?)),
            _ => Err(ActionParseError::Unknown(text.to_owned())),
        }
    }
}

/// Why an action's text form was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ActionParseError {
    #[error("action is {length_bytes} bytes, more than the {ACTION_TEXT_BYTES_MAX} allowed")]
    TooLong { length_bytes: usize },
    #[error("unknown action {0:?}")]
    Unknown(String),
    #[error("action {0:?} has more than its text form holds")]
    Unexpected(String),
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    #[error("{0:?} is not `{1}:NAME`")]
    WrongSubject(String, &'static str),
    #[error("a {0} event needs a subject")]
    MissingSubject(&'static str),
    #[error("unknown account owner {0:?}")]
    UnknownOwner(String),
    #[error("unknown report {0:?}")]
    UnknownReport(String),
    #[error(transparent)]
    Name(#[from] RoleError),
}

fn parse_named(text: &str, prefix: &'static str) -> Result<String, ActionParseError> {
    match text.split_once(':') {
        Some((kind, name)) if kind == prefix => {
            check_name(name)?;
            Ok(name.to_owned())
        }
        _ => Err(ActionParseError::WrongSubject(text.to_owned(), prefix)),
    }
}

fn parse_submit(text: &str) -> Result<Submit, ActionParseError> {
    let (type_name, subject) = match text.split_once(' ') {
        Some((type_name, subject)) => (type_name, Some(subject)),
        None => (text, None),
    };
    let event_type = EventType::from_name(type_name)
        .ok_or_else(|| ActionParseError::UnknownEventType(type_name.to_owned()))?;
    let subject = match (event_type.subject_kind(), subject) {
        (None, None) => None,
        (None, Some(_)) => return Err(ActionParseError::Unexpected(text.to_owned())),
        (Some(_), None) => return Err(ActionParseError::MissingSubject(event_type.name())),
        (Some(_), Some(UNRESOLVED)) if Submit::subject_may_be_unresolved(event_type) => None,
        (Some(kind), Some(subject)) => Some(parse_named(subject, kind.prefix())?),
    };
    Ok(Submit::from_parts(event_type, subject))
}

fn parse_owner(text: &str) -> Result<AccountOwner, ActionParseError> {
    match text {
        "clearing" => return Ok(AccountOwner::Clearing),
        UNCLASSIFIED => return Ok(AccountOwner::Unclassified),
        _ => {}
    }
    let Some((kind, name)) = text.split_once(':') else {
        return Err(ActionParseError::UnknownOwner(text.to_owned()));
    };
    check_name(name)?;
    let name = name.to_owned();
    Ok(match kind {
        "rider" => AccountOwner::Rider { rider: name },
        "operator" => AccountOwner::Operator { operator: name },
        "shop" => AccountOwner::Shop { shop: name },
        "budget" => AccountOwner::Budget { budget: name },
        "town" => AccountOwner::Town { town: name },
        "bank" => AccountOwner::Bank { source: name },
        "issuer" => AccountOwner::Issuer { asset: name },
        "place" => AccountOwner::Place { place: name },
        "breakage" => AccountOwner::Breakage { asset: name },
        _ => return Err(ActionParseError::UnknownOwner(text.to_owned())),
    })
}

fn parse_report(text: &str) -> Result<Report, ActionParseError> {
    if let Some(report) = PLAIN_REPORTS
        .iter()
        .find(|report| report.to_string() == text)
    {
        return Ok(report.clone());
    }
    if let Some(party) = text.strip_prefix("statement ") {
        let party = match party.split_once(':') {
            Some(("operator", _)) => Party::Operator(parse_named(party, "operator")?),
            Some(("shop", _)) => Party::Shop(parse_named(party, "shop")?),
            _ => return Err(ActionParseError::UnknownReport(text.to_owned())),
        };
        return Ok(Report::Statement { party });
    }
    match text.split_once(':') {
        Some(("operator", _)) => Ok(Report::Operator {
            operator: parse_named(text, "operator")?,
        }),
        Some(("shop", _)) => Ok(Report::Shop {
            shop: parse_named(text, "shop")?,
        }),
        _ => Err(ActionParseError::UnknownReport(text.to_owned())),
    }
}

impl FromStr for Action {
    type Err = ActionParseError;

    fn from_str(text: &str) -> Result<Action, ActionParseError> {
        Action::parse(text)
    }
}

impl fmt::Display for Submit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let event_type = self.event_type();
        f.write_str(event_type.name())?;
        match (event_type.subject_kind(), self.subject()) {
            (None, _) => Ok(()),
            (Some(_), None) => write!(f, " {UNRESOLVED}"),
            (Some(kind), Some(subject)) => write!(f, " {}:{}", kind.prefix(), subject.name()),
        }
    }
}

impl Subject<'_> {
    pub(crate) fn name(&self) -> &str {
        match self {
            Subject::Operator(name)
            | Subject::Shop(name)
            | Subject::Bank(name)
            | Subject::Place(name) => name,
        }
    }
}

impl fmt::Display for AccountOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountOwner::Rider { rider } => write!(f, "rider:{rider}"),
            AccountOwner::Operator { operator } => write!(f, "operator:{operator}"),
            AccountOwner::Shop { shop } => write!(f, "shop:{shop}"),
            AccountOwner::Budget { budget } => write!(f, "budget:{budget}"),
            AccountOwner::Town { town } => write!(f, "town:{town}"),
            AccountOwner::Bank { source } => write!(f, "bank:{source}"),
            AccountOwner::Issuer { asset } => write!(f, "issuer:{asset}"),
            AccountOwner::Place { place } => write!(f, "place:{place}"),
            AccountOwner::Breakage { asset } => write!(f, "breakage:{asset}"),
            AccountOwner::Clearing => f.write_str("clearing"),
            AccountOwner::Unclassified => f.write_str(UNCLASSIFIED),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::TrialBalance => f.write_str("trial-balance"),
            Report::Operator { operator } => write!(f, "operator:{operator}"),
            Report::Shop { shop } => write!(f, "shop:{shop}"),
            Report::AllShops => f.write_str("all-shops"),
            Report::Budgets => f.write_str("budgets"),
            Report::Expiry => f.write_str("expiry"),
            Report::Settlements => f.write_str("settlements"),
            Report::Statement {
                party: Party::Operator(operator),
            } => write!(f, "statement operator:{operator}"),
            Report::Statement {
                party: Party::Shop(shop),
            } => write!(f, "statement shop:{shop}"),
            Report::PayoutFile => f.write_str("payout-file"),
            Report::Reconciliations => f.write_str("reconciliations"),
            Report::FinancePage => f.write_str("finance-page"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Submit(submit) => write!(f, "submit {submit}"),
            Action::ReadEvent(submit) => write!(f, "read-event {submit}"),
            Action::ReadAccount(owner) => write!(f, "read-account {owner}"),
            Action::ReadHistory(owner) => write!(f, "read-history {owner}"),
            Action::ReadShop { shop } => write!(f, "read-shop shop:{shop}"),
            Action::ReadReport(report) => write!(f, "read-report {report}"),
            Action::ResolveException => f.write_str("resolve-exception"),
            Action::RunReconciliation => f.write_str("run-reconciliation"),
            Action::Settle => f.write_str("settle"),
            Action::RecordPayout => f.write_str("record-payout"),
            Action::UpsertRiders => f.write_str("upsert-riders"),
            Action::RegisterRiderDevice => f.write_str("register-rider-device"),
            Action::UpsertShops => f.write_str("upsert-shops"),
            Action::ChangeProgramme => f.write_str("change-programme"),
            Action::CreateKey => f.write_str("create-key"),
            Action::RevokeKey => f.write_str("revoke-key"),
            Action::ListKeys => f.write_str("list-keys"),
            Action::Verify => f.write_str("verify"),
            Action::ReadMetrics => f.write_str("read-metrics"),
        }
    }
}
