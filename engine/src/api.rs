//! The HTTP API (axum). Handlers parse and shape JSON on tokio's threads; all state lives on the
//! machine thread and is reached through the pipeline, so a handler never blocks it for long.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{Extension, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanjo_ledger::{AccountFilter, AccountId};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::answer::Outcome;
use crate::auth_layer::{Caller, account_owner};
use crate::body::BodyError;
use crate::chart::{AccountName, Reason};
use crate::event::parse_batch;
use crate::machine::{KeyRefusalCode, Machine, Prepared};
use crate::pipeline::{Answer, Engine, SUBMISSION_EVENTS_MAX, SubmitError};
use crate::recovery::Health;
use crate::riders::{accepted_answer, parse_riders_at_most, rejected_answer};
use kanjo_auth::{AccountOwner, Action, KeyChange, KeyId, Principal, Report};

pub mod auth;
mod error_code;
mod payout_file;
pub mod programme;
mod reconciliations;
mod settlements;
mod statements;
pub use auth::{KeyGate, RateLimit};
pub use error_code::ErrorCode;

/// A request body larger than this is refused before it is read whole.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Transfers one history page returns at most.
pub const HISTORY_PAGE_MAX: u32 = 1000;
/// Of an error answer that is not JSON yet (made outside the handlers), this much text is kept.
const FOREIGN_ERROR_BYTES_MAX: usize = 4 * 1024;
const OPENAPI: &str = include_str!("openapi.json");
/// `Retry-After` while the store recovers: reconnecting usually takes well under a second.
const RETRY_AFTER_RECOVERING_S: &str = "1";
/// `Retry-After` once the engine stopped: the process exits, and its supervisor restarts it.
const RETRY_AFTER_STOPPED_S: &str = "5";

#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    pub metrics: Option<PrometheusHandle>,
    pub access: Access,
}

impl ApiState {
    /// Every `/v1` route and `/metrics` behind a key, with the default per-key rate.
    pub fn new(engine: Engine, metrics: Option<PrometheusHandle>) -> ApiState {
        ApiState {
            engine,
            metrics,
            access: Access::default(),
        }
    }
}

/// Who may reach what besides the keys' scopes.
#[derive(Clone, Debug)]
pub struct Access {
    /// `/metrics` without a key (for a scraper that can't send one; `kanjo serve --metrics-open`).
    /// Off by default: then only a key whose role may `read-metrics` (the auditor) reads it.
    pub metrics_open: bool,
    /// Requests per key; `None`: unlimited.
    pub rate: Option<RateLimit>,
}

impl Default for Access {
    fn default() -> Access {
        Access {
            metrics_open: false,
            rate: Some(RateLimit::default()),
        }
    }
}

