//! kanjo over HTTP: `POST /v1/events` (NDJSON) to a running `kanjo serve` on loopback, through
//! kanjo's one HTTP client (`kanjo_engine::client`: pooled keep-alive connections, so each lane
//! keeps one).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use kanjo_core::event::Event;
use kanjo_engine::client::{HttpClient, HttpResponse};
use kanjo_workload::RiderRecord;
use serde_json::Value;

use crate::target::{Answer, Target};

/// Total time one batch may spend waiting out 429s before the run fails.
const BACKPRESSURE_WAIT_MS_MAX: u64 = 30_000;
const BACKPRESSURE_PAUSE_MS: u64 = 2;
/// Total time one batch may spend waiting out 503 `recovering` (the server reconnecting to its
/// store) before the run fails.
const RECOVERING_WAIT_MS_MAX: u64 = 120_000;
const RECOVERING_PAUSE_MS: u64 = 20;
const IO_TIMEOUT_S: u64 = 120;
pub const RIDERS_PER_REQUEST_MAX: usize = 8_000;

pub struct Http {
    address: SocketAddr,
    authority: String,
    client: HttpClient,
}

/// Parses `http://HOST:PORT` and refuses anything that is not loopback.
pub fn loopback_address(url: &str) -> Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must be http://127.0.0.1:PORT, not {url:?}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority:?}"))?
        .next()
        .ok_or_else(|| anyhow!("{authority:?} resolves to nothing"))?;
    if !address.ip().is_loopback() {
        bail!("refusing to load {authority}: kanjo-load only targets loopback");
    }
    Ok((address, authority.to_owned()))
}

impl Http {
    /// A client for the server at `url`; concurrent lanes share its connection pool.
    pub fn connect(url: &str) -> Result<Http> {
        let (address, _) = loopback_address(url)?;
        let http = Http {
            address,
            // The resolved address, so every connection goes where the loopback check looked.
            authority: address.to_string(),
            client: HttpClient::new(Duration::from_secs(IO_TIMEOUT_S))?,
        };
        let health = http.request("GET", "/healthz", Vec::new())?;
        if health.status != 200 {
            bail!("{url}/healthz answered {}", health.status);
        }
        Ok(http)
    }

    fn request(&self, method: &str, path: &str, body: Vec<u8>) -> Result<HttpResponse> {
        Ok(self
            .client
            .request(&self.authority, method, path, "application/x-ndjson", body)?)
    }

    pub fn register_riders(&self, records: &[RiderRecord]) -> Result<()> {
        for chunk in records.chunks(RIDERS_PER_REQUEST_MAX) {
            let mut body = Vec::new();
            for record in chunk {
                serde_json::to_writer(&mut body, record)?;
                body.push(b'\n');
            }
            let response = self.request("POST", "/v1/riders", body)?;
            if response.status != 200 {
                bail!(
                    "POST /v1/riders answered {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                );
            }
            let value: Value =
                serde_json::from_slice(&response.body).context("the riders answer is not JSON")?;
            let results = value["results"]
                .as_array()
                .ok_or_else(|| anyhow!("no results in the riders answer"))?;
            if let Some(refused) = results.iter().find(|result| result["status"] != "accepted") {
                bail!("a rider was refused: {refused}");
            }
        }
        Ok(())
    }
}

/// The `error.code` of an error answer.
fn response_code(response: &HttpResponse) -> Option<String> {
    let value: Value = serde_json::from_slice(&response.body).ok()?;
    value["error"]["code"].as_str().map(str::to_owned)
}

impl Target for Http {
    fn name(&self) -> String {
        format!("kanjo (HTTP {})", self.address)
    }

    fn store(&self) -> String {
        "the server's".to_owned()
    }

    fn submit(&self, _lane: usize, events: &[Event]) -> Result<Vec<Answer>> {
        let mut body = Vec::with_capacity(events.len() * 256);
        for event in events {
            body.extend_from_slice(event.canonical_json().as_bytes());
            body.push(b'\n');
        }
        let mut waited_ms = 0;
        let mut recovering_ms = 0;
        let response = loop {
            let response = self.request("POST", "/v1/events", body.clone())?;
            // Back-pressure: wait and resend; the wait counts in the batch's latency.
            if response.status == 429 && waited_ms < BACKPRESSURE_WAIT_MS_MAX {
                std::thread::sleep(Duration::from_millis(BACKPRESSURE_PAUSE_MS));
                waited_ms += BACKPRESSURE_PAUSE_MS;
                continue;
            }
            // The server is reconnecting to its store; the batch was not taken, so resend it.
            if response.status == 503
                && recovering_ms < RECOVERING_WAIT_MS_MAX
                && response_code(&response).as_deref() == Some("recovering")
            {
                std::thread::sleep(Duration::from_millis(RECOVERING_PAUSE_MS));
                recovering_ms += RECOVERING_PAUSE_MS;
                continue;
            }
            break response;
        };
        if response.status != 200 {
            bail!(
                "POST /v1/events answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        let value: Value =
            serde_json::from_slice(&response.body).context("the events answer is not JSON")?;
        let results = value["results"]
            .as_array()
            .ok_or_else(|| anyhow!("no results in the events answer"))?;
        Ok(results
            .iter()
            .map(|result| Answer {
                id: result["id"].as_str().unwrap_or_default().to_owned(),
                accepted: result["status"] == "accepted",
                code: result["error"]["code"].as_str().map(str::to_owned),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert!(loopback_address("http://127.0.0.1:8080").is_ok());
        assert!(loopback_address("http://[::1]:8080").is_ok());
        assert!(loopback_address("http://10.0.0.1:8080").is_err());
        assert!(loopback_address("https://127.0.0.1:8080").is_err());
    }
}
