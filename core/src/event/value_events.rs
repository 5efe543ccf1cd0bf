//! The events of issue 9's value schemes: `withdraw` (a stablecoin redeemed for yen at its bank)
//! and `voucher_purchase` (premium vouchers bought in sets). Parsed with the same reference and
//! amount rules as every other event; `sets` is bounded here by the largest per-person limit an
//! asset may declare, so no product of `sets` and a voucher's terms can overflow downstream.

use std::borrow::Cow;

use super::{EventError, EventKind, Media, WireEvent, reference};
use crate::chart::VOUCHER_LIMIT_SETS_MAX;

/// Who holds the coins a `withdraw` redeems: `"rider"` or `"shop"`, exactly one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    Rider(String),
    Shop(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdraw {
    pub holder: Holder,
    pub asset: String,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoucherPurchase {
    pub rider: String,
    pub asset: String,
    /// 1 to `VOUCHER_LIMIT_SETS_MAX`.
    pub sets: u32,
    /// `Cash` (paid at the counter) or `Wallet` (from `rider:…:JPY`); never `Ic`.
    pub media: Media,
}

/// `convert`: `amount` of `from_asset` offered, converted in whole blocks of the programme's rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Convert {
    pub rider: String,
    pub from_asset: String,
    pub to_asset: String,
    pub amount_minor: u64,
}

/// The typed event of `withdraw`, `voucher_purchase` or `convert`; `kind` is the `type` field.
pub(super) fn kind_from_wire(
    id: &str,
    kind: &str,
    wire: &WireEvent,
) -> Result<EventKind, EventError> {
    let fail = |message: String| EventError::new(Some(id), message);
    let required = |field: &'static str, value: &Option<Cow<str>>| match value.as_deref() {
        Some(text) => reference(id, field, text),
        None => Err(fail(format!("a {kind} event needs `{field}`"))),
    };
    Ok(match kind {
        "withdraw" => {
            let holder = match (&wire.rider, &wire.shop) {
                (Some(_), None) => Holder::Rider(required("rider", &wire.rider)?),
                (None, Some(_)) => Holder::Shop(required("shop", &wire.shop)?),
                _ => {
                    return Err(fail(
                        "a withdraw event needs `rider` or `shop`, one of them".into(),
                    ));
                }
            };
            let amount_minor = match wire.amount {
                Some(0) => return Err(fail("`amount` must be greater than 0".into())),
                Some(amount) => amount,
                None => return Err(fail("a withdraw event needs `amount` (minor units)".into())),
            };
            EventKind::Withdraw(Withdraw {
                holder,
                asset: required("asset", &wire.asset)?,
                amount_minor,
            })
        }
        "voucher_purchase" => {
            let sets = match wire.sets {
                Some(sets) if (1..=u64::from(VOUCHER_LIMIT_SETS_MAX)).contains(&sets) => {
                    sets as u32
                }
                Some(_) => {
                    return Err(fail(format!(
                        "`sets` must be 1 to {VOUCHER_LIMIT_SETS_MAX}"
                    )));
                }
                None => return Err(fail("a voucher_purchase event needs `sets`".into())),
            };
            let media = match wire.media.as_deref() {
                Some("cash") => Media::Cash,
                Some("wallet") => Media::Wallet,
                _ => {
                    return Err(fail(
                        "a voucher_purchase event needs `media`: \"cash\" or \"wallet\"".into(),
                    ));
                }
            };
            EventKind::VoucherPurchase(VoucherPurchase {
                rider: required("rider", &wire.rider)?,
                asset: required("asset", &wire.asset)?,
                sets,
                media,
            })
        }
        "convert" => {
            let amount_minor = match wire.amount {
                Some(0) => return Err(fail("`amount` must be greater than 0".into())),
                Some(amount) => amount,
                None => return Err(fail("a convert event needs `amount` (minor units)".into())),
            };
            EventKind::Convert(Convert {
                rider: required("rider", &wire.rider)?,
                from_asset: required("from_asset", &wire.from_asset)?,
                to_asset: required("to_asset", &wire.to_asset)?,
                amount_minor,
            })
        }
        other => unreachable!("the caller dispatches only value types, not {other:?}"),
    })
}