pub fn router(state: ApiState) -> Router {
    let key_gate = KeyGate::new(Arc::clone(state.engine.auth()), state.access.rate);
    let metrics_route = Router::new().route("/metrics", get(get_metrics));
    let metrics_route = if state.access.metrics_open {
        tracing::warn!("/metrics is served without a key (--metrics-open)");
        metrics_route
    } else {
        metrics_route.route_layer(axum::middleware::from_fn_with_state(
            key_gate.requiring(kanjo_auth::Action::ReadMetrics),
            auth::gate,
        ))
    };
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/events/{id}", get(get_event))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/accounts/{id}/transfers", get(get_account_transfers))
        .route("/v1/riders", post(post_riders))
        .route("/v1/riders/{id}/keys", post(post_rider_key))
        .route("/v1/riders/{id}/passes", get(get_rider_passes))
        .route("/v1/riders/{id}/lots", get(get_rider_lots))
        .route("/v1/shops", post(post_shops))
        .route("/v1/shops/{id}", get(get_shop))
        .route("/v1/reports/shops", get(get_shop_report))
        .route(
            "/v1/settlements",
            post(settlements::post_settlements).get(settlements::get_settlements),
        )
        .route("/v1/settlements/{id}", get(settlements::get_settlement))
        .route("/v1/payouts", post(settlements::post_payouts))
        .route("/v1/programme", post(programme::post_programme))
        .route("/v1/settlements/{id}/zengin", get(payout_file::get_zengin))
        .route(
            "/finance/settlements/{id}/zengin",
            get(payout_file::get_zengin),
        )
        .route(
            "/v1/settlements/{id}/statements/{party}",
            get(statements::get_statement),
        )
        .route(
            "/finance/settlements/{id}/statements/{party}",
            get(statements::get_finance_statement),
        )
        .route(
            "/v1/reconciliations",
            get(reconciliations::list_reconciliations),
        )
        .route(
            "/v1/reconciliations/{id}",
            get(reconciliations::get_reconciliation),
        )
        .route(
            "/v1/reconciliations/{id}/exceptions/{n}/resolve",
            post(reconciliations::resolve_exception),
        )
        .route("/finance", get(crate::finance_page::get_finance))
        .route(
            "/finance/reconciliations/{id}/exceptions/{n}/resolve",
            post(crate::finance_page::post_resolve),
        )
        .route("/v1/keys", post(post_key).get(get_keys))
        .route("/v1/keys/{id}/revoke", post(post_key_revoke))
        .route_layer(axum::middleware::from_fn_with_state(key_gate, auth::gate))
        .merge(metrics_route)
        .route(
            "/finance/login",
            get(crate::finance_login::get_login).post(crate::finance_login::post_login),
        )
        .route("/healthz", get(get_health))
        .route("/openapi.json", get(get_openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(Arc::new(state))
}

/// The request body, at most `REQUEST_BODY_BYTES_MAX` bytes; the rejections are JSON errors.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Body, Response> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                    error_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::TooLarge,
                        format!("the body is larger than {REQUEST_BODY_BYTES_MAX} bytes"),
                    )
                }
                other => error_response(other.status(), ErrorCode::BadBody, other.body_text()),
            })
    }
}

/// The one path parameter, percent-decoded; one that is not UTF-8 is a JSON `bad_path`.
struct PathText(String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathText, Response> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathText(text))
            .map_err(|rejection| {
                error_response(
                    rejection.status(),
                    ErrorCode::BadPath,
                    rejection.body_text(),
                )
            })
    }
}

/// Query parameters; a malformed or mistyped one is a JSON `bad_query`.
struct QueryOf<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryOf<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<QueryOf<T>, Response> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| QueryOf(value))
            .map_err(|rejection| {
                error_response(
                    rejection.status(),
                    ErrorCode::BadQuery,
                    rejection.body_text(),
                )
            })
    }
}

async fn no_route(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {method} {}", uri.path()),
    )
}

/// axum adds the `Allow` header.
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Every error answer is the documented error JSON. Handlers and extractors make it themselves;
/// this catches any error response made elsewhere (by axum or hyper) and rewrites it from its
/// status, keeping its headers (`Allow`, `Retry-After`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("error");
    let text = axum::body::to_bytes(body, FOREIGN_ERROR_BYTES_MAX)
        .await
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| reason.to_owned());
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        status if status.is_server_error() => ErrorCode::ServerError,
        _ => ErrorCode::BadRequest,
    };
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    let mut answer = error_response(status, code, text);
    answer.headers_mut().extend(headers);
    answer
}

fn body_error_response(error: BodyError) -> Response {
    let status = match error {
        BodyError::TooManyItems { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Empty | BodyError::NotAnArray { .. } => StatusCode::BAD_REQUEST,
    };
    let code = match error {
        BodyError::TooManyItems { .. } => ErrorCode::TooLarge,
        BodyError::Empty | BodyError::NotAnArray { .. } => ErrorCode::BadBody,
    };
    error_response(status, code, error.to_string())
}

/// `Content-Disposition` of a download: `attachment; filename="{name}"`, the name made safe
/// (`safe_file_name`), so it is always a valid header.
fn attachment(name: &str) -> HeaderValue {
    let safe = crate::statement_file::safe_file_name(name);
    HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .expect("a quoted name of safe ASCII is a header value")
}

fn error_response(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code.code(), "message": message.into()}})),
    )
        .into_response()
}

