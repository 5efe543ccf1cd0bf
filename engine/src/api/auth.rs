//! Bearer keys on the HTTP API: the gate every `/v1` route sits behind (401 without a valid key,
//! 429 past the key's rate), the scope checks of the handlers (403), and the key endpoints
//! (`POST /v1/keys`, `GET /v1/keys`, `POST /v1/keys/{id}/revoke`).
//!
//! [`KeyGate`] with [`gate`] is a reusable layer:
//! `router.route_layer(axum::middleware::from_fn_with_state(key_gate.requiring(action), gate))`
//! puts any route (such as a `/finance` page) behind a key whose role may do `action`.

// Handlers' checks return the error answer itself, as the rest of the API does.
#![allow(clippy::result_large_err)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kanjo_auth::{Action, AuthError, KeyChange, KeyId, KeyRecord, Principal, Role, authorize};
use serde_json::{Value, json};

use super::{ErrorCode, error_response};
use crate::auth_layer::AuthState;

/// Requests per second one key may make on average, by default, and the burst it may send at once.
pub const RATE_PER_SECOND_DEFAULT: u32 = 200;
pub const RATE_BURST_DEFAULT: u32 = 400;

/// A per-key request rate: `per_second` on average, `burst` at once.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            per_second: NonZeroU32::new(RATE_PER_SECOND_DEFAULT).expect("non-zero"),
            burst: NonZeroU32::new(RATE_BURST_DEFAULT).expect("non-zero"),
        }
    }
}

/// Authenticates the bearer key of a request, limits its rate, and (optionally) requires one
/// action of its role. Cheap to clone: every clone shares the key book and the rate counters.
#[derive(Clone)]
pub struct KeyGate {
    auth: Arc<AuthState>,
    limiter: Option<Arc<DefaultKeyedRateLimiter<KeyId>>>,
    required: Option<Arc<Action>>,
}

impl KeyGate {
    /// `rate`: `None` for no rate limit.
    pub fn new(auth: Arc<AuthState>, rate: Option<RateLimit>) -> KeyGate {
        let limiter = rate.map(|rate| {
            let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
            Arc::new(RateLimiter::keyed(quota))
        });
        KeyGate {
            auth,
            limiter,
            required: None,
        }
    }

    /// The same gate (same counters), letting through only keys whose role may do `action`:
    /// `route_layer(axum::middleware::from_fn_with_state(gate.requiring(action), gate))`.
    pub fn requiring(&self, action: Action) -> KeyGate {
        KeyGate {
            required: Some(Arc::new(action)),
            ..self.clone()
        }
    }
}

/// The gate's middleware: 401, 429 or 403, or the request goes on with its [`Principal`] in
/// its extensions.
pub async fn gate(State(gate): State<KeyGate>, mut request: Request, next: Next) -> Response {
    let header_text = match request.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(text) => Some(text),
            Err(_) => {
                return unauthorized(&AuthError::Malformed {
                    reason: "the header is not visible ASCII",
                });
            }
        },
    };
    // A browser on `/finance` can't send the header: it signed in once and sends the cookie.
    let cookie_bearer = match header_text {
        None if request.uri().path().starts_with("/finance") => {
            crate::finance_login::bearer_from_cookie(request.headers())
        }
        _ => None,
    };
    let header_text = header_text.or(cookie_bearer.as_deref());
    let principal = match gate.auth.authenticate(header_text, now_unix_s()) {
        Ok(principal) => principal,
        // A person in a browser is sent to sign in rather than shown a JSON error.
        Err(_) if request.method() == Method::GET && request.uri().path() == "/finance" => {
            return (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, "/finance/login")],
            )
                .into_response();
        }
        Err(error) => return unauthorized(&error),
    };
    if let Some(limiter) = &gate.limiter
        && let Err(not_until) = limiter.check_key(&principal.key_id)
    {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return rate_limited(principal.key_id, wait.as_secs() + 1);
    }
    if let Some(action) = &gate.required
        && let Err(response) = allow(&principal, action)
    {
        return response;
    }
    request.extensions_mut().insert(Arc::new(principal));
    next.run(request).await
}

pub(crate) fn now_unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// 401 `unauthorized` with `WWW-Authenticate: Bearer` (RFC 6750). The message says which check
/// failed; revocation and expiry are only told to the holder of the right secret.
pub fn unauthorized(error: &AuthError) -> Response {
    metrics::counter!("kanjo_http_unauthorized_total", "reason" => error.reason_code())
        .increment(1);
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
        error.to_string(),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"kanjo\""),
    );
    response
}

fn rate_limited(key_id: KeyId, retry_after_s: u64) -> Response {
    metrics::counter!("kanjo_http_rate_limited_total").increment(1);
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!("key {key_id} sent more requests than its rate allows; retry in {retry_after_s} s"),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&retry_after_s.to_string()).expect("digits are a header value"),
    );
    response
}

/// Allows the action, or the 403 `forbidden` answer.
pub fn allow(principal: &Principal, action: &Action) -> Result<(), Response> {
    authorize(principal, action).map_err(|forbidden| {
        error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("key {}: {forbidden}", principal.key_id),
        )
    })
}

/// A key as listed: never its token nor the token's hash.
pub fn key_json(record: &KeyRecord) -> Value {
    json!({
        "key_id": record.key_id().to_string(),
        "role": record.role().to_string(),
        "created_at_unix_s": record.created_at_unix_s(),
        "expires_at_unix_s": record.expires_at_unix_s(),
        "revoked_at_unix_s": record.revoked().map(|revocation| revocation.at_unix_s),
    })
}

/// The body of `POST /v1/keys`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewKeyBody {
    role: String,
    /// `YYYY-MM-DD` (valid through that day, JST) or an RFC 3339 instant.
    #[serde(default)]
    expires: Option<String>,
}

pub(super) fn new_key_change(
    body: &NewKeyBody,
) -> Result<(kanjo_auth::NewKey, KeyChange), Response> {
    let bad = |message: String| error_response(StatusCode::BAD_REQUEST, ErrorCode::BadKey, message);
    let role = Role::parse(&body.role).map_err(|error| bad(error.to_string()))?;
    let expires = body
        .expires
        .as_deref()
        .map(crate::auth_layer::parse_expiry)
        .transpose()
        .map_err(bad)?;
    let new_key = kanjo_auth::generate_token(role, now_unix_s(), expires)
        .map_err(|error| bad(error.to_string()))?;
    let change = KeyChange::Create {
        key: new_key.record.clone(),
    };
    Ok((new_key, change))
}
