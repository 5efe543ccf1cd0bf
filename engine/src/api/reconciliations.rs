//! Reconciliation runs over HTTP: `GET /v1/reconciliations` (every run, newest first, with its
//! open exceptions counted), `GET /v1/reconciliations/{id}` (a run, its exceptions and the audit
//! trail of resolutions), `POST /v1/reconciliations/{id}/exceptions/{n}/resolve` (a clerk marks
//! one exception resolved with a reason and their name; logged as `EntryKind::Resolution` with
//! the key id of the principal that sent it).

use std::sync::Arc;

use axum::extract::Extension;
use kanjo_auth::{Action, Principal, Report};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kanjo_core::reconcile::{ReconRefusal, ReconRefusalCode, Resolution, StoredRun};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiState, Body, ErrorCode, PathText, durable, error_response, found};
use crate::machine::Machine;
use crate::pipeline::ReconRecord;

/// The run list's JSON: newest first, without the exceptions themselves.
pub(crate) fn runs_json(machine: &Machine) -> Value {
    let runs: Vec<Value> = machine
        .reconciliations()
        .runs()
        .iter()
        .rev()
        .map(|stored| {
            let run = &stored.run;
            json!({
                "id": run.id,
                "source": run.source,
                "file": run.file,
                "period": run.period,
                "at": run.at,
                "rows": run.rows,
                "matched": run.matched,
                "exceptions_total": run.exceptions_total,
                "exceptions_open": stored.open_exceptions().count(),
                "counts": run.counts,
            })
        })
        .collect();
    json!({ "runs": runs })
}

/// One run with its exceptions, each with its resolution (or null), and the audit trail.
pub(crate) fn run_json(stored: &StoredRun) -> Value {
    let mut value = serde_json::to_value(stored).expect("a run serialises");
    let exceptions: Vec<Value> = stored
        .run
        .exceptions
        .iter()
        .map(|exception| {
            let mut item = serde_json::to_value(exception).expect("an exception serialises");
            item["resolution"] = stored.resolutions.get(&exception.n).map_or(
                Value::Null,
                |r| json!({"reason": r.reason, "clerk": r.clerk, "at": r.at, "principal": r.principal}),
            );
            item
        })
        .collect();
    value["exceptions"] = Value::Array(exceptions);
    value["exceptions_open"] = json!(stored.open_exceptions().count());
    value
}

pub(super) async fn list_reconciliations(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::Reconciliations))
    {
        return response;
    }
    let queried = state
        .engine
        .query(|machine: &Machine| Some(runs_json(machine)));
    match found(queried, String::new).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

pub(super) async fn get_reconciliation(
    State(state): State<Arc<ApiState>>,
    PathText(id): PathText,
    Extension(principal): Extension<Arc<Principal>>,
) -> Response {
    if let Err(response) =
        crate::api::auth::allow(&principal, &Action::ReadReport(Report::Reconciliations))
    {
        return response;
    }
    let lookup = id.clone();
    let queried = state
        .engine
        .query(move |machine: &Machine| machine.reconciliations().get(&lookup).map(run_json));
    match found(queried, || format!("no reconciliation run {id:?}")).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    pub reason: String,
    pub clerk: String,
}

pub(super) async fn resolve_exception(
    State(state): State<Arc<ApiState>>,
    axum::extract::Path((run, n)): axum::extract::Path<(String, String)>,
    Extension(principal): Extension<Arc<Principal>>,
    Body(body): Body,
) -> Response {
    if let Err(response) = crate::api::auth::allow(&principal, &Action::ResolveException) {
        return response;
    }
    let resolve: ResolveBody = match serde_json::from_slice(&body) {
        Ok(resolve) => resolve,
        Err(error) => {
            let message = format!("expected {{\"reason\": \"…\", \"clerk\": \"…\"}}: {error}");
            return error_response(StatusCode::BAD_REQUEST, ErrorCode::BadBody, message);
        }
    };
    match submit_resolution(&state, run, &n, resolve, &principal).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(response) => response,
    }
}

/// Checks and logs one resolution; answers the run's JSON once durable. Shared with `/finance`.
pub(crate) async fn submit_resolution(
    state: &ApiState,
    run: String,
    n: &str,
    resolve: ResolveBody,
    principal: &Principal,
) -> Result<Value, Response> {
    let Ok(n) = n.parse::<u32>() else {
        let message = format!("exception number {n:?} is not a whole number");
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadPath,
            message,
        ));
    };
    let resolution = Resolution {
        run: run.clone(),
        n,
        reason: resolve.reason,
        clerk: resolve.clerk,
        at: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        // The typed name says who the clerk says they are; the key says whose key it was.
        principal: Some(principal.key_id.to_string()),
    };
    if let Err(refusal) = resolution.check() {
        return Err(refusal_response(refusal));
    }
    let results = durable(
        state
            .engine
            .submit_recon(vec![ReconRecord::Resolve(resolution)]),
    )
    .await?;
    if let Err(refusal) = results.into_iter().next().expect("one result per record") {
        return Err(refusal_response(refusal));
    }
    let queried = state
        .engine
        .query(move |machine: &Machine| machine.reconciliations().get(&run).map(run_json));
    found(queried, String::new).await
}

fn refusal_response(refusal: ReconRefusal) -> Response {
    let (status, code) = match refusal.code {
        ReconRefusalCode::UnknownRun | ReconRefusalCode::UnknownException => {
            (StatusCode::NOT_FOUND, ErrorCode::NotFound)
        }
        ReconRefusalCode::AlreadyResolved => (StatusCode::CONFLICT, ErrorCode::AlreadyResolved),
        ReconRefusalCode::BadResolution
        | ReconRefusalCode::BadRun
        | ReconRefusalCode::RunConflict
        | ReconRefusalCode::TooManyRuns => (StatusCode::BAD_REQUEST, ErrorCode::BadResolution),
    };
    error_response(status, code, refusal.message)
}