fn submit_error_response(error: SubmitError) -> Response {
    match error {
        SubmitError::QueueFull { .. } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::QueueFull,
                error.to_string(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        SubmitError::TooLarge(_) => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            error.to_string(),
        ),
        SubmitError::Stopped(_) => unavailable(ErrorCode::Stopped, error.to_string()),
        SubmitError::Recovering(_) => unavailable(ErrorCode::Recovering, error.to_string()),
    }
}

/// 503 with `Retry-After`: `recovering` (the store is being reconnected) or `stopped`.
fn unavailable(code: ErrorCode, message: String) -> Response {
    let retry_after = if code == ErrorCode::Recovering {
        RETRY_AFTER_RECOVERING_S
    } else {
        RETRY_AFTER_STOPPED_S
    };
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, code, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
    response
}

/// Waits for a submission's answers (sent once its batch is durable), or says why there are none.
async fn durable<T>(
    submitted: Result<oneshot::Receiver<Result<T, SubmitError>>, SubmitError>,
) -> Result<T, Response> {
    match submitted.map_err(submit_error_response)?.await {
        Ok(result) => result.map_err(submit_error_response),
        Err(_) => Err(submit_error_response(SubmitError::Stopped(
            "the pipeline ended".into(),
        ))),
    }
}

/// Waits for a query's result (delivered once what it read is durable); `None` is a 404 of `what`.
async fn found<T>(
    queried: Result<oneshot::Receiver<Option<T>>, SubmitError>,
    what: impl FnOnce() -> String,
) -> Result<T, Response> {
    match queried.map_err(submit_error_response)?.await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            what(),
        )),
        Err(_) => Err(submit_error_response(SubmitError::Stopped(
            "the pipeline ended".into(),
        ))),
    }
}

async fn post_events(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    let started = std::time::Instant::now();
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadBody,
            "the body is not UTF-8",
        );
    };
    let items = match parse_batch(text, SUBMISSION_EVENTS_MAX) {
        Ok(items) => items,
        Err(error) => return body_error_response(error),
    };
    // Bad items are answered here and never reach the log; good ones keep their place in the answer.
    let mut parsed = Vec::with_capacity(items.len());
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Ok(event) => {
                parsed.push(None);
                events.push(event);
            }
            Err(error) => parsed.push(Some(json!({
                "id": error.id,
                "status": "rejected",
                "error": {"code": crate::event::EventError::CODE, "message": error.message},
            }))),
        }
    }
    // Customer tokens are verified before the pipeline; a refused one is answered here too.
    let checked = match crate::tokens::check_tokens(&state.engine, events).await {
        Ok(checked) => checked,
        Err(error) => return submit_error_response(error),
    };
    let context = state.engine.answer_context();
    let mut checked = checked.into_iter();
    let mut slots: Vec<Result<usize, Value>> = Vec::with_capacity(parsed.len());
    let mut prepared = Vec::with_capacity(parsed.len());
    for slot in parsed {
        let item = match slot {
            Some(refused) => Err(refused),
            None => checked
                .next()
                .expect("one check per event")
                .map_err(|refused| {
                    context.to_json(&refused.id, &Outcome::Rejected(refused.rejection))
                }),
        };
        match item {
            Ok(event) => {
                slots.push(Ok(prepared.len()));
                prepared.push(Prepared::new(event));
            }
            Err(refused) => slots.push(Err(refused)),
        }
    }
    // Each event's scope is checked on the machine thread, where its subject can be looked up.
    let submitted = state
        .engine
        .submit_prepared_as(prepared, Caller::Key(principal));
    let answers: Vec<Answer> = match durable(submitted).await {
        Ok(answers) => answers,
        Err(response) => return response,
    };
    let results: Vec<Value> = slots
        .into_iter()
        .map(|slot| match slot {
            Ok(index) => context.to_json(&answers[index].id, &answers[index].outcome),
            Err(value) => value,
        })
        .collect();
    metrics::histogram!("kanjo_http_events_seconds").record(started.elapsed().as_secs_f64());
    axum::Json(json!({"results": results})).into_response()
}

