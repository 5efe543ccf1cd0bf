//! `POST /v1/programme` (issue 12): a town admin changes the programme of a running server. The
//! body is the whole source, as `kanjo_rules::PackedSource` holds it: the programme's TOML and
//! the text of each GTFS file it names, keyed by the path the TOML uses, with the instant the
//! version takes effect. It is checked completely (sizes, compile, engine sections, the books)
//! before anything is logged; the pipeline then keeps the source under its digest before the
//! record that names it (`pipeline::keep_sources`), so a restart replays it from the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use kanjo_auth::{Action, Principal};
use kanjo_rules::programme::{PROGRAMME_SOURCE_BYTES_MAX, PackError, PackedSource};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{ApiState, ErrorCode, error_response, submit_error_response};
use crate::programme_cli::{self, ApplyError, VersionItem};

/// The largest body: no larger source could be kept (`PROGRAMME_SOURCE_BYTES_MAX`; the stored
/// form is JSON of the same strings).
pub const PROGRAMME_BODY_BYTES_MAX: usize = PROGRAMME_SOURCE_BYTES_MAX;
/// Programme posts read and compiled at once: a source may be hundreds of MiB, so one at a time.
const PROGRAMME_POSTS_AT_ONCE: usize = 1;
/// `Retry-After` while another programme post is being checked.
const RETRY_AFTER_BUSY_S: &str = "5";

static POSTS: Semaphore = Semaphore::const_new(PROGRAMME_POSTS_AT_ONCE);

/// The body: `PackedSource` and the instant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgrammePost {
    /// RFC 3339 with an offset.
    effective: String,
    programme: String,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// A refusal naming the key of the programme (or of the body) that is wrong.
fn refusal(status: StatusCode, code: ErrorCode, key: &str, message: String) -> Response {
    let body = json!({"error": {"code": code.code(), "message": message, "key": key}});
    (status, axum::Json(body)).into_response()
}

fn pack_refusal(error: PackError) -> Response {
    let (status, code, key) = match &error {
        PackError::ProgrammeTooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "programme",
        ),
        PackError::TooManyFiles { .. } | PackError::FileTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, "files")
        }
        PackError::DuplicateFile { .. } | PackError::UnknownFile { .. } => {
            (StatusCode::BAD_REQUEST, ErrorCode::BadProgramme, "files")
        }
        PackError::Programme(_) => (
            StatusCode::BAD_REQUEST,
            ErrorCode::BadProgramme,
            "programme",
        ),
    };
    refusal(status, code, key, error.to_string())
}

fn apply_refusal(error: ApplyError) -> Response {
    match error {
        ApplyError::Refused(refused) => refusal(
            StatusCode::CONFLICT,
            ErrorCode::ProgrammeRefused,
            &refused.key,
            format!("refused, nothing logged: {refused}"),
        ),
        ApplyError::RefusedOnApply(message) => {
            let key = message.split(':').next().unwrap_or("programme").to_owned();
            refusal(
                StatusCode::CONFLICT,
                ErrorCode::ProgrammeRefused,
                &key,
                format!("refused, nothing logged: {message}"),
            )
        }
        ApplyError::Source(message) => refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadProgramme,
            "programme",
            message,
        ),
        ApplyError::Submit(error) => submit_error_response(error),
        ApplyError::Store(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            error.to_string(),
        ),
        ApplyError::Start(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            error.to_string(),
        ),
    }
}

/// A declared length over the bound is refused before a byte of the body is read.
fn declared_too_large(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok())
        .is_some_and(|length| length > PROGRAMME_BODY_BYTES_MAX as u64)
}

fn too_large() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        format!("the body is larger than {PROGRAMME_BODY_BYTES_MAX} bytes"),
    )
}

/// Reads and parses the body, at most `PROGRAMME_BODY_BYTES_MAX` bytes.
async fn read_post(body: axum::body::Body) -> Result<(ProgrammePost, Timestamp), Response> {
    let bytes = axum::body::to_bytes(body, PROGRAMME_BODY_BYTES_MAX)
        .await
        .map_err(|error| {
            let limited = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if limited {
                too_large()
            } else {
                error_response(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadBody,
                    error.to_string(),
                )
            }
        })?;
    let post: ProgrammePost = serde_json::from_slice(&bytes).map_err(|error| {
        error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadBody,
            format!("not {{\"effective\", \"programme\", \"files\"}}: {error}; nothing logged"),
        )
    })?;
    let effective = post.effective.parse::<Timestamp>().map_err(|error| {
        refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadProgramme,
            "effective",
            format!(
                "effective {:?}: not RFC 3339 with an offset: {error}",
                post.effective
            ),
        )
    })?;
    Ok((post, effective))
}

/// Why `check_and_apply` did not apply the version.
enum NotApplied {
    Pack(PackError),
    Apply(ApplyError),
}

impl NotApplied {
    fn response(self) -> Response {
        match self {
            NotApplied::Pack(error) => pack_refusal(error),
            NotApplied::Apply(error) => apply_refusal(error),
        }
    }
}

/// Unpacks and checks what needs no books, then checks the books and logs (blocking).
fn check_and_apply(
    engine: &crate::pipeline::Engine,
    post: ProgrammePost,
    effective: Timestamp,
) -> Result<(u32, String), NotApplied> {
    let packed = PackedSource {
        programme: post.programme,
        files: post.files,
    };
    let (source, programme) = packed.unpack().map_err(NotApplied::Pack)?;
    drop(packed);
    let first_toml = engine.first_programme_toml();
    let item: VersionItem = programme_cli::source_version(source, programme, effective, first_toml)
        .map_err(NotApplied::Apply)?;
    let digest = item.entry.digest.clone();
    let number = programme_cli::apply_on(engine, item).map_err(NotApplied::Apply)?;
    Ok((number, digest))
}

/// Checks a new programme version completely and logs it; the same source at the same instant
/// again answers the same and logs nothing.
pub async fn post_programme(
    State(state): State<Arc<ApiState>>,
    Extension(principal): Extension<Arc<Principal>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Err(response) = super::auth::allow(&principal, &Action::ChangeProgramme) {
        return response;
    }
    if declared_too_large(&headers) {
        return too_large();
    }
    let Ok(_permit) = POSTS.try_acquire() else {
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::QueueFull,
            "another programme is being checked; retry after Retry-After seconds",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_BUSY_S),
        );
        return response;
    };
    let (post, effective) = match read_post(body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let engine = state.engine.clone();
    // Compiling GTFS files and waiting for the commit block: off the async threads.
    let applied =
        tokio::task::spawn_blocking(move || check_and_apply(&engine, post, effective)).await;
    match applied {
        Ok(Ok((version, digest))) => {
            tracing::info!(version, %digest, %effective, key = %principal.key_id, "programme version applied");
            axum::Json(json!({
                "version": version,
                "digest": digest,
                "effective": effective.to_string(),
            }))
            .into_response()
        }
        Ok(Err(not_applied)) => not_applied.response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            format!("checking the programme failed: {error}"),
        ),
    }
}
