//! Customer-presented one-time tokens at the edge: a `purchase` or `authorize` carrying
//! `"token": "kq1.…"` instead of `"rider"` is verified here, before the pipeline, against the
//! device keys its rider registered (`POST /v1/riders/{id}/keys`), with the event's `at` as
//! "now". A verified token becomes the rider and a `TokenUse` (nonce and expiry): that is what the
//! log holds, so the signature is never stored; the machine then accepts the nonce once
//! (`token_used`) from replayed state. A refusal here (`bad_token`, `token_expired`) answers the
//! event at once, like a `bad_event`: it is never logged and moves nothing.
//!
//! The keys are read through the pipeline (one query per submission that carries tokens), so a
//! token is checked only against keys that are durable.

use kanjo_core::answer::{Rejection, RejectionCode};
use kanjo_core::event::{Event, EventKind, PaymentToken, TOKEN_TEXT_BYTES_MAX, TokenUse};
use kanjo_core::machine::{DEVICE_KEY_TEXT_CHARS, Machine};
use kanjo_qr::token::{self, TokenError, UnverifiedToken, VerifyingKey};
use std::collections::HashMap;

use crate::pipeline::{Engine, SubmitError};

// Every token kanjo-qr can make fits an event, and device keys are as long as the machine expects.
const _: () = assert!(token::TOKEN_TEXT_CHARS_MAX <= TOKEN_TEXT_BYTES_MAX);
const _: () = assert!(token::PUBLIC_KEY_TEXT_CHARS == DEVICE_KEY_TEXT_CHARS);

/// The device keys of the riders a submission's tokens name.
pub type KeysByRider = HashMap<String, Vec<VerifyingKey>>;

/// What a client is told for any bad token: the detail (which check failed, whether the rider
/// exists) goes to the log only, so a forger learns nothing from the answer.
const BAD_TOKEN_MESSAGE: &str = "the token is not valid: show a new one";

fn presented(event: &Event) -> Option<&str> {
    match &event.kind {
        EventKind::Purchase(payment) | EventKind::Authorize(payment) => match &payment.token {
            Some(PaymentToken::Presented(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// The riders the presented tokens of `events` claim, each once (at most one per event).
pub fn claimed_riders<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<String> {
    let mut riders: Vec<String> = events
        .into_iter()
        .filter_map(presented)
        .filter_map(|text| UnverifiedToken::parse(text).ok())
        .map(|unverified| unverified.rider_id().to_owned())
        .collect();
    riders.sort_unstable();
    riders.dedup();
    riders
}

/// Reads the riders' device keys on the machine thread.
pub fn keys_query(riders: Vec<String>) -> impl FnOnce(&Machine) -> KeysByRider + Send + 'static {
    move |machine: &Machine| {
        riders
            .into_iter()
            .map(|rider| {
                // Checked when registered; a key that no longer parses verifies nothing.
                let keys = machine
                    .device_keys(&rider)
                    .iter()
                    .filter_map(|text| token::parse_public_key(text).ok())
                    .collect();
                (rider, keys)
            })
            .collect()
    }
}

/// An event refused at the edge for its token: its id and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub id: String,
    pub rejection: Rejection,
}

/// The event with its presented token verified and replaced by the rider and a `TokenUse`, or
/// the refusal. Events without a presented token pass unchanged.
pub fn check_event(event: Event, keys: &KeysByRider) -> Result<Event, Refused> {
    let id = event.id.clone();
    verify_presented(event, keys).map_err(|rejection| Refused { id, rejection })
}

fn verify_presented(mut event: Event, keys: &KeysByRider) -> Result<Event, Rejection> {
    let (EventKind::Purchase(payment) | EventKind::Authorize(payment)) = &mut event.kind else {
        return Ok(event);
    };
    let text = match &payment.token {
        None => return Ok(event),
        Some(PaymentToken::Presented(text)) => text,
        // The log's form of a verified token: only the edge writes it, never a client.
        Some(PaymentToken::Checked(_)) => {
            return Err(Rejection::new(
                RejectionCode::BadEvent,
                "`token_nonce` and `token_expires_at` are written by kanjo; send the `token`",
            ));
        }
    };
    let refuse = |error: TokenError| {
        tracing::info!(event = %event.id, %error, "customer token refused");
        match error {
            TokenError::Bad(_) => Rejection::new(RejectionCode::BadToken, BAD_TOKEN_MESSAGE),
            TokenError::Expired { .. } => {
                Rejection::new(RejectionCode::TokenExpired, error.to_string())
            }
        }
    };
    let unverified = UnverifiedToken::parse(text).map_err(refuse)?;
    let rider_keys = keys
        .get(unverified.rider_id())
        .map_or(&[][..], Vec::as_slice);
    let now_unix_s = u64::try_from(event.at.as_second()).unwrap_or(0);
    // No keys (an unknown rider, or none registered) verifies nothing: `bad_token`.
    let verified = unverified
        .verify_with_any(rider_keys, now_unix_s)
        .map_err(refuse)?;
    payment.rider = verified.rider_id().to_owned();
    payment.token = Some(PaymentToken::Checked(TokenUse {
        nonce: verified.nonce().as_u128(),
        expires_at_unix_s: verified.expires_at_unix_s(),
    }));
    Ok(event)
}

/// `check_event` for each event, after reading the keys their tokens need (no read at all when
/// none carries a token).
pub async fn check_tokens(
    engine: &Engine,
    events: Vec<Event>,
) -> Result<Vec<Result<Event, Refused>>, SubmitError> {
    let riders = claimed_riders(&events);
    if riders.is_empty() {
        return Ok(check_all(events, &KeysByRider::new()));
    }
    let ended = || SubmitError::Stopped("the pipeline ended".into());
    let keys = engine
        .query(keys_query(riders))?
        .await
        .map_err(|_| ended())?;
    // About 40 µs of Ed25519 per token, so a full batch is a third of a second: off the runtime.
    tokio::task::spawn_blocking(move || check_all(events, &keys))
        .await
        .map_err(|_| ended())
}

/// `check_tokens` for blocking callers (`kanjo import`).
pub fn check_tokens_blocking(
    engine: &Engine,
    events: Vec<Event>,
) -> Result<Vec<Result<Event, Refused>>, SubmitError> {
    let riders = claimed_riders(&events);
    let keys = if riders.is_empty() {
        KeysByRider::new()
    } else {
        engine.query_blocking(keys_query(riders))?
    };
    Ok(check_all(events, &keys))
}

fn check_all(events: Vec<Event>, keys: &KeysByRider) -> Vec<Result<Event, Refused>> {
    events
        .into_iter()
        .map(|event| check_event(event, keys))
        .collect()
}