/// An event's answer, its payment state, and the key that sent it (`principal`; null when it
/// came in-process, through `kanjo import`). Whoever may submit such an event may read it, and
/// the auditor; one sent without a key only the auditor.
async fn get_event(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(id): PathText,
) -> Response {
    let lookup = id.clone();
    let auth = Arc::clone(state.engine.auth());
    let queried = state.engine.query(move |machine: &Machine| {
        let outcome = machine.outcome(&lookup).cloned()?;
        let stamp = auth.stamp_of(&lookup);
        Some((outcome, machine.payment_state_json(&lookup), stamp))
    });
    match found(queried, || format!("no event {id:?}")).await {
        Ok((outcome, payment_state, stamp)) => {
            let (sender, action) = match stamp {
                Some((key_id, submit)) => (Some(key_id), Action::ReadEvent(submit)),
                None => (None, Action::ReadHistory(AccountOwner::Unclassified)),
            };
            if let Err(response) = auth::allow(&principal, &action) {
                return response;
            }
            let mut answer = state.engine.answer_context().to_json(&id, &outcome);
            answer["principal"] = json!(sender.map(|key_id: KeyId| key_id.to_string()));
            // A purchase's refunds so far, or what became of an authorisation's hold.
            if let Some(payment_state) = payment_state {
                answer["state"] = payment_state;
            }
            axum::Json(answer).into_response()
        }
        Err(response) => response,
    }
}

/// An account is named (`rider:r-001:JPY`) or given as its 32-hex-digit id.
pub fn account_id_from_text(text: &str) -> Option<AccountId> {
    if let Some(name) = AccountName::parse(text) {
        return Some(name.id());
    }
    if text.len() == 32 {
        return u128::from_str_radix(text, 16).ok();
    }
    None
}

/// The account as a clerk reads it: balances, and which side is its normal balance.
pub fn account_json(machine: &Machine, id: AccountId) -> Option<Value> {
    let account = machine.ledger().account(id)?;
    let name = machine.account_name(id).unwrap_or("");
    let credit_normal = AccountName::parse(name).is_none_or(|parsed| parsed.is_credit_normal());
    let posted = if credit_normal {
        i128::from(account.credits_posted) - i128::from(account.debits_posted)
    } else {
        i128::from(account.debits_posted) - i128::from(account.credits_posted)
    };
    let asset = machine
        .ledger()
        .asset(account.asset)
        .map_or_else(String::new, |asset| asset.code.clone());
    Some(json!({
        "id": format!("{id:032x}"),
        "name": name,
        "asset": asset,
        "owner": format!("{:?}", account.owner),
        "normal_balance": if credit_normal { "credit" } else { "debit" },
        "balance": posted.to_string(),
        "available": if credit_normal { account.available_debit() } else { account.available_credit() },
        "debits_posted": account.debits_posted,
        "credits_posted": account.credits_posted,
        "debits_pending": account.debits_pending,
        "credits_pending": account.credits_pending,
    }))
}

/// Whose the account is: by its name, or for an id by the name the machine knows (an id it
/// doesn't know is nobody's: only the auditor learns that it doesn't exist).
async fn owner_of(state: &ApiState, text: &str, id: AccountId) -> Result<AccountOwner, Response> {
    if AccountName::parse(text).is_some() {
        return Ok(account_owner(text));
    }
    let queried = state.engine.query(move |machine: &Machine| {
        Some(
            machine
                .account_name(id)
                .map_or(AccountOwner::Unclassified, account_owner),
        )
    });
    found(queried, String::new).await
}

