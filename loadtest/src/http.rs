//! kanjo over HTTP: `POST /v1/events` (NDJSON) to a running `kanjo serve` on loopback, one
//! keep-alive connection per lane. A minimal HTTP/1.1 client (Content-Length or chunked bodies)
//! is enough for a loopback benchmark and keeps the dependency list short.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use kanjo_core::event::Event;
use kanjo_workload::RiderRecord;
use serde_json::Value;

use crate::target::{Answer, Target};

pub const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
const HEADER_LINES_MAX: usize = 100;
/// Total time one batch may spend waiting out 429s before the run fails.
const BACKPRESSURE_WAIT_MS_MAX: u64 = 30_000;
const BACKPRESSURE_PAUSE_MS: u64 = 2;
const IO_TIMEOUT_S: u64 = 120;
pub const RIDERS_PER_REQUEST_MAX: usize = 8_000;

pub struct Http {
    address: SocketAddr,
    host_header: String,
    lanes: Vec<Mutex<Option<BufReader<TcpStream>>>>,
}

struct Response {
    status: u16,
    body: Vec<u8>,
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
    pub fn connect(url: &str, lanes: usize) -> Result<Http> {
        let (address, host_header) = loopback_address(url)?;
        let http = Http {
            address,
            host_header,
            lanes: (0..lanes.max(1)).map(|_| Mutex::new(None)).collect(),
        };
        let health = http.request(0, "GET", "/healthz", b"")?;
        if health.status != 200 {
            bail!("{url}/healthz answered {}", health.status);
        }
        Ok(http)
    }

    fn request(&self, lane: usize, method: &str, path: &str, body: &[u8]) -> Result<Response> {
        let mut slot = self.lanes[lane % self.lanes.len()]
            .lock()
            .map_err(|_| anyhow!("an HTTP lane panicked earlier"))?;
        // One retry on a fresh connection: the server may have closed an idle keep-alive one.
        for attempt in 0..2 {
            if slot.is_none() {
                let stream = TcpStream::connect(self.address)
                    .with_context(|| format!("connecting to {}", self.address))?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(Duration::from_secs(IO_TIMEOUT_S)))?;
                stream.set_write_timeout(Some(Duration::from_secs(IO_TIMEOUT_S)))?;
                *slot = Some(BufReader::new(stream));
            }
            let reader = slot.as_mut().expect("connected just above");
            match exchange(reader, &self.host_header, method, path, body) {
                Ok(response) => return Ok(response),
                Err(error) if attempt == 0 && reused_connection_closed(&error) => *slot = None,
                Err(error) => {
                    *slot = None;
                    return Err(error);
                }
            }
        }
        bail!("{method} {path}: the connection kept closing")
    }

    pub fn register_riders(&self, records: &[RiderRecord]) -> Result<()> {
        for chunk in records.chunks(RIDERS_PER_REQUEST_MAX) {
            let mut body = Vec::new();
            for record in chunk {
                serde_json::to_writer(&mut body, record)?;
                body.push(b'\n');
            }
            let response = self.request(0, "POST", "/v1/riders", &body)?;
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

fn reused_connection_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            )
        })
    })
}

fn exchange(
    reader: &mut BufReader<TcpStream>,
    host: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Response> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let stream = reader.get_mut();
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for _ in 0..HEADER_LINES_MAX {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            content_length = Some(value.parse().context("bad Content-Length")?);
        } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .context("bad chunk size")?;
            if body.len() + size > RESPONSE_BYTES_MAX {
                bail!("response larger than {RESPONSE_BYTES_MAX} bytes");
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else {
        let length = content_length.ok_or_else(|| anyhow!("response without Content-Length"))?;
        if length > RESPONSE_BYTES_MAX {
            bail!("response larger than {RESPONSE_BYTES_MAX} bytes");
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Response { status, body })
}

impl Target for Http {
    fn name(&self) -> String {
        format!("kanjo (HTTP {})", self.address)
    }

    fn store(&self) -> String {
        "the server's".to_owned()
    }

    fn submit(&self, lane: usize, events: &[Event]) -> Result<Vec<Answer>> {
        let mut body = Vec::with_capacity(events.len() * 256);
        for event in events {
            body.extend_from_slice(event.canonical_json().as_bytes());
            body.push(b'\n');
        }
        let mut waited_ms = 0;
        let response = loop {
            let response = self.request(lane, "POST", "/v1/events", &body)?;
            // Back-pressure: wait and resend; the wait counts in the batch's latency.
            if response.status == 429 && waited_ms < BACKPRESSURE_WAIT_MS_MAX {
                std::thread::sleep(Duration::from_millis(BACKPRESSURE_PAUSE_MS));
                waited_ms += BACKPRESSURE_PAUSE_MS;
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
