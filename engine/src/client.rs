//! A blocking HTTP/1.1 client for kanjo's API: the engine's tests and the load test's HTTP target
//! both talk to `kanjo serve` through it. It is hyper-util's pooled client (keep-alive,
//! Content-Length and chunked bodies, a retry when a reused connection turns out closed) on a
//! small runtime of its own, so callers on plain threads can block on it.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

/// Largest response body read; a larger one is an error, not an allocation.
pub const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Threads driving the connections; callers block on their own threads.
const RUNTIME_THREADS: usize = 2;
/// Idle keep-alive connections kept per server (one per concurrent caller is enough).
const IDLE_CONNECTIONS_PER_HOST_MAX: usize = 256;

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("{method} {uri}: not a valid request: {message}")]
    BadRequest {
        method: String,
        uri: String,
        message: String,
    },
    /// No complete response arrived: the server may or may not have acted on the request.
    #[error("{method} {uri}: {source}")]
    Exchange {
        method: String,
        uri: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error("{method} {uri}: reading the response body: {message}")]
    Body {
        method: String,
        uri: String,
        message: String,
    },
    #[error("{method} {uri}: no complete response within {timeout_ms} ms")]
    Timeout {
        method: String,
        uri: String,
        timeout_ms: u128,
    },
    #[error("starting the HTTP client's runtime: {0}")]
    Runtime(std::io::Error),
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub struct HttpClient {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl HttpClient {
    /// A client whose every exchange (connect, send, whole response) takes at most `timeout`.
    pub fn new(timeout: Duration) -> Result<HttpClient, HttpError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("kanjo-http-client")
            .enable_all()
            .build()
            .map_err(HttpError::Runtime)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST_MAX)
            .build(connector);
        Ok(HttpClient {
            runtime,
            client,
            timeout,
        })
    }

    /// One exchange with `http://{authority}{path}`, blocking until the whole body arrived.
    pub fn request(
        &self,
        authority: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, HttpError> {
        self.request_with_token(authority, method, path, content_type, body, None)
    }

    /// `request` with `Authorization: Bearer {token}` when a token is given.
    pub fn request_with_token(
        &self,
        authority: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        bearer_token: Option<&str>,
    ) -> Result<HttpResponse, HttpError> {
        let uri = format!("http://{authority}{path}");
        let bad_request = |message: String| HttpError::BadRequest {
            method: method.to_owned(),
            uri: uri.clone(),
            message,
        };
        let parsed_method = Method::from_bytes(method.as_bytes())
            .map_err(|error| bad_request(error.to_string()))?;
        let mut builder = Request::builder()
            .method(parsed_method)
            .uri(&uri)
            .header(CONTENT_TYPE, content_type);
        if let Some(token) = bearer_token {
            builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| bad_request(error.to_string()))?;
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|source| HttpError::Exchange {
                        method: method.to_owned(),
                        uri: uri.clone(),
                        source,
                    })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, RESPONSE_BYTES_MAX)
                .collect()
                .await
                .map_err(|error| HttpError::Body {
                    method: method.to_owned(),
                    uri: uri.clone(),
                    message: error.to_string(),
                })?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers,
                body: body.to_vec(),
            })
        };
        self.runtime.block_on(async {
            tokio::time::timeout(self.timeout, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(HttpError::Timeout {
                        method: method.to_owned(),
                        uri: uri.clone(),
                        timeout_ms: self.timeout.as_millis(),
                    })
                })
        })
    }
}