async fn get_account(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(text): PathText,
) -> Response {
    let Some(id) = account_id_from_text(&text) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadAccount,
            format!("{text:?} is neither an account name nor a 32-hex-digit id"),
        );
    };
    let owner = match owner_of(&state, &text, id).await {
        Ok(owner) => owner,
        Err(response) => return response,
    };
    if let Err(response) = auth::allow(&principal, &Action::ReadAccount(owner)) {
        return response;
    }
    let queried = state
        .engine
        .query(move |machine: &Machine| account_json(machine, id));
    match found(queried, || format!("no account {text:?}")).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    /// Only transfers after this ledger timestamp (ns): the cursor of the previous page.
    after: Option<u64>,
    limit: Option<u32>,
    #[serde(default)]
    newest_first: bool,
}

async fn get_account_transfers(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(text): PathText,
    QueryOf(query): QueryOf<HistoryQuery>,
) -> Response {
    let Some(id) = account_id_from_text(&text) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadAccount,
            format!("{text:?} is neither an account name nor a 32-hex-digit id"),
        );
    };
    let owner = match owner_of(&state, &text, id).await {
        Ok(owner) => owner,
        Err(response) => return response,
    };
    if let Err(response) = auth::allow(&principal, &Action::ReadHistory(owner)) {
        return response;
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=HISTORY_PAGE_MAX).contains(&limit) {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadQuery,
            format!("`limit` must be 1..={HISTORY_PAGE_MAX}, not {limit}"),
        );
    }
    // `after` is the last timestamp of the previous page, in the page's own order.
    let (timestamp_min, timestamp_max) = match (query.after, query.newest_first) {
        (None, _) => (0, u64::MAX),
        (Some(after), false) => (after.saturating_add(1), u64::MAX),
        (Some(after), true) => (0, after.saturating_sub(1)),
    };
    let filter = AccountFilter {
        timestamp_min,
        timestamp_max,
        limit,
        reversed: query.newest_first,
        debits: true,
        credits: true,
    };
    let queried = state.engine.query(move |machine: &Machine| {
        machine.ledger().account(id)?;
        let transfers = machine.ledger().account_transfers(id, &filter);
        let rows: Vec<Value> = transfers
            .iter()
            .map(|transfer| {
                let (direction, other) = if transfer.debit_account_id == id {
                    ("debit", transfer.credit_account_id)
                } else {
                    ("credit", transfer.debit_account_id)
                };
                json!({
                    "id": format!("{:032x}", transfer.id),
                    "timestamp": transfer.timestamp,
                    "direction": direction,
                    "amount": transfer.amount,
                    "counterparty": machine.account_name(other).unwrap_or(""),
                    "reason": Reason::from_code(transfer.code).map_or("unknown", Reason::name),
                    "event": machine.event_id_of(transfer.user_data_128),
                })
            })
            .collect();
        let next = (rows.len() == filter.limit as usize)
            .then(|| transfers.last().map(|transfer| transfer.timestamp))
            .flatten();
        Some(json!({"account": machine.account_name(id), "transfers": rows, "next_after": next}))
    });
    match found(queried, || format!("no account {text:?}")).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

