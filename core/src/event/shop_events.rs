//! The shop payment events of spec/purchases.md: purchase, authorize, capture, void, refund and
//! send. Parsed with the same reference and amount rules as every other event, and written back
//! in one canonical form (`pay_with` as a sorted set: its order never changes the payment order).

use std::borrow::Cow;

use super::{EventError, EventKind, WireEvent, reference};

/// More assets than can pay at a shop is not a list of choices.
pub const PAY_WITH_ASSETS_MAX: usize = crate::shops::SPENDABLE_ASSETS_MAX;

/// The longest customer token text an event may carry (kanjo-qr's tokens are at most 306
/// characters of base64url; the engine asserts they fit).
pub const TOKEN_TEXT_BYTES_MAX: usize = 512;
const TOKEN_NONCE_HEX_DIGITS: usize = 32;

/// A customer-presented one-time token that paid (`"token": "kq1.…"` instead of `"rider"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentToken {
    /// The token as the client sent it. The edge (API, `kanjo import`) checks its signature
    /// against the rider's device keys and replaces it by `Checked`, or refuses the event; the
    /// machine refuses one that reaches it (`bad_token`). Its canonical form keeps only the
    /// signed payload, never the signature.
    Presented(String),
    /// A token whose signature the edge verified: what the log holds and the machine checks.
    Checked(TokenUse),
}

/// What the machine needs of a verified token: its nonce, accepted once, and its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenUse {
    pub nonce: u128,
    pub expires_at_unix_s: u64,
}

/// A `purchase` or an `authorize`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopPayment {
    pub shop: String,
    /// The paying rider; empty while `token` is `Presented` (the token names the rider, and only
    /// its verification makes that name true).
    pub rider: String,
    /// Yen; every spendable unit pays ¥1.
    pub amount_minor: u64,
    /// Only these assets may pay (still in the payment order); sorted, no repeats.
    pub pay_with: Option<Vec<String>>,
    pub token: Option<PaymentToken>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// The id of the `authorize` event.
    pub authorization: String,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Void {
    pub authorization: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    /// The id of the `purchase` or `capture` event.
    pub purchase: String,
    pub amount_minor: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendValue {
    pub from: String,
    pub to: String,
    pub asset: String,
    pub amount_minor: u64,
}

/// The typed event of one of the six shop types; `kind` is the `type` field.
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
    let amount = || match wire.amount {
        Some(0) => Err(fail("`amount` must be greater than 0".into())),
        Some(amount) => Ok(amount),
        None => Err(fail(format!("a {kind} event needs `amount` (minor units)"))),
    };
    let payment = || -> Result<ShopPayment, EventError> {
        let token = payment_token(id, wire)?;
        let rider = match token {
            Some(PaymentToken::Presented(_)) => String::new(),
            _ => required("rider", &wire.rider)?,
        };
        Ok(ShopPayment {
            shop: required("shop", &wire.shop)?,
            rider,
            amount_minor: amount()?,
            pay_with: pay_with(id, wire.pay_with.as_deref())?,
            token,
        })
    };
    Ok(match kind {
        "purchase" => EventKind::Purchase(payment()?),
        "authorize" => EventKind::Authorize(payment()?),
        "capture" => EventKind::Capture(Capture {
            authorization: required("authorization", &wire.authorization)?,
            amount_minor: amount()?,
        }),
        "void" => EventKind::Void(Void {
            authorization: required("authorization", &wire.authorization)?,
        }),
        "refund" => EventKind::Refund(Refund {
            purchase: required("purchase", &wire.purchase)?,
            amount_minor: amount()?,
        }),
        "send" => {
            let send = SendValue {
                from: required("from", &wire.from)?,
                to: required("to", &wire.to)?,
                asset: required("asset", &wire.asset)?,
                amount_minor: amount()?,
            };
            if send.from == send.to {
                return Err(fail("`from` and `to` are the same rider".into()));
            }
            EventKind::Send(send)
        }
        other => unreachable!("the caller dispatches only shop types, not {other:?}"),
    })
}

/// `token` (as presented, instead of `rider`), or `token_nonce` with `token_expires_at` (as
/// logged, beside `rider`), or neither.
fn payment_token(id: &str, wire: &WireEvent) -> Result<Option<PaymentToken>, EventError> {
    let fail = |message: &str| Err(EventError::new(Some(id), message));
    match (&wire.token, &wire.token_nonce, wire.token_expires_at) {
        (None, None, None) => Ok(None),
        (Some(text), None, None) => {
            if wire.rider.is_some() {
                return fail("a payment carries `token` or `rider`, not both");
            }
            if text.is_empty() || text.len() > TOKEN_TEXT_BYTES_MAX {
                return fail("`token` must be 1 to 512 bytes");
            }
            // Every token is base64url and dots: nothing in it needs escaping in the log.
            let token_byte = |byte: u8| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte);
            if !text.bytes().all(token_byte) {
                return fail("`token` holds characters no token has (A-Z a-z 0-9 - _ .)");
            }
            Ok(Some(PaymentToken::Presented(text.to_string())))
        }
        (None, Some(nonce), Some(expires_at_unix_s)) => {
            let hex = nonce.len() == TOKEN_NONCE_HEX_DIGITS
                && nonce
                    .bytes()
                    .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
            match u128::from_str_radix(nonce, 16) {
                Ok(nonce) if hex => Ok(Some(PaymentToken::Checked(TokenUse {
                    nonce,
                    expires_at_unix_s,
                }))),
                _ => fail("`token_nonce` must be 32 lower-case hexadecimal digits"),
            }
        }
        (None, _, _) => fail("`token_nonce` and `token_expires_at` come together"),
        (Some(_), _, _) => fail("`token` comes without `token_nonce` and `token_expires_at`"),
    }
}

