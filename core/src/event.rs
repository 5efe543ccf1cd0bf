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

mod shop_events;
pub use shop_events::{Capture, PAY_WITH_ASSETS_MAX, Refund, SendValue, ShopPayment, Void};

/// Ids are pseudonymous references, not documents.
pub const EVENT_ID_BYTES_MAX: usize = 128;
/// Operator, route, stop, vehicle, rider, asset and place references.
pub const REFERENCE_BYTES_MAX: usize = 128;
/// One event line; anything longer is not an event.
pub const EVENT_LINE_BYTES_MAX: usize = 16 * 1024;

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
    pub const CODE: &'static str = "bad_event";

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
            Some(id) if !id.is_empty() && id.len() <= EVENT_ID_BYTES_MAX => id.to_owned(),
            Some("") => return Err(EventError::new(None, "`id` is empty")),
            Some(_) => {
                return Err(EventError::new(
                    None,
                    format!("`id` is longer than {EVENT_ID_BYTES_MAX} bytes"),
                ));
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
            other => {
                return Err(fail(format!(
                    "unknown event type {other:?}: expected ride, tap, topup, grant, redeem, purchase, authorize, capture, void, refund or send"
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
            }
            EventKind::Redeem(redeem) => {
                wire.kind = text("redeem");
                wire.rider = text(&redeem.rider);
                wire.asset = text(&redeem.asset);
                wire.place = text(&redeem.place);
                wire.amount = Some(redeem.amount_minor);
            }
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
    if crate::riders::looks_like_my_number(text) {
        // Refused before it can reach the log: kanjo never stores a My Number.
        return Err(EventError::new(
            Some(id),
            format!("`{field}` looks like a 12-digit My Number; use a pseudonymous id"),
        ));
    }
    if text.len() > REFERENCE_BYTES_MAX {
        return Err(EventError::new(
            Some(id),
            format!("`{field}` is longer than {REFERENCE_BYTES_MAX} bytes"),
        ));
    }
    Ok(text.to_owned())
}

/// Best effort: the id of a line that is JSON but not a valid event, so its error can name it.
fn id_of_unparsed(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}

/// Splits a request body into event texts: a JSON array, or NDJSON (one object per line).
/// Each item is parsed on its own, so one bad item never costs the others.
pub fn parse_batch(body: &str) -> Result<Vec<Result<Event, EventError>>, EventError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(trimmed).map_err(|error| {
            EventError::new(
                None,
                format!("the body is not a JSON array of events: {error}"),
            )
        })?;
        return Ok(values.iter().map(Event::from_value).collect());
    }
    Ok(body
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(Event::parse)
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
    fn a_batch_keeps_good_items_beside_bad_ones() {
        let body = "{\"id\":\"a\",\"type\":\"grant\",\"at\":\"2026-11-25T07:00:00Z\",\"rider\":\"r\",\"asset\":\"pt\",\"amount\":3}\nnot json\n";
        let items = parse_batch(body).unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        let array = parse_batch("[{\"id\":\"a\",\"type\":\"grant\",\"at\":\"2026-11-25T07:00:00Z\",\"rider\":\"r\",\"asset\":\"pt\",\"amount\":3}, 5]").unwrap();
        assert!(array[0].is_ok() && array[1].is_err());
    }
}