async fn post_riders(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::UpsertRiders) {
        return response;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadBody,
            "the body is not UTF-8",
        );
    };
    let parsed = match parse_riders_at_most(text, SUBMISSION_EVENTS_MAX) {
        Ok(parsed) => parsed,
        Err(error) => return body_error_response(error),
    };
    let mut slots = Vec::with_capacity(parsed.len());
    let mut good = Vec::new();
    for item in parsed {
        match item {
            Ok(checked) => {
                let ignored = checked.ignored_fields.clone();
                slots.push(Ok((checked.record.rider.clone(), ignored, good.len())));
                good.push(checked.into_entry());
            }
            Err((rider, message)) => slots.push(Err(rejected_answer(rider.as_deref(), &message))),
        }
    }
    let results = match durable(state.engine.submit_riders(good)).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    let answers: Vec<Value> = slots
        .into_iter()
        .map(|slot| match slot {
            Ok((rider, ignored, index)) => match &results[index] {
                Ok(()) => accepted_answer(&rider, &ignored),
                Err(message) => rejected_answer(Some(&rider), message),
            },
            Err(value) => value,
        })
        .collect();
    axum::Json(json!({"results": answers})).into_response()
}

/// The body of `POST /v1/riders/{id}/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    public_key: String,
}

/// Registers a device public key for a rider's customer tokens: checked here (Ed25519, on the
/// curve, not weak), then by the machine (a known rider, at most `DEVICE_KEYS_PER_RIDER_MAX`
/// keys), logged and replayed. The same key twice is accepted once.
async fn post_rider_key(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(rider): PathText,
    Body(body): Body,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::RegisterRiderDevice) {
        return response;
    }
    // The log's id rules, and never a My Number (not repeated back).
    let bad_rider = match crate::limits::check_entry_id(&rider) {
        Err(error) => Some(format!("the rider {error}")),
        Ok(()) if kanjo_privacy::contains_my_number(&rider) => {
            Some("the rider id holds a 12-digit number, which could be a My Number".to_owned())
        }
        Ok(()) => None,
    };
    if let Some(message) = bad_rider {
        return error_response(StatusCode::BAD_REQUEST, ErrorCode::BadRider, message);
    }
    let key: KeyBody = match serde_json::from_slice(&body) {
        Ok(key) => key,
        Err(error) => {
            let message = format!("expected {{\"public_key\": \"…\"}}: {error}");
            return error_response(StatusCode::BAD_REQUEST, ErrorCode::BadBody, message);
        }
    };
    if let Err(error) = kanjo_qr::token::parse_public_key(&key.public_key) {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadPublicKey,
            error.to_string(),
        );
    }
    let record = kanjo_core::machine::DeviceKey {
        rider: rider.clone(),
        public_key: key.public_key,
    };
    let results = match durable(state.engine.submit_keys(vec![record])).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    match results.into_iter().next().expect("one result per key") {
        Ok(()) => axum::Json(json!({"rider": rider, "status": "accepted"})).into_response(),
        Err(rejection) => {
            let status = match rejection.code {
                KeyRefusalCode::UnknownRider => StatusCode::NOT_FOUND,
                KeyRefusalCode::TooManyKeys => StatusCode::CONFLICT,
                KeyRefusalCode::BadPublicKey | KeyRefusalCode::BadKeyRecord => {
                    StatusCode::BAD_REQUEST
                }
            };
            error_response(status, rejection.code.into(), rejection.message)
        }
    }
}

/// Adds or replaces shops; each record is checked on its own, logged and replayed.
async fn post_shops(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::UpsertShops) {
        return response;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadBody,
            "the body is not UTF-8",
        );
    };
    let assets = state.engine.answer_context().assets;
    let parsed = match kanjo_core::shops::parse_shops(text, assets, SUBMISSION_EVENTS_MAX) {
        Ok(parsed) => parsed,
        Err(error) => return body_error_response(error),
    };
    let mut slots = Vec::with_capacity(parsed.len());
    let mut good = Vec::new();
    for item in parsed {
        match item {
            Ok((canonical, spec)) => {
                slots.push(Ok((spec.id.clone(), good.len())));
                good.push((canonical, spec));
            }
            Err((shop, message)) => slots.push(Err(json!({
                "shop": shop, "status": "rejected", "error": {"code": "bad_shop", "message": message},
            }))),
        }
    }
    let results = match durable(state.engine.submit_shops(good)).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    let answers: Vec<Value> = slots
        .into_iter()
        .map(|slot| match slot {
            Ok((shop, index)) => match &results[index] {
                Ok(()) => json!({"shop": shop, "status": "accepted"}),
                Err(message) => json!({"shop": shop, "status": "rejected", "error": {"code": "bad_shop", "message": message}}),
            },
            Err(value) => value,
        })
        .collect();
    axum::Json(json!({"results": answers})).into_response()
}

