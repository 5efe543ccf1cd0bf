//! API keys and scopes in the engine: the key book the server authenticates against, the scope of
//! each event, and who submitted each logged event.
//!
//! **Where the key book lives.** Key changes (`kanjo keys create`, `revoke`, `POST /v1/keys`) are
//! log entries of kind `KeyChange` (10). They go through the running pipeline like rider records:
//! the machine thread applies each to the key book in log order, and replay applies them again, so
//! the book is a function of the log. The book itself sits in [`AuthState`], beside the machine
//! rather than in it (kanjo-core stays free of keys), shared with the HTTP handlers behind a
//! read-write lock: every request authenticates without a trip through the machine thread, and a
//! revocation applied by the machine thread is seen by the very next request. A `kanjo keys`
//! command against a running server goes through its API (`--server`), never around it: the log
//! has one writer.
//!
//! **Scopes of events.** Inside a batch each event is its own [`Action::Submit`], authorised on the
//! machine thread just before it is applied ([`submit_of`] looks up the subjects only the machine
//! knows: the shop of the authorisation a capture names, the bank that issued the asset a
//! withdraw burns). An event outside the key's scope is answered `forbidden`, and is neither
//! applied nor logged, so its id stays free for a key that may send it.
//!
//! **Who did it.** A logged event's entry body is its canonical JSON with the submitting key's id
//! in front: `{"principal":"<16 hex>",` + the canonical form without its `{`. The canonical form
//! always starts with `{"id":`, so only the engine writes that prefix; clients can't set it (an
//! unknown `principal` field in their JSON is dropped with every other unknown field). Replay
//! reads the key id back ([`split_principal`]) and the event parser ignores it, so idempotency
//! and the ledger digest are what they were. [`AuthState`] keeps each logged event's first key
//! id, type and subject ([`EventStamps`]), which the event lookup shows and authorises by.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use kanjo_auth::{
    AccountOwner, AuthError, EventType, KeyBook, KeyBookError, KeyChange, KeyId, KeyRecord,
    Principal, Submit,
};
use kanjo_core::chart::{AccountName, DEFAULT_BANK};
use kanjo_core::event::{Event, EventKind};
use kanjo_core::limits::LOG_ENTRY_BODY_BYTES_MAX;
use kanjo_core::machine::{Machine, event_id_hash};

/// What an event body starts with when the engine recorded who sent it.
const PRINCIPAL_PREFIX: &str = "{\"principal\":\"";
/// `{"principal":"` + 16 hex + `",`: what the principal adds to a canonical event.
pub const PRINCIPAL_BYTES: usize = PRINCIPAL_PREFIX.len() + kanjo_auth::KEY_ID_HEX_CHARS + 2;
// Every accepted event still fits a log entry with its principal.
const _: () = assert!(
    kanjo_core::event::CANONICAL_EVENT_BYTES_MAX + PRINCIPAL_BYTES <= LOG_ENTRY_BODY_BYTES_MAX
);

/// Who submits a batch of events.
#[derive(Clone, Debug)]
pub enum Caller {
    /// In-process, with the database in hand (`kanjo import`, `kanjo demo`, tests): no key, no
    /// scope, nothing recorded as the principal.
    Local,
    /// An API key: each event is checked against its scope, and its key id is logged with it.
    Key(Arc<Principal>),
}

/// The key book and the principal of every logged event. One per engine.
#[derive(Debug, Default)]
pub struct AuthState {
    keys: RwLock<KeyBook>,
    stamps: Mutex<EventStamps>,
}

impl AuthState {
    pub fn new() -> Arc<AuthState> {
        Arc::new(AuthState::default())
    }

