//! Settlements and payouts over HTTP (issue 10): `POST /v1/settlements`, `GET /v1/settlements`,
//! `GET /v1/settlements/{id}`, `POST /v1/payouts`. Each POST is one logged command, answered
//! once durable; refusals are the JSON error shape with the refusal's code.

use std::sync::Arc;

use axum::extract::Extension;
use kanjo_auth::{Action, Principal, Report};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kanjo_core::settlement::{FinanceCommand, FinanceRefusal, PayoutCommand, SettleCommand};
use serde_json::json;

use super::{ApiState, Body, ErrorCode, PathText, durable, error_response, found};
use crate::machine::Machine;

fn refusal_response(refusal: FinanceRefusal) -> Response {
    let (status, code) = match &refusal {
        FinanceRefusal::BadSettlement(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadSettlement),
        FinanceRefusal::BadPayout(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadPayout),
        FinanceRefusal::PeriodClosed { .. } => (StatusCode::CONFLICT, ErrorCode::PeriodClosed),
        FinanceRefusal::PeriodNotOver { .. } => (StatusCode::CONFLICT, ErrorCode::PeriodNotOver),
        FinanceRefusal::UnknownSettlement(_) => {
            (StatusCode::NOT_FOUND, ErrorCode::UnknownSettlement)
        }
        FinanceRefusal::NothingPayable { .. } => (StatusCode::CONFLICT, ErrorCode::NothingPayable),
        FinanceRefusal::ExceedsPayable { .. } => {
            (StatusCode::CONFLICT, ErrorCode::PayoutExceedsPayable)
        }
        FinanceRefusal::IdConflict(_) => (StatusCode::CONFLICT, ErrorCode::PayoutIdConflict),
        FinanceRefusal::TooMany(_) => (StatusCode::CONFLICT, ErrorCode::TooManySettlements),
    };
    error_response(status, code, refusal.to_string())
}

async fn submit(state: &ApiState, command: FinanceCommand) -> Response {
    let results = match durable(state.engine.submit_finance(vec![command])).await {
        Ok(results) => results,
        Err(response) => return response,
    };
    match results.into_iter().next() {
        Some(Ok(answer)) => axum::Json(answer).into_response(),
        Some(Err(refusal)) => refusal_response(refusal),
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "no answer for the command",
        ),
    }
}

fn not_utf8() -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadBody,
        "the body is not UTF-8",
    )
}

/// Closes every open day through `through`; the same date again answers the same settlement.
pub async fn post_settlements(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = crate::api::auth::allow(&principal, &Action::Settle) {
        return response;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return not_utf8();
    };
    match SettleCommand::parse(text) {
        Ok(command) => submit(&state, FinanceCommand::Settle(command)).await,
        Err(refusal) => refusal_response(refusal),
    }
}

/// Records a payout the bank confirmed.
pub async fn post_payouts(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = crate::api::auth::allow(&principal, &Action::RecordPayout) {
        return response;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return not_utf8();
    };
    match PayoutCommand::parse(text) {
        Ok(command) => submit(&state, FinanceCommand::Payout(command)).await,
        Err(refusal) => refusal_response(refusal),
    }
}

/// Every settlement in order, with the payouts recorded.
pub async fn get_settlements(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::Settlements))
    {
        return response;
    }
    let queried = state.engine.query(|machine: &Machine| {
        let book = machine.settle_book();
        Some(json!({
            "settlements": book.settlements(),
            "payouts": book.payouts(),
            "refunds_after_close": book.refunds_after_close(),
        }))
    });
    match found(queried, String::new).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

pub async fn get_settlement(
    State(state): State<Arc<ApiState>>,
    PathText(id): PathText,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::Settlements))
    {
        return response;
    }
    let lookup = id.clone();
    let queried = state
        .engine
        .query(move |machine: &Machine| machine.settle_book().settlement(&lookup).cloned());
    match found(queried, || format!("no settlement {id:?}")).await {
        Ok(settlement) => axum::Json(settlement).into_response(),
        Err(response) => response,
    }
}