async fn get_shop(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Path(id): Path<String>,
) -> Response {
    let action = Action::ReadShop { shop: id.clone() };
    if let Err(response) = auth::allow(&principal, &action) {
        return response;
    }
    let lookup = id.clone();
    let queried = state.engine.query(move |machine: &Machine| {
        machine
            .shop(&lookup)
            .map(kanjo_core::shops::ShopSpec::to_json)
    });
    match found(queried, || format!("no shop {id:?}")).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

/// The rider's passes (issue 13); a rider with none has an empty list.
async fn get_rider_passes(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(id): PathText,
) -> Response {
    let action = Action::ReadAccount(AccountOwner::Rider { rider: id.clone() });
    if let Err(response) = auth::allow(&principal, &action) {
        return response;
    }
    let queried = state
        .engine
        .query(move |machine: &Machine| Some(machine.rider_passes_json(&id)));
    match found(queried, String::new).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct LotsQuery {
    asset: String,
}

/// A rider's lots of one asset in spend order (earliest end first): what is left, when it was
/// granted, and the first instant it no longer pays (null: never).
async fn get_rider_lots(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(rider): PathText,
    QueryOf(query): QueryOf<LotsQuery>,
) -> Response {
    let action = Action::ReadHistory(AccountOwner::Rider {
        rider: rider.clone(),
    });
    if let Err(response) = auth::allow(&principal, &action) {
        return response;
    }
    let (lookup, asset) = (rider.clone(), query.asset.clone());
    let queried = state.engine.query(move |machine: &Machine| {
        let lots = machine.lots(&lookup, &asset)?;
        let instant = |ns: i128| {
            (ns != kanjo_core::machine::NEVER_NS)
                .then(|| {
                    jiff::Timestamp::from_nanosecond(ns)
                        .ok()
                        .map(|at| at.to_string())
                })
                .flatten()
        };
        let lots: Vec<serde_json::Value> = lots
            .iter()
            .map(|lot| {
                json!({
                    "amount": lot.left_minor,
                    "granted_at": instant(lot.granted_ns),
                    "expires_at": instant(lot.ends_ns),
                })
            })
            .collect();
        Some(json!({"rider": lookup, "asset": asset, "lots": lots}))
    });
    match found(queried, || format!("no asset {:?}", query.asset)).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

/// The shop statement: per shop, local day and asset, sales, fees, refunds and net.
async fn get_shop_report(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::ReadReport(Report::AllShops)) {
        return response;
    }
    let queried = state
        .engine
        .query(|machine: &Machine| Some(kanjo_core::report::shop_report(machine)));
    match found(queried, || "no shop report".to_owned()).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(response) => response,
    }
}

/// Makes a key (town-admin): the token is in this answer and nowhere else; the log keeps its
/// SHA-256. The key works from the next request on.
async fn post_key(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::CreateKey) {
        return response;
    }
    let request: auth::NewKeyBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let message =
                format!("expected {{\"role\": \"…\", \"expires\": \"YYYY-MM-DD\"}}: {error}");
            return error_response(StatusCode::BAD_REQUEST, ErrorCode::BadBody, message);
        }
    };
    let (new_key, change) = match auth::new_key_change(&request) {
        Ok(made) => made,
        Err(response) => return response,
    };
    if let Err(response) = key_change(&state, change).await {
        return response;
    }
    let mut answer = auth::key_json(&new_key.record);
    answer["token"] = json!(new_key.token.expose());
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// Every key (town-admin, auditor): role, dates, revocation; never a token or its hash.
async fn get_keys(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::ListKeys) {
        return response;
    }
    let keys: Vec<Value> = state
        .engine
        .auth()
        .records()
        .iter()
        .map(auth::key_json)
        .collect();
    axum::Json(json!({"keys": keys})).into_response()
}