    fn book(&self) -> std::sync::RwLockReadGuard<'_, KeyBook> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The principal behind an `Authorization` header, at `now_unix_s`.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        now_unix_s: u64,
    ) -> Result<Principal, AuthError> {
        self.book().authenticate(authorization, now_unix_s)
    }

    /// Whether the book would take `change` now (the edge check; the machine thread checks again).
    pub fn check_change(&self, change: &KeyChange) -> Result<(), KeyBookError> {
        self.book().check(change)
    }

    /// Applies a change on the machine thread (live or replay), or refuses it and changes nothing.
    pub(crate) fn apply_change(&self, change: &KeyChange) -> Result<(), KeyBookError> {
        self.keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .apply(change)
    }

    /// Every key, revoked ones included, in the order made.
    pub fn records(&self) -> Vec<KeyRecord> {
        self.book().records().to_vec()
    }

    pub fn key(&self, key_id: KeyId) -> Option<KeyRecord> {
        self.book().get(key_id).cloned()
    }

    pub fn keys_len(&self) -> usize {
        self.book().len()
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, EventStamps> {
        self.stamps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records who sent a logged event (the first sender of an id stays).
    pub(crate) fn stamp(&self, id_hash: u128, key_id: KeyId, submit: &Submit) {
        self.stamps().insert(id_hash, key_id, submit);
    }

    /// The key that sent an event and what the event was (type and subject), if a key sent it.
    pub fn stamp_of(&self, event_id: &str) -> Option<(KeyId, Submit)> {
        self.stamps().get(event_id_hash(event_id))
    }
}

/// Per logged event sent with a key: the key id, the event type and an index into the interned
/// subjects. About 40 bytes an event with the hash map's overhead; the subjects are the few
/// operators, shops, banks and stations of a town.
#[derive(Debug, Default)]
struct EventStamps {
    by_event: HashMap<u128, Stamp>,
    subjects: Vec<Box<str>>,
    subject_index: HashMap<Box<str>, u32>,
}

#[derive(Clone, Copy, Debug)]
struct Stamp {
    key_id: KeyId,
    event_type: EventType,
    /// `u32::MAX`: no subject (grants) or none resolved.
    subject: u32,
}

const NO_SUBJECT: u32 = u32::MAX;

impl EventStamps {
    fn insert(&mut self, id_hash: u128, key_id: KeyId, submit: &Submit) {
        if self.by_event.contains_key(&id_hash) {
            return;
        }
        let subject = match submit.subject_name() {
            None => NO_SUBJECT,
            Some(name) => match self.subject_index.get(name) {
                Some(index) => *index,
                None => {
                    let index = u32::try_from(self.subjects.len())
                        .ok()
                        .filter(|index| *index < NO_SUBJECT)
                        .expect("fewer than 2^32 - 1 distinct subjects");
                    self.subjects.push(name.into());
                    self.subject_index.insert(name.into(), index);
                    index
                }
            },
        };
        let stamp = Stamp {
            key_id,
            event_type: submit.event_type(),
            subject,
        };
        self.by_event.insert(id_hash, stamp);
    }

    fn get(&self, id_hash: u128) -> Option<(KeyId, Submit)> {
        let stamp = self.by_event.get(&id_hash)?;
        let subject = (stamp.subject != NO_SUBJECT)
            .then(|| self.subjects[stamp.subject as usize].to_string());
        Some((stamp.key_id, Submit::from_parts(stamp.event_type, subject)))
    }
}

/// The event as an action of the scope table: its type and the party it acts for. Subjects the
/// event does not name are looked up on the machine; `None` when they can't be (nobody's).
pub fn submit_of(machine: &Machine, event: &Event) -> Submit {
    match &event.kind {
        EventKind::Ride(ride) => Submit::Ride {
            operator: ride.operator.clone(),
        },
        EventKind::Tap(tap) => Submit::Tap {
            operator: tap.operator.clone(),
        },
        EventKind::Purchase(payment) => Submit::Purchase {
            shop: payment.shop.clone(),
        },
        EventKind::Authorize(payment) => Submit::Authorize {
            shop: payment.shop.clone(),
        },
        EventKind::Capture(capture) => Submit::Capture {
            shop: payment_shop(machine, &capture.authorization),
        },
        EventKind::Void(void) => Submit::Void {
            shop: payment_shop(machine, &void.authorization),
        },
        EventKind::Refund(refund) => Submit::Refund {
            shop: payment_shop(machine, &refund.purchase),
        },
        EventKind::Topup(topup) => Submit::Topup {
            source: topup.source.as_deref().unwrap_or(DEFAULT_BANK).to_owned(),
        },
        EventKind::Withdraw(withdraw) => Submit::Withdraw {
            source: asset_bank(machine, &withdraw.asset),
        },
        EventKind::Send(send) => Submit::Send {
            source: asset_bank(machine, &send.asset),
        },
        EventKind::Redeem(redeem) => Submit::Redeem {
            place: redeem.place.clone(),
        },
        EventKind::Grant(_) => Submit::Grant,
        EventKind::VoucherPurchase(_) => Submit::VoucherPurchase,
        EventKind::Convert(_) => Submit::Convert,
    }
}

/// The shop of the purchase or authorisation `id`, if the machine holds one.
fn payment_shop(machine: &Machine, id: &str) -> Option<String> {
    let state = machine.payment_state_json(id)?;
    state.get("shop")?.as_str().map(str::to_owned)
}

/// The bank an asset belongs to: a stablecoin's issuing bank, and for any other asset of the
/// programme the default bank (the one a topup without `source` names). `None` for an asset the
/// programme doesn't have.
fn asset_bank(machine: &Machine, asset: &str) -> Option<String> {
    let (_, spec) = machine.assets().get(asset)?;
    Some(spec.issuing_bank().unwrap_or(DEFAULT_BANK).to_owned())
}

/// Whose an account is, from its name (`rider:r-001:JPY` → the rider). Accounts of the town's
/// own books that belong to no party (fees, vouchers) are unclassified: only the auditor reads
/// them.
pub fn account_owner(name: &str) -> AccountOwner {
    let Some(parsed) = AccountName::parse(name) else {
        return AccountOwner::Unclassified;
    };
    match parsed {
        AccountName::Rider { rider, .. } => AccountOwner::Rider {
            rider: rider.to_owned(),
        },
        AccountName::OperatorFares { operator }
        | AccountName::OperatorSubsidy { operator }
        | AccountName::OperatorCash { operator } => AccountOwner::Operator {
            operator: operator.to_owned(),
        },
        AccountName::IcClearing => AccountOwner::Clearing,
        AccountName::Budget { budget, .. } => AccountOwner::Budget {
            budget: budget.to_owned(),
        },
        AccountName::Treasury { town } => AccountOwner::Town {
            town: town.to_owned(),
        },
        AccountName::Bank { source, .. } | AccountName::Backing { bank: source, .. } => {
            AccountOwner::Bank {
                source: source.to_owned(),
            }
        }
        AccountName::Issuer { asset } => AccountOwner::Issuer {
            asset: asset.to_owned(),
        },
        AccountName::Place { place, .. } => AccountOwner::Place {
            place: place.to_owned(),
        },
        AccountName::Shop { shop, .. } => AccountOwner::Shop {
            shop: shop.to_owned(),
        },
        AccountName::Expired { asset } => AccountOwner::Breakage {
            asset: asset.to_owned(),
        },
        AccountName::Fees { .. }
        | AccountName::VoucherSales { .. }
        | AccountName::VoucherBudget { .. }
        | AccountName::VoucherCash { .. } => AccountOwner::Unclassified,
    }
}

/// A key's expiry: `YYYY-MM-DD` (valid through the end of that day in Japan, +09:00) or an
/// RFC 3339 instant; in unix seconds.
pub fn parse_expiry(text: &str) -> Result<u64, String> {
    let instant = if let Ok(date) = text.parse::<jiff::civil::Date>() {
        let japan = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9));
        japan
            .to_timestamp(date.at(23, 59, 59, 0))
            .map_err(|error| format!("expiry {text:?}: {error}"))?
    } else {
        text.parse::<jiff::Timestamp>()
            .map_err(|_| format!("expiry {text:?} is neither YYYY-MM-DD nor an RFC 3339 instant"))?
    };
    u64::try_from(instant.as_second()).map_err(|_| format!("expiry {text:?} is before 1970"))
}