/// Fills the wire form of a value event for `canonical_json`.
pub(super) fn fill_wire<'a>(kind: &'a EventKind, wire: &mut WireEvent<'a>) {
    let text = |value: &'a str| Some(Cow::Borrowed(value));
    match kind {
        EventKind::Withdraw(withdraw) => {
            wire.kind = text("withdraw");
            match &withdraw.holder {
                Holder::Rider(rider) => wire.rider = text(rider),
                Holder::Shop(shop) => wire.shop = text(shop),
            }
            wire.asset = text(&withdraw.asset);
            wire.amount = Some(withdraw.amount_minor);
        }
        EventKind::VoucherPurchase(purchase) => {
            wire.kind = text("voucher_purchase");
            wire.rider = text(&purchase.rider);
            wire.asset = text(&purchase.asset);
            wire.sets = Some(u64::from(purchase.sets));
            wire.media = text(super::media_name(purchase.media));
        }
        EventKind::Convert(convert) => {
            wire.kind = text("convert");
            wire.rider = text(&convert.rider);
            wire.from_asset = text(&convert.from_asset);
            wire.to_asset = text(&convert.to_asset);
            wire.amount = Some(convert.amount_minor);
        }
        other => unreachable!("not a value event: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;

    const AT: &str = "2026-07-01T09:00:00+09:00";

    fn parse(body: &str) -> Result<Event, EventError> {
        Event::parse(&format!(r#"{{"id":"e","at":"{AT}",{body}}}"#))
    }

    #[test]
    fn every_value_event_reads_back_from_its_canonical_json() {
        for body in [
            r#""type":"withdraw","rider":"r-1","asset":"SUZU","amount":500"#,
            r#""type":"withdraw","shop":"bakery","asset":"SUZU","amount":500"#,
            r#""type":"voucher_purchase","rider":"r-1","asset":"gero-v","sets":2,"media":"cash""#,
            r#""type":"voucher_purchase","rider":"r-1","asset":"gero-v","sets":1,"media":"wallet""#,
        ] {
            let event = parse(body).unwrap_or_else(|error| panic!("{body}: {error}"));
            assert_eq!(
                Event::parse(&event.canonical_json()).unwrap(),
                event,
                "{body}"
            );
        }
    }

    #[test]
    fn holders_sets_and_media_are_checked_at_the_edge() {
        for (body, says) in [
            (
                r#""type":"withdraw","asset":"SUZU","amount":5"#,
                "`rider` or `shop`",
            ),
            (
                r#""type":"withdraw","rider":"r","shop":"s","asset":"SUZU","amount":5"#,
                "one of them",
            ),
            (
                r#""type":"withdraw","rider":"r","asset":"SUZU","amount":0"#,
                "`amount`",
            ),
            (r#""type":"withdraw","rider":"r","amount":5"#, "`asset`"),
            (
                r#""type":"voucher_purchase","rider":"r","asset":"v","sets":0,"media":"cash""#,
                "`sets`",
            ),
            (
                r#""type":"voucher_purchase","rider":"r","asset":"v","sets":1001,"media":"cash""#,
                "`sets`",
            ),
            (
                r#""type":"voucher_purchase","rider":"r","asset":"v","sets":1,"media":"ic""#,
                "`media`",
            ),
            (
                r#""type":"voucher_purchase","rider":"r","asset":"v","sets":1"#,
                "`media`",
            ),
            (
                r#""type":"voucher_purchase","rider":"123456789012","asset":"v","sets":1,"media":"cash""#,
                "My Number",
            ),
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(error.id.as_deref(), Some("e"));
            assert!(error.message.contains(says), "{body}: {}", error.message);
        }
    }
}