/// Revokes a key (town-admin): refused from the next request on, also on this server.
async fn post_key_revoke(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    PathText(text): PathText,
) -> Response {
    if let Err(response) = auth::allow(&principal, &Action::RevokeKey) {
        return response;
    }
    let key_id = match KeyId::parse(&text) {
        Ok(key_id) => key_id,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadKey,
                error.to_string(),
            );
        }
    };
    let change = KeyChange::Revoke {
        key_id,
        at_unix_s: auth::now_unix_s(),
    };
    if let Err(response) = key_change(&state, change).await {
        return response;
    }
    match state.engine.auth().key(key_id) {
        Some(record) => axum::Json(auth::key_json(&record)).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no key {key_id}"),
        ),
    }
}

/// Checks a key change at the edge, sends it through the pipeline and waits until it is durable.
async fn key_change(state: &ApiState, change: KeyChange) -> Result<(), Response> {
    let refused = |error: kanjo_auth::KeyBookError| {
        let status = match error {
            kanjo_auth::KeyBookError::UnknownKey(_) => StatusCode::NOT_FOUND,
            kanjo_auth::KeyBookError::AlreadyRevoked { .. }
            | kanjo_auth::KeyBookError::DuplicateKeyId(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        error_response(status, ErrorCode::BadKey, error.to_string())
    };
    state.engine.auth().check_change(&change).map_err(refused)?;
    let results = durable(state.engine.submit_key_changes(vec![change])).await?;
    results
        .into_iter()
        .next()
        .expect("one result per change")
        .map_err(refused)
}

async fn get_metrics(State(state): State<Arc<ApiState>>) -> Response {
    match &state.metrics {
        Some(handle) => {
            metrics::gauge!("kanjo_queued_events").set(state.engine.queued_events() as f64);
            metrics::gauge!("kanjo_committed_seq").set(state.engine.committed_seq() as f64);
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            (headers, handle.render()).into_response()
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NoMetrics,
            "metrics are not installed in this process",
        ),
    }
}

/// `ok` (a round trip through the pipeline succeeded), `recovering` (a commit is being retried
/// after a transient store failure) or `stopped` (the engine failed and the process is exiting).
async fn get_health(State(state): State<Arc<ApiState>>) -> Response {
    let mut changes = state.engine.watch_health();
    let health = match state.engine.query(|_: &Machine| ()) {
        // A probe queued behind a commit that starts recovering would wait for the recovery.
        Ok(probe) => tokio::select! {
            answered = probe => if answered.is_ok() { Health::Ok } else { Health::Failed },
            _ = changes.wait_for(|health| *health != Health::Ok) => state.engine.health(),
        },
        Err(SubmitError::Recovering(_)) => Health::Recovering,
        Err(_) => Health::Failed,
    };
    let mut body = json!({
        "status": health.name(),
        "backend": state.engine.backend(),
        "committed_seq": state.engine.committed_seq(),
        "committed_events": state.engine.committed_events(),
        "queued_events": state.engine.queued_events(),
        "store_recoveries": state.engine.recoveries(),
    });
    match health {
        Health::Ok => return (StatusCode::OK, axum::Json(body)).into_response(),
        Health::Recovering => body["reason"] = json!(state.engine.recovering_reason()),
        Health::Failed => {
            body["reason"] = json!(state.engine.failure().map(|failure| failure.reason))
        }
    }
    let retry_after = if health == Health::Recovering {
        RETRY_AFTER_RECOVERING_S
    } else {
        RETRY_AFTER_STOPPED_S
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
    response
}

async fn get_openapi() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (headers, OPENAPI).into_response()
}
