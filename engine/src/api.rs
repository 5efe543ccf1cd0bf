//! The HTTP API (axum). Handlers parse and shape JSON on tokio's threads; all state lives on the
//! machine thread and is reached through the pipeline, so a handler never blocks it for long.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanjo_ledger::{AccountFilter, AccountId};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::chart::{AccountName, Reason};
use crate::event::parse_batch;
use crate::machine::{Machine, Prepared};
use crate::pipeline::{Answer, Engine, SUBMISSION_EVENTS_MAX, SubmitError};
use crate::riders::parse_riders;

/// A request body larger than this is refused before it is read whole.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Transfers one history page returns at most.
pub const HISTORY_PAGE_MAX: u32 = 1000;
const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    pub metrics: Option<PrometheusHandle>,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/events/{id}", get(get_event))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/accounts/{id}/transfers", get(get_account_transfers))
        .route("/v1/riders", post(post_riders))
        .route("/v1/shops", post(post_shops))
        .route("/v1/shops/{id}", get(get_shop))
        .route("/metrics", get(get_metrics))
        .route("/healthz", get(get_health))
        .route("/openapi.json", get(get_openapi))
        .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .with_state(Arc::new(state))
}

fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

fn submit_error_response(error: SubmitError) -> Response {
    match error {
        SubmitError::QueueFull { .. } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                error.to_string(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        SubmitError::TooLarge(_) => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            error.to_string(),
        ),
        SubmitError::Stopped(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopped",
            error.to_string(),
        ),
    }
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
        Ok(None) => Err(error_response(StatusCode::NOT_FOUND, "not_found", what())),
        Err(_) => Err(submit_error_response(SubmitError::Stopped(
            "the pipeline ended".into(),
        ))),
    }
}

async fn post_events(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let started = std::time::Instant::now();
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8");
    };
    let items = match parse_batch(text) {
        Ok(items) => items,
        Err(error) => {
            return error_response(StatusCode::BAD_REQUEST, "bad_body", error.to_string());
        }
    };
    if items.len() > SUBMISSION_EVENTS_MAX {
        return submit_error_response(SubmitError::TooLarge(items.len()));
    }
    // Bad items are answered here and never reach the log; good ones keep their place in the answer.
    let mut slots: Vec<Result<usize, Value>> = Vec::with_capacity(items.len());
    let mut prepared = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Ok(event) => {
                slots.push(Ok(prepared.len()));
                prepared.push(Prepared::new(event));
            }
            Err(error) => slots.push(Err(json!({
                "id": error.id,
                "status": "rejected",
                "error": {"code": crate::event::EventError::CODE, "message": error.message},
            }))),
        }
    }
    let answers: Vec<Answer> = match durable(state.engine.submit_prepared(prepared)).await {
        Ok(answers) => answers,
        Err(response) => return response,
    };
    let context = state.engine.answer_context();
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

async fn get_event(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
    let lookup = id.clone();
    let queried = state.engine.query(move |machine: &Machine| {
        let outcome = machine.outcome(&lookup).cloned()?;
        Some((outcome, machine.payment_state_json(&lookup)))
    });
    match found(queried, || format!("no event {id:?}")).await {
        Ok((outcome, payment_state)) => {
            let mut answer = state.engine.answer_context().to_json(&id, &outcome);
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

async fn get_account(State(state): State<Arc<ApiState>>, Path(text): Path<String>) -> Response {
    let Some(id) = account_id_from_text(&text) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_account",
            format!("{text:?} is neither an account name nor a 32-hex-digit id"),
        );
    };
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
    Path(text): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let Some(id) = account_id_from_text(&text) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_account",
            format!("{text:?} is neither an account name nor a 32-hex-digit id"),
        );
    };
    let limit = query.limit.unwrap_or(100).clamp(1, HISTORY_PAGE_MAX);
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

async fn post_riders(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8");
    };
    let parsed = match parse_riders(text) {
        Ok(parsed) => parsed,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, "bad_body", error),
    };
    let mut slots = Vec::with_capacity(parsed.len());
    let mut good = Vec::new();
    for item in parsed {
        match item {
            Ok((canonical, record)) => {
                slots.push(Ok((record.rider.clone(), good.len())));
                good.push((canonical, record));
            }
            Err((rider, message)) => slots.push(Err(json!({
                "rider": rider, "status": "rejected", "error": {"code": "bad_rider", "message": message},
            }))),
        }
    }
    let results = match durable(state.engine.submit_riders(good)).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    let answers: Vec<Value> = slots
        .into_iter()
        .map(|slot| match slot {
            Ok((rider, index)) => match &results[index] {
                Ok(()) => json!({"rider": rider, "status": "accepted"}),
                Err(message) => json!({"rider": rider, "status": "rejected", "error": {"code": "bad_rider", "message": message}}),
            },
            Err(value) => value,
        })
        .collect();
    axum::Json(json!({"results": answers})).into_response()
}

/// Adds or replaces shops; each record is checked on its own, logged and replayed.
async fn post_shops(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "bad_body", "the body is not UTF-8");
    };
    let parsed = match kanjo_core::shops::parse_shops(text, state.engine.answer_context().assets) {
        Ok(parsed) => parsed,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, "bad_body", error),
    };
    if parsed.len() > SUBMISSION_EVENTS_MAX {
        return submit_error_response(SubmitError::TooLarge(parsed.len()));
    }
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

async fn get_shop(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Response {
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
            "no_metrics",
            "metrics are not installed in this process",
        ),
    }
}

async fn get_health(State(state): State<Arc<ApiState>>) -> Response {
    let status = match state.engine.query(|_: &Machine| ()) {
        Ok(receiver) => receiver.await.is_ok(),
        Err(_) => false,
    };
    let body = json!({
        "status": if status { "ok" } else { "stopped" },
        "backend": state.engine.backend(),
        "committed_seq": state.engine.committed_seq(),
        "committed_events": state.engine.committed_events(),
        "queued_events": state.engine.queued_events(),
    });
    let code = if status {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn get_openapi() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (headers, OPENAPI).into_response()
}
