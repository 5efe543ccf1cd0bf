//! Signing in to `/finance` from a browser, which can't send `Authorization: Bearer`.
//!
//! The clerk pastes their key into a form once; the key goes into a cookie that only `/finance`
//! paths receive (`Path=/finance`), that scripts can't read (`HttpOnly`) and that no other site
//! can make the browser send (`SameSite=Strict`, which also keeps the resolve form safe from
//! cross-site posts). The gate (`api::auth::gate`) reads the cookie on `/finance` paths only and
//! checks it exactly as it checks a bearer header: revoking the key signs the browser out.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::ApiState;
use crate::api::auth::now_unix_s;

/// The cookie that carries a `/finance` key.
pub const FINANCE_KEY_COOKIE: &str = "kanjo_key";
/// A pasted key longer than this is refused before it is checked (tokens are far shorter).
const LOGIN_TOKEN_BYTES_MAX: usize = 256;

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// The bearer text of a `/finance` request that came with the key cookie and no header.
pub fn bearer_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FINANCE_KEY_COOKIE)
        .map(|(_, token)| format!("Bearer {token}"))
}

pub async fn get_login() -> Response {
    page(StatusCode::OK, "")
}

pub async fn post_login(
    State(state): State<Arc<ApiState>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    let visible_ascii = token.bytes().all(|byte| byte.is_ascii_graphic());
    if token.is_empty() || token.len() > LOGIN_TOKEN_BYTES_MAX || !visible_ascii {
        return page(
            StatusCode::UNAUTHORIZED,
            "鍵の形が正しくありません (not a key)",
        );
    }
    let bearer = format!("Bearer {token}");
    match state
        .engine
        .auth()
        .authenticate(Some(&bearer), now_unix_s())
    {
        Ok(_) => {
            let cookie =
                format!("{FINANCE_KEY_COOKIE}={token}; Path=/finance; HttpOnly; SameSite=Strict");
            let mut response =
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/finance")]).into_response();
            let value = HeaderValue::from_str(&cookie).expect("visible ASCII checked above");
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(error) => page(
            StatusCode::UNAUTHORIZED,
            &format!("この鍵では入れません (refused): {error}"),
        ),
    }
}

fn page(status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=alert>{}</p>", crate::finance_page::escape(message))
    };
    let body = format!(
        "<!doctype html><html lang=ja><head><meta charset=utf-8><title>財務 ログイン — kanjo</title></head>\
         <body><h1>財務 <small>Finance</small> ログイン (sign in)</h1>{message}\
         <form method=post action=/finance/login><label>鍵 (API key) \
         <input name=token type=password autocomplete=off required></label> \
         <button type=submit>ログイン</button></form></body></html>"
    );
    (status, Html(body)).into_response()
}
