//! Input events: the JSON that `POST /v1/events` and `kanjo import` accept, parsed into typed events.
//!
//! Parsing is strict about what matters (ids, types, amounts, required fields) and lenient about the
//! rest (unknown fields are ignored). Every event has one canonical JSON form: it is what the command
//! log stores and what idempotency compares, so two bodies that mean the same thing (the same instant
//! written in another offset, keys in another order) are the same body.

use std::borrow::Cow;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::body::{BodyError, split_items};
use crate::limits::{EntryError, LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX, check_entry_id};

mod shop_events;
pub use shop_events::{
    Capture, PAY_WITH_ASSETS_MAX, PaymentToken, Refund, SendValue, ShopPayment,
    TOKEN_TEXT_BYTES_MAX, TokenUse, Void,
};
mod value_events;
pub use value_events::{Convert, Holder, VoucherPurchase, Withdraw};

/// Ids are pseudonymous references, not documents. An event id is the log entry's id.
pub const EVENT_ID_BYTES_MAX: usize = LOG_ENTRY_ID_BYTES_MAX;
/// Operator, route, stop, vehicle, rider, asset and place references: they name what ids name
/// (a rider reference is a rider id), so they obey the same limits.
pub const REFERENCE_BYTES_MAX: usize = LOG_ENTRY_ID_BYTES_MAX;
/// One event line; anything longer is not an event.
pub const EVENT_LINE_BYTES_MAX: usize = 16 * 1024;

/// Every key the canonical form can hold.
const CANONICAL_KEYS: [&str; 16] = [
    "id",
    "type",
    "at",
    "direction",
    "operator",
    "route",
    "from",
    "to",
    "stop",
    "vehicle",
    "rider",
    "media",
    "asset",
    "amount",
    "source",
    "place",
];
/// Of those, the keys whose values are references (the id aside).
const CANONICAL_REFERENCE_KEYS: usize = 10;
/// serde_json writes a control character as `\u00XX`: 6 bytes for 1.
const JSON_ESCAPED_BYTES_PER_BYTE_MAX: usize = 6;
/// The longest instant jiff writes (`-009999-01-02T01:59:59.999999999Z` is 33 bytes).
pub const CANONICAL_AT_BYTES_MAX: usize = 40;

const fn canonical_keys_bytes() -> usize {
    let mut bytes = 0;
    let mut index = 0;
    while index < CANONICAL_KEYS.len() {
        bytes += CANONICAL_KEYS[index].len() + 4; // two quotes, a colon, a comma
        index += 1;
    }
    bytes
}

/// The longest canonical form any accepted event can have: braces, every key, the id and every
/// reference at their longest and fully escaped, the instant, a u64 amount, and the three enums
/// (`type`, `direction`, `media`, each at most 6 bytes).
pub const CANONICAL_EVENT_BYTES_MAX: usize = 2
    + canonical_keys_bytes()
    + (1 + CANONICAL_REFERENCE_KEYS) * (2 + JSON_ESCAPED_BYTES_PER_BYTE_MAX * EVENT_ID_BYTES_MAX)
    + (2 + CANONICAL_AT_BYTES_MAX)
    + 20
    + 3 * (2 + 6);

// Parsing checks the log's limits, so an accepted event always fits a log entry.
const _: () = assert!(EVENT_ID_BYTES_MAX <= LOG_ENTRY_ID_BYTES_MAX);
const _: () = assert!(REFERENCE_BYTES_MAX <= LOG_ENTRY_ID_BYTES_MAX);
const _: () = assert!(CANONICAL_EVENT_BYTES_MAX <= LOG_ENTRY_BODY_BYTES_MAX);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub at: Timestamp,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Ride(Ride),
    Tap(Tap),
    Topup(Topup),
    Grant(Grant),
    Redeem(Redeem),
    /// Pay a shop now (spec/purchases.md).
    Purchase(ShopPayment),
    /// Hold a shop payment for a later capture or void.
    Authorize(ShopPayment),
    Capture(Capture),
    Void(Void),
    Refund(Refund),
    /// Person to person, transferable assets only.
    Send(SendValue),
    /// A stablecoin redeemed for yen at its issuing bank.
    Withdraw(Withdraw),
    /// Premium vouchers bought in sets.
    VoucherPurchase(VoucherPurchase),
    Convert(Convert),
}

