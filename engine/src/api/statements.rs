//! A party's statement as a download (issue 10):
//! `GET /v1/settlements/{id}/statements/{party}?format=json|csv|xlsx` (default json) and the
//! finance page's twin `GET /finance/settlements/{id}/statements/{party}?format=csv|xlsx`
//! (default csv; the browser sends its key as the `kanjo_key` cookie, which the key gate accepts
//! on /finance paths). `{party}` is `operator:{op}` or `shop:{id}`.
//!
//! Order of checks: the party's shape (400 `bad_path`), the format (400 `bad_query`), the key's
//! scope (403: an operator or shop key reads only its own statement, so a key can't learn
//! whether another party exists), then the settlement (404 `unknown_settlement`) and the party
//! in it (404 `unknown_party`). CSV and XLSX answer as attachments with a file name.

use std::sync::Arc;

use axum::extract::{Extension, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kanjo_auth::{Action, Party, Principal, Report};
use kanjo_core::report::statement::{Statement, StatementError, statement};
use serde::Deserialize;

use super::{ApiState, ErrorCode, QueryOf, error_response, found};
use crate::machine::Machine;
use crate::statement_file::{StatementFormat, render};

/// The two path parameters, percent-decoded; a rejection is a JSON `bad_path`.
pub struct StatementPath {
    settlement: String,
    party: String,
}

impl<S: Send + Sync> FromRequestParts<S> for StatementPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<StatementPath, Response> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((settlement, party))| StatementPath { settlement, party })
            .map_err(|rejection| {
                error_response(
                    rejection.status(),
                    ErrorCode::BadPath,
                    rejection.body_text(),
                )
            })
    }
}

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// Whether a party id is one an event could name (the shop-id check: 1..=128 bytes, no control
/// character, no My Number). Any other id is in no settlement: it is answered 404 without being
/// echoed back.
fn could_be_settled(party: &str) -> bool {
    let id = party.split_once(':').map_or(party, |(_, id)| id);
    kanjo_core::shops::check_shop_id(id).is_ok()
}

/// `operator:{op}` or `shop:{id}`, each with a non-empty id.
fn parse_party(text: &str) -> Option<Party> {
    match text.split_once(':') {
        Some(("operator", id)) if !id.is_empty() => Some(Party::Operator(id.to_owned())),
        Some(("shop", id)) if !id.is_empty() => Some(Party::Shop(id.to_owned())),
        _ => None,
    }
}

/// `GET /v1/settlements/{id}/statements/{party}`: json (default), csv or xlsx.
pub async fn get_statement(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    path: StatementPath,
    QueryOf(query): QueryOf<FormatQuery>,
) -> Response {
    let allowed = [
        StatementFormat::Json,
        StatementFormat::Csv,
        StatementFormat::Xlsx,
    ];
    answer(
        &state,
        &principal,
        path,
        query,
        StatementFormat::Json,
        &allowed,
    )
    .await
}

/// `GET /finance/settlements/{id}/statements/{party}`: the finance page's downloads, csv
/// (default) or xlsx.
pub async fn get_finance_statement(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    path: StatementPath,
    QueryOf(query): QueryOf<FormatQuery>,
) -> Response {
    let allowed = [StatementFormat::Csv, StatementFormat::Xlsx];
    answer(
        &state,
        &principal,
        path,
        query,
        StatementFormat::Csv,
        &allowed,
    )
    .await
}

async fn answer(
    state: &ApiState,
    principal: &Principal,
    path: StatementPath,
    query: FormatQuery,
    default: StatementFormat,
    allowed: &[StatementFormat],
) -> Response {
    let Some(party) = parse_party(&path.party) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadPath,
            // The text is not repeated: it may be long or hold what must not be echoed.
            "party must be operator:{op} or shop:{id}".to_owned(),
        );
    };
    let format = match query.format.as_deref().map(str::parse::<StatementFormat>) {
        None => default,
        Some(Ok(format)) if allowed.contains(&format) => format,
        Some(_) => {
            let names: Vec<&str> = allowed.iter().map(|f| f.extension()).collect();
            return error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadQuery,
                format!("format must be one of {}", names.join(", ")),
            );
        }
    };
    let action = Action::ReadReport(Report::Statement { party });
    if let Err(response) = crate::api::auth::allow(principal, &action) {
        return response;
    }
    if !could_be_settled(&path.party) {
        return error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownParty,
            "no settlement settles that party: its id is not one kanjo could hold".to_owned(),
        );
    }
    let (settlement, party) = (path.settlement.clone(), path.party.clone());
    let queried = state
        .engine
        .query(move |machine: &Machine| Some(statement(machine, &settlement, &party)));
    match found(queried, String::new).await {
        Ok(Ok(made)) => file_response(&made, format, &path),
        Ok(Err(error)) => statement_error(&error),
        Err(response) => response,
    }
}

fn statement_error(error: &StatementError) -> Response {
    let (status, code) = match error {
        StatementError::UnknownSettlement(_) => {
            (StatusCode::NOT_FOUND, ErrorCode::UnknownSettlement)
        }
        StatementError::UnknownParty { .. } => (StatusCode::NOT_FOUND, ErrorCode::UnknownParty),
        // The statement disagrees with the ledger: the books are wrong, not the request.
        StatementError::Disagrees { .. }
        | StatementError::BreakdownDisagrees { .. }
        | StatementError::DaysDisagree { .. } => {
            tracing::error!(%error, "a statement disagrees with the ledger");
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::ServerError)
        }
    };
    error_response(status, code, error.to_string())
}

fn file_response(made: &Statement, format: StatementFormat, path: &StatementPath) -> Response {
    let bytes = match render(std::slice::from_ref(made), format, false) {
        Ok(bytes) => bytes,
        Err(error) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                error.to_string(),
            );
        }
    };
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        bytes,
    )
        .into_response();
    if format != StatementFormat::Json {
        let name = format.file_name(&path.settlement, Some(&path.party));
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, super::attachment(&name));
    }
    response
}