/// The log entry body of an event sent with a key: its canonical JSON with the key id in front.
pub fn with_principal(key_id: KeyId, canonical: &str) -> String {
    let rest = canonical
        .strip_prefix('{')
        .expect("a canonical event is a JSON object");
    let body = format!("{PRINCIPAL_PREFIX}{key_id}\",{rest}");
    debug_assert_eq!(body.len(), canonical.len() + PRINCIPAL_BYTES - 1);
    body
}

/// The key id an event's log entry body was sent with, if any. A prefix that does not hold a
/// key id is an error (the engine never writes one).
pub fn split_principal(body: &str) -> Result<Option<KeyId>, String> {
    let Some(rest) = body.strip_prefix(PRINCIPAL_PREFIX) else {
        return Ok(None);
    };
    let key_id = rest
        .get(..kanjo_auth::KEY_ID_HEX_CHARS)
        .ok_or_else(|| "a principal prefix without a key id".to_owned())?;
    KeyId::parse(key_id)
        .map(Some)
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_in_front_of_a_canonical_event_reads_back_and_the_event_parses_the_same() {
        let event = Event::parse(
            r#"{"id":"g-1","type":"grant","at":"2026-11-26T09:00:00+09:00","rider":"r","asset":"ballot","amount":1}"#,
        )
        .unwrap();
        let canonical = event.canonical_json();
        let key_id = KeyId::parse("0123456789abcdef").unwrap();
        let body = with_principal(key_id, &canonical);
        assert_eq!(body.len(), canonical.len() + PRINCIPAL_BYTES - 1);
        assert_eq!(split_principal(&body), Ok(Some(key_id)));
        assert_eq!(split_principal(&canonical), Ok(None));
        assert_eq!(Event::parse(&body).unwrap(), event);
    }

    #[test]
    fn the_first_sender_of_an_event_id_stays_its_principal() {
        let mut stamps = EventStamps::default();
        let first = KeyId::parse("0000000000000001").unwrap();
        let second = KeyId::parse("0000000000000002").unwrap();
        let ride = Submit::Ride {
            operator: "donan-bus".into(),
        };
        stamps.insert(7, first, &ride);
        stamps.insert(7, second, &ride);
        assert_eq!(stamps.get(7), Some((first, ride)));
        assert_eq!(stamps.subjects.len(), 1);
        stamps.insert(8, second, &Submit::Grant);
        assert_eq!(stamps.get(8), Some((second, Submit::Grant)));
    }
}