/// How the rider's share of a fare is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Media {
    /// Collected on board; the operator holds the cash.
    #[default]
    Cash,
    /// The rider's stored value (yen) pays; not enough declines the ride.
    Wallet,
    /// An external IC card; the operator is owed through the IC clearing account.
    Ic,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ride {
    pub operator: String,
    pub route: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub rider: Option<String>,
    pub media: Media,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TapDirection {
    On,
    Off,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tap {
    pub direction: TapDirection,
    pub operator: String,
    pub route: Option<String>,
    pub stop: String,
    pub vehicle: String,
    pub rider: String,
    pub media: Media,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topup {
    pub rider: String,
    pub asset: String,
    pub amount_minor: u64,
    /// The bank or clearing house the value comes from; absent = the asset's default clearing account.
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub rider: String,
    pub asset: String,
    pub amount_minor: u64,
    /// Where the activity happened (a health class's QR): counted per rider, place and day.
    pub place: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redeem {
    pub rider: String,
    pub asset: String,
    pub place: String,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct EventError {
    /// The event's id when it could be read, so the answer can name it.
    pub id: Option<String>,
    pub message: String,
}

impl EventError {
    /// The code of a malformed event's answer.
    pub const CODE: &'static str = crate::answer::RejectionCode::BadEvent.code();

    fn new(id: Option<&str>, message: impl Into<String>) -> EventError {
        EventError {
            id: id.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// The wire shape: every field of every type, all optional, so one pass reads any event and the
/// per-type check can name exactly what is missing.
#[derive(Default, Deserialize, Serialize)]
struct WireEvent<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    id: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    at: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    direction: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    operator: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    route: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    from: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    to: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    stop: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    vehicle: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    rider: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    media: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    asset: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    place: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    shop: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pay_with: Option<Vec<String>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    authorization: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    purchase: Option<Cow<'a, str>>,
    /// A customer token as presented (`kq1.…`): only ever in a client's event.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    token: Option<Cow<'a, str>>,
    /// A checked token's nonce (32 hex digits) and expiry: what the log holds instead.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    token_nonce: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_expires_at: Option<u64>,
    /// Voucher sets bought (`voucher_purchase`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sets: Option<u64>,
    /// `convert`: the asset given and the asset received.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    from_asset: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    to_asset: Option<Cow<'a, str>>,
}

impl Event {
    /// Parses one event from its JSON text.
    pub fn parse(json: &str) -> Result<Event, EventError> {
        if json.len() > EVENT_LINE_BYTES_MAX {
            return Err(EventError::new(
                None,
                format!(
                    "event is {} bytes, more than the {EVENT_LINE_BYTES_MAX} allowed",
                    json.len()
                ),
            ));
        }
        let wire: WireEvent = serde_json::from_str(json).map_err(|error| {
            EventError::new(
                id_of_unparsed(json).as_deref(),
                format!("not an event: {error}"),
            )
        })?;
        Event::from_wire(wire)
    }

    /// Parses an already-decoded JSON value (a member of a JSON array body).
    pub fn from_value(value: &serde_json::Value) -> Result<Event, EventError> {
        let id = value.get("id").and_then(|id| id.as_str());
        let wire = WireEvent::deserialize(value)
            .map_err(|error| EventError::new(id, format!("not an event: {error}")))?;
        Event::from_wire(wire)
    }

    fn from_wire(wire: WireEvent) -> Result<Event, EventError> {
        let id = match wire.id.as_deref() {
            Some(id) => {
                check_id("id", id).map_err(|message| EventError::new(None, message))?;
                id.to_owned()
            }
            None => return Err(EventError::new(None, "`id` is missing")),
        };
        let fail = |message: String| EventError::new(Some(&id), message);
        let Some(kind) = wire.kind.as_deref() else {
            return Err(fail("`type` is missing".into()));
        };
        let at_text = wire
            .at
            .as_deref()
            .ok_or_else(|| fail("`at` is missing".into()))?;
        let at: Timestamp = at_text.parse().map_err(|error| {
            fail(format!(
                "`at` is not an RFC 3339 time with an offset: {at_text:?}: {error}"
            ))
        })?;

        let required =
            |field: &'static str, value: &Option<Cow<str>>| -> Result<String, EventError> {
                match value.as_deref() {
                    Some(text) => reference(&id, field, text),
                    None => Err(EventError::new(
                        Some(&id),
                        format!("a {kind} event needs `{field}`"),
                    )),
                }
            };
        let optional =
            |field: &'static str, value: &Option<Cow<str>>| -> Result<Option<String>, EventError> {
                value
                    .as_deref()
                    .map(|text| reference(&id, field, text))
                    .transpose()
            };
        let media = match wire.media.as_deref() {
            None | Some("cash") => Media::Cash,
            Some("wallet") => Media::Wallet,
            Some("ic") => Media::Ic,
            Some(other) => {
                return Err(fail(format!(
                    "`media` must be \"wallet\", \"cash\" or \"ic\", not {other:?}"
                )));
            }
        };
        let positive_amount = |default: Option<u64>| -> Result<u64, EventError> {
            match wire.amount.or(default) {
                Some(0) => Err(fail("`amount` must be greater than 0".into())),
                Some(amount) => Ok(amount),
                None => Err(fail(format!("a {kind} event needs `amount` (minor units)"))),
            }
        };

        let kind = match kind {
            "ride" => EventKind::Ride(Ride {
                operator: required("operator", &wire.operator)?,
                route: optional("route", &wire.route)?,
                from: optional("from", &wire.from)?,
                to: optional("to", &wire.to)?,
                rider: optional("rider", &wire.rider)?,
                media,
            }),
            "tap" => EventKind::Tap(Tap {
                direction: match wire.direction.as_deref() {
                    Some("on") => TapDirection::On,
                    Some("off") => TapDirection::Off,
                    Some(other) => {
                        return Err(fail(format!(
                            "`direction` must be \"on\" or \"off\", not {other:?}"
                        )));
                    }
                    None => return Err(fail("a tap event needs `direction`".into())),
                },
                operator: required("operator", &wire.operator)?,
                route: optional("route", &wire.route)?,
                stop: required("stop", &wire.stop)?,
                vehicle: required("vehicle", &wire.vehicle)?,
                rider: required("rider", &wire.rider)?,
                media,
            }),
            "topup" => EventKind::Topup(Topup {
                rider: required("rider", &wire.rider)?,
                asset: required("asset", &wire.asset)?,
                amount_minor: positive_amount(None)?,
                source: optional("source", &wire.source)?,
            }),
            "grant" => EventKind::Grant(Grant {
                rider: required("rider", &wire.rider)?,
                asset: required("asset", &wire.asset)?,
                amount_minor: positive_amount(None)?,
                place: optional("place", &wire.place)?,
            }),
            "redeem" => EventKind::Redeem(Redeem {
                rider: required("rider", &wire.rider)?,
                asset: required("asset", &wire.asset)?,
                place: required("place", &wire.place)?,
                amount_minor: positive_amount(Some(1))?,
            }),
            "purchase" | "authorize" | "capture" | "void" | "refund" | "send" => {
                shop_events::kind_from_wire(&id, kind, &wire)?
            }
            "withdraw" | "voucher_purchase" | "convert" => {
                value_events::kind_from_wire(&id, kind, &wire)?
            }
            other => {
                return Err(fail(format!(
                    "unknown event type {other:?}: expected ride, tap, topup, grant, redeem, purchase, authorize, capture, void, refund, send, withdraw or voucher_purchase"
                )));
            }
        };
        Ok(Event { id, at, kind })
    }

    /// The one JSON form of this event: fixed key order, the instant in UTC, defaults written out.
    pub fn canonical_json(&self) -> String {
        let at = self.at.to_string();
        let mut wire = WireEvent {
            id: Some(Cow::Borrowed(&self.id)),
            at: Some(Cow::Owned(at)),
            ..WireEvent::default()
        };
        match &self.kind {
            EventKind::Ride(ride) => {
                wire.kind = text("ride");
                wire.operator = text(&ride.operator);
                wire.route = option(&ride.route);
                wire.from = option(&ride.from);
                wire.to = option(&ride.to);
                wire.rider = option(&ride.rider);
                wire.media = text(media_name(ride.media));
            }
            EventKind::Tap(tap) => {
                wire.kind = text("tap");
                wire.direction = text(match tap.direction {
                    TapDirection::On => "on",
                    TapDirection::Off => "off",
                });
                wire.operator = text(&tap.operator);
                wire.route = option(&tap.route);
                wire.stop = text(&tap.stop);
                wire.vehicle = text(&tap.vehicle);
                wire.rider = text(&tap.rider);
                wire.media = text(media_name(tap.media));
            }
            EventKind::Topup(topup) => {
                wire.kind = text("topup");
                wire.rider = text(&topup.rider);
                wire.asset = text(&topup.asset);
                wire.amount = Some(topup.amount_minor);
                wire.source = option(&topup.source);
            }
            EventKind::Grant(grant) => {
                wire.kind = text("grant");
                wire.rider = text(&grant.rider);
                wire.asset = text(&grant.asset);
                wire.amount = Some(grant.amount_minor);
                wire.place = option(&grant.place);
            }
            EventKind::Redeem(redeem) => {
                wire.kind = text("redeem");
                wire.rider = text(&redeem.rider);
                wire.asset = text(&redeem.asset);
                wire.place = text(&redeem.place);
                wire.amount = Some(redeem.amount_minor);
            }
            kind @ (EventKind::Withdraw(_)
            | EventKind::VoucherPurchase(_)
            | EventKind::Convert(_)) => value_events::fill_wire(kind, &mut wire),
            kind => shop_events::fill_wire(kind, &mut wire),
        }
        serde_json::to_string(&wire).expect("a WireEvent has only strings and integers")
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EventKind::Ride(_) => "ride",
            EventKind::Tap(_) => "tap",
            EventKind::Topup(_) => "topup",
            EventKind::Grant(_) => "grant",
            EventKind::Redeem(_) => "redeem",
            EventKind::Purchase(_) => "purchase",
            EventKind::Authorize(_) => "authorize",
            EventKind::Capture(_) => "capture",
            EventKind::Void(_) => "void",
            EventKind::Refund(_) => "refund",
            EventKind::Send(_) => "send",
            EventKind::Withdraw(_) => "withdraw",
            EventKind::VoucherPurchase(_) => "voucher_purchase",
            EventKind::Convert(_) => "convert",
        }
    }
}

pub fn media_name(media: Media) -> &'static str {
    match media {
        Media::Cash => "cash",
        Media::Wallet => "wallet",
        Media::Ic => "ic",
    }
}

fn text(value: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(value))
}

fn option(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

fn reference(id: &str, field: &'static str, text: &str) -> Result<String, EventError> {
    if text.is_empty() {
        return Err(EventError::new(Some(id), format!("`{field}` is empty")));
    }
    if kanjo_privacy::contains_my_number(text) {
        // Refused before it can reach the log: kanjo never stores a My Number.
        return Err(EventError::new(
            Some(id),
            format!(
                "`{field}` holds a 12-digit number, which could be a My Number; use a pseudonymous id"
            ),
        ));
    }
    check_id(field, text).map_err(|message| EventError::new(Some(id), message))?;
    Ok(text.to_owned())
}

/// Ids and references are what the log holds as an entry id: the store's own check, so the two
/// can't disagree. The message names the field.
pub(crate) fn check_id(field: &str, text: &str) -> Result<(), String> {
    check_entry_id(text).map_err(|error| match error {
        EntryError::IdLength { id_bytes: 0 } => format!("`{field}` is empty"),
        EntryError::IdLength { id_bytes } => {
            format!(
                "`{field}` is {id_bytes} bytes, longer than the {LOG_ENTRY_ID_BYTES_MAX} allowed"
            )
        }
        EntryError::IdHasNul => format!("`{field}` contains a NUL character"),
        EntryError::BodyTooLarge { .. } => format!("`{field}`: {error}"),
    })
}

/// Best effort: the id of a line that is JSON but not a valid event, so its error can name it.
fn id_of_unparsed(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}

/// Cuts a request body (a JSON array, or NDJSON: one object per line) into at most `items_max`
/// events. Each item is parsed on its own, so one bad item never costs the others.
pub fn parse_batch(
    body: &str,
    items_max: usize,
) -> Result<Vec<Result<Event, EventError>>, BodyError> {
    Ok(split_items(body, items_max)?
        .into_iter()
        .map(|item| match item {
            Ok(text) => Event::parse(text),
            Err(error) => Err(EventError::new(None, error.to_string())),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ride_without_media_is_paid_in_cash() {
        let event = Event::parse(
            r#"{"id":"e-1","type":"ride","at":"2026-11-26T07:45:00+09:00","operator":"donan-bus","route":"100100","from":"0122_A","to":"0179_A","rider":"r-001"}"#,
        )
        .unwrap();
        let EventKind::Ride(ride) = &event.kind else {
            panic!("not a ride")
        };
        assert_eq!(ride.media, Media::Cash);
        assert_eq!(event.at.to_string(), "2026-11-25T22:45:00Z");
    }

    #[test]
    fn the_same_instant_in_another_offset_is_the_same_body() {
        let tokyo = Event::parse(r#"{"id":"t","type":"grant","at":"2026-11-26T09:00:00+09:00","rider":"r","asset":"ballot","amount":1}"#).unwrap();
        let utc = Event::parse(r#"{"amount":1,"asset":"ballot","rider":"r","at":"2026-11-26T00:00:00Z","type":"grant","id":"t"}"#).unwrap();
        assert_eq!(tokyo.canonical_json(), utc.canonical_json());
    }

    #[test]
    fn canonical_json_parses_back_to_the_same_event() {
        let event = Event::parse(r#"{"id":"v1","type":"redeem","at":"2026-11-26T07:00:00+09:00","rider":"voter-1","asset":"ballot-2026","place":"station-12"}"#).unwrap();
        assert_eq!(Event::parse(&event.canonical_json()).unwrap(), event);
    }

    #[test]
    fn an_unknown_type_names_the_id_and_the_type() {
        let error =
            Event::parse(r#"{"id":"e-16","type":"teleport","at":"2026-11-25T13:08:00+09:00"}"#)
                .unwrap_err();
        assert_eq!(error.id.as_deref(), Some("e-16"));
        assert!(error.message.contains("teleport"), "{}", error.message);
    }

    #[test]
    fn a_tap_without_vehicle_says_so() {
        let error = Event::parse(r#"{"id":"t1","type":"tap","direction":"on","at":"2026-11-25T07:00:00+09:00","operator":"o","stop":"s","rider":"r"}"#).unwrap_err();
        assert!(error.message.contains("`vehicle`"), "{}", error.message);
    }

    #[test]
    fn zero_amounts_and_local_times_without_offset_are_rejected() {
        assert!(Event::parse(r#"{"id":"x","type":"topup","at":"2026-11-25T07:00:00+09:00","rider":"r","asset":"JPY","amount":0}"#).is_err());
        assert!(Event::parse(r#"{"id":"x","type":"topup","at":"2026-11-25T07:00:00","rider":"r","asset":"JPY","amount":5}"#).is_err());
    }

    #[test]
    fn ids_and_references_obey_the_log_limits() {
        let with_id = |id: &str| {
            serde_json::json!({"id": id, "type": "grant", "at": "2026-11-25T07:00:00Z", "rider": "r", "asset": "pt", "amount": 1})
                .to_string()
        };
        let nul = Event::parse(&with_id("a\u{0}b")).unwrap_err();
        assert_eq!(nul.message, "`id` contains a NUL character");
        let long = Event::parse(&with_id(&"x".repeat(EVENT_ID_BYTES_MAX + 1))).unwrap_err();
        assert!(long.message.contains("129 bytes"), "{}", long.message);
        assert!(Event::parse(&with_id(&"x".repeat(EVENT_ID_BYTES_MAX))).is_ok());
        let rider = Event::parse(r#"{"id":"g","type":"grant","at":"2026-11-25T07:00:00Z","rider":"r\u0000","asset":"pt","amount":1}"#).unwrap_err();
        assert_eq!(rider.message, "`rider` contains a NUL character");
        assert_eq!(rider.id.as_deref(), Some("g"));
    }

    #[test]
    fn the_longest_canonical_event_fits_its_bound() {
        for instant in [Timestamp::MIN, Timestamp::MAX] {
            assert!(
                instant.to_string().len() <= CANONICAL_AT_BYTES_MAX,
                "{instant}"
            );
        }
        // Control characters are escaped to 6 bytes each: the worst case for every string.
        let worst = "\u{1}".repeat(REFERENCE_BYTES_MAX);
        let tap = serde_json::json!({
            "id": worst, "type": "tap", "direction": "off", "at": Timestamp::MIN.to_string(),
            "operator": worst, "route": worst, "stop": worst, "vehicle": worst, "rider": worst,
            "media": "wallet",
        });
        let event = Event::parse(&tap.to_string()).unwrap();
        let canonical = event.canonical_json();
        assert!(
            canonical.len() > 6 * 6 * REFERENCE_BYTES_MAX,
            "id and 5 references"
        );
        assert!(canonical.len() <= CANONICAL_EVENT_BYTES_MAX);
    }

    #[test]
    fn a_batch_keeps_good_items_beside_bad_ones() {
        let body = "{\"id\":\"a\",\"type\":\"grant\",\"at\":\"2026-11-25T07:00:00Z\",\"rider\":\"r\",\"asset\":\"pt\",\"amount\":3}\nnot json\n";
        let items = parse_batch(body, 10).unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        let array = parse_batch("[{\"id\":\"a\",\"type\":\"grant\",\"at\":\"2026-11-25T07:00:00Z\",\"rider\":\"r\",\"asset\":\"pt\",\"amount\":3}, 5, NaN]", 10).unwrap();
        assert!(array[0].is_ok() && array[1].is_err() && array[2].is_err());
    }
}
