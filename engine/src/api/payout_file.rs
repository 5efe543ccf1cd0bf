//! The Zengin payout file over HTTP (issue 10): `GET /v1/settlements/{id}/zengin` and its
//! `/finance` twin, which the finance page links to (the browser's key is its `kanjo_key`
//! cookie). Both answer the same bytes as `kanjo payout --settlement ID`: Shift_JIS, 120-byte
//! records, CR LF, as a download. Reading the file logs nothing.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kanjo_auth::{Action, Principal, Report};
use kanjo_core::settlement::payout_file::{self as file, PayoutFileError};
use serde::Deserialize;

use super::{ApiState, ErrorCode, PathText, QueryOf, error_response, found};
use crate::machine::Machine;

/// What a bank's upload screen expects of a 総合振込 file.
const CONTENT_TYPE: &str = "text/plain; charset=Shift_JIS";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZenginQuery {
    /// 振込指定日, YYYY-MM-DD; default: tomorrow in the programme's time zone.
    transfer_date: Option<String>,
}

fn refusal_response(error: &PayoutFileError) -> Response {
    let (status, code) = match error {
        PayoutFileError::UnknownSettlement(_) => {
            (StatusCode::NOT_FOUND, ErrorCode::UnknownSettlement)
        }
        PayoutFileError::NothingToPay(_) => (StatusCode::CONFLICT, ErrorCode::NothingToPay),
        PayoutFileError::NoPayer => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::NoPayer),
        PayoutFileError::BadBankDetails(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadBankDetails)
        }
        PayoutFileError::BadTransferDate(_) => {
            (StatusCode::BAD_REQUEST, ErrorCode::BadTransferDate)
        }
        PayoutFileError::TooLarge(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PayoutFileTooLarge,
        ),
    };
    error_response(status, code, error.to_string())
}

/// `GET /v1/settlements/{id}/zengin` and `GET /finance/settlements/{id}/zengin`.
pub async fn get_zengin(
    State(state): State<Arc<ApiState>>,
    PathText(id): PathText,
    Extension(principal): Extension<Arc<Principal>>,
    QueryOf(query): QueryOf<ZenginQuery>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::PayoutFile))
    {
        return response;
    }
    let date = match query
        .transfer_date
        .as_deref()
        .map(file::parse_transfer_date)
    {
        None => None,
        Some(Ok(date)) => Some(date),
        Some(Err(error)) => return refusal_response(&error),
    };
    let lookup = id.clone();
    let queried = state.engine.query(move |machine: &Machine| {
        let date =
            date.unwrap_or_else(|| file::default_transfer_date(machine, jiff::Timestamp::now()));
        Some(file::payout_file(machine, &lookup, date))
    });
    match found(queried, String::new).await {
        Ok(Ok(bytes)) => download(&id, bytes),
        Ok(Err(error)) => refusal_response(&error),
        Err(response) => response,
    }
}

/// The file as an attachment named after the settlement.
fn download(id: &str, bytes: Vec<u8>) -> Response {
    let disposition = super::attachment(&format!("furikomi-{id}.txt"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CONTENT_DISPOSITION, disposition),
            // Bank account numbers: no shared cache keeps them.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}