fn pay_with(id: &str, codes: Option<&[String]>) -> Result<Option<Vec<String>>, EventError> {
    let Some(codes) = codes else {
        return Ok(None);
    };
    if codes.is_empty() || codes.len() > PAY_WITH_ASSETS_MAX {
        return Err(EventError::new(
            Some(id),
            format!("`pay_with` must list 1 to {PAY_WITH_ASSETS_MAX} asset codes"),
        ));
    }
    let mut checked = codes
        .iter()
        .map(|code| reference(id, "pay_with", code))
        .collect::<Result<Vec<_>, _>>()?;
    checked.sort_unstable();
    checked.dedup();
    Ok(Some(checked))
}

/// Fills the wire form of a shop event for `canonical_json`.
pub(super) fn fill_wire<'a>(kind: &'a EventKind, wire: &mut WireEvent<'a>) {
    let text = |value: &'a str| Some(Cow::Borrowed(value));
    match kind {
        EventKind::Purchase(payment) | EventKind::Authorize(payment) => {
            wire.kind = text(if matches!(kind, EventKind::Purchase(_)) {
                "purchase"
            } else {
                "authorize"
            });
            wire.shop = text(&payment.shop);
            wire.rider = (!payment.rider.is_empty()).then(|| Cow::Borrowed(&*payment.rider));
            wire.amount = Some(payment.amount_minor);
            wire.pay_with = payment.pay_with.clone();
            match &payment.token {
                None => {}
                // The signature is never logged: what is signed stays, so the answer replays.
                Some(PaymentToken::Presented(token)) => {
                    let unsigned = token
                        .rsplit_once('.')
                        .map_or(token.as_str(), |(head, _)| head);
                    wire.token = text(unsigned);
                }
                Some(PaymentToken::Checked(used)) => {
                    wire.token_nonce = Some(Cow::Owned(format!("{:032x}", used.nonce)));
                    wire.token_expires_at = Some(used.expires_at_unix_s);
                }
            }
        }
        EventKind::Capture(capture) => {
            wire.kind = text("capture");
            wire.authorization = text(&capture.authorization);
            wire.amount = Some(capture.amount_minor);
        }
        EventKind::Void(void) => {
            wire.kind = text("void");
            wire.authorization = text(&void.authorization);
        }
        EventKind::Refund(refund) => {
            wire.kind = text("refund");
            wire.purchase = text(&refund.purchase);
            wire.amount = Some(refund.amount_minor);
        }
        EventKind::Send(send) => {
            wire.kind = text("send");
            wire.from = text(&send.from);
            wire.to = text(&send.to);
            wire.asset = text(&send.asset);
            wire.amount = Some(send.amount_minor);
        }
        EventKind::Ride(_)
        | EventKind::Tap(_)
        | EventKind::Topup(_)
        | EventKind::Grant(_)
        | EventKind::Redeem(_)
        | EventKind::Withdraw(_)
        | EventKind::VoucherPurchase(_)
        | EventKind::Convert(_) => unreachable!("canonical_json writes these itself"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;

    const AT: &str = "2026-11-26T09:10:00+09:00";

    fn parse(body: &str) -> Result<Event, EventError> {
        Event::parse(&format!(r#"{{"id":"e","at":"{AT}",{body}}}"#))
    }

    #[test]
    fn every_shop_event_reads_back_from_its_canonical_json() {
        for body in [
            r#""type":"purchase","shop":"books","rider":"r-1","amount":1200"#,
            r#""type":"purchase","shop":"books","rider":"r-1","amount":2000,"pay_with":["JPY"]"#,
            r#""type":"authorize","shop":"kids","rider":"r-1","amount":1500"#,
            r#""type":"capture","authorization":"a-1","amount":1000"#,
            r#""type":"void","authorization":"a-1""#,
            r#""type":"refund","purchase":"p-1","amount":800"#,
            r#""type":"send","from":"r-1","to":"r-2","asset":"SUZU","amount":200"#,
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
    fn pay_with_in_another_order_is_the_same_body() {
        let a = parse(
            r#""type":"purchase","shop":"s","rider":"r","amount":5,"pay_with":["SUZU","JPY"]"#,
        )
        .unwrap();
        let b = parse(r#""type":"purchase","shop":"s","rider":"r","amount":5,"pay_with":["JPY","SUZU","JPY"]"#).unwrap();
        assert_eq!(a.canonical_json(), b.canonical_json());
    }

    #[test]
    fn missing_fields_zero_amounts_and_empty_choices_are_bad_events() {
        for (body, says) in [
            (r#""type":"purchase","rider":"r","amount":5"#, "`shop`"),
            (
                r#""type":"purchase","shop":"s","rider":"r","amount":0"#,
                "`amount`",
            ),
            (
                r#""type":"purchase","shop":"s","rider":"r","amount":5,"pay_with":[]"#,
                "`pay_with`",
            ),
            (r#""type":"capture","authorization":"a""#, "`amount`"),
            (r#""type":"void""#, "`authorization`"),
            (r#""type":"refund","amount":5"#, "`purchase`"),
            (
                r#""type":"send","from":"r","to":"r","asset":"SUZU","amount":5"#,
                "same rider",
            ),
            (
                r#""type":"purchase","shop":"s","rider":"123456789012","amount":5"#,
                "My Number",
            ),
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(error.id.as_deref(), Some("e"));
            assert!(error.message.contains(says), "{body}: {}", error.message);
        }
    }
}
