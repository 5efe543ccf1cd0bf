//! `kanjo serve --tls-cert FILE --tls-key FILE`: the real binary serves HTTPS with a self-signed
//! certificate made here (rcgen), a client that trusts exactly that certificate talks to it
//! (tokio-rustls under hyper), one that does not is refused, plain HTTP on the same port gets no
//! HTTP answer, and bad certificate or key files stop the server at startup with a message.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::{TempDir, admin_token_on_store, kanjo_bin, programme_path};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};

const START_TIMEOUT_MS: u64 = 30_000;
const EXIT_TIMEOUT_MS: u64 = 30_000;

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM files in `dir`.
struct SelfSigned {
    der: CertificateDer<'static>,
    cert_path: String,
    key_path: String,
}

fn self_signed(dir: &TempDir, name: &str) -> SelfSigned {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a self-signed certificate");
    let cert_path = dir.join(&format!("{name}.crt"));
    let key_path = dir.join(&format!("{name}.key"));
    std::fs::write(&cert_path, made.cert.pem()).unwrap();
    std::fs::write(&key_path, made.signing_key.serialize_pem()).unwrap();
    SelfSigned {
        der: made.cert.der().clone(),
        cert_path: cert_path.to_str().unwrap().to_owned(),
        key_path: key_path.to_str().unwrap().to_owned(),
    }
}

/// `kanjo serve` with these extra arguments; its address once it says `serving on https://`.
struct HttpsServer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_command(data: &str, tls_args: &[&str]) -> Command {
    let mut command = Command::new(kanjo_bin());
    command
        .args(["serve", "--data", data, "--programme"])
        .arg(programme_path())
        .args(["--listen", "127.0.0.1:0"])
        .args(tls_args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn start_https(data: &str, cert: &SelfSigned) -> HttpsServer {
    let mut child = serve_command(
        data,
        &["--tls-cert", &cert.cert_path, "--tls-key", &cert.key_path],
    )
    .spawn()
    .expect("spawn kanjo serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("server: {line}");
            if let Some(rest) = line.split("serving on https://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_millis(START_TIMEOUT_MS))
        .expect("kanjo serve says it serves HTTPS")
        .parse()
        .expect("an address");
    HttpsServer { child, addr }
}

/// One HTTPS GET with a client whose only trusted root is `trusted`: the status and body, or
/// the error (a failed handshake among them).
async fn https_get(
    addr: SocketAddr,
    trusted: &[CertificateDer<'static>],
    path: &str,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in trusted {
        roots.add(certificate.clone()).map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::get(path).header("host", "localhost");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn serve_speaks_https_with_the_given_certificate_and_refuses_plain_http() {
    let dir = TempDir::new("tls");
    let data = dir.join("store");
    let data = data.to_str().unwrap();
    let admin = admin_token_on_store(&["--data", data]);
    let cert = self_signed(&dir, "server");
    let server = start_https(data, &cert);
    let runtime = runtime();

    let trusted = std::slice::from_ref(&cert.der);
    let health = runtime.block_on(https_get(server.addr, trusted, "/healthz", None));
    assert_eq!(
        health.as_ref().map(|(status, _)| *status),
        Ok(200),
        "{health:?}"
    );
    assert!(health.unwrap().1.contains("\"ok\""));
    // Keys and scopes work the same over TLS.
    let keys = runtime.block_on(https_get(server.addr, trusted, "/v1/keys", Some(&admin)));
    assert_eq!(
        keys.as_ref().map(|(status, _)| *status),
        Ok(200),
        "{keys:?}"
    );
    let anonymous = runtime.block_on(https_get(server.addr, trusted, "/v1/keys", None));
    assert_eq!(anonymous.map(|(status, _)| status), Ok(401));

    // A client that does not trust the certificate gets no answer: this is real TLS.
    let other = self_signed(&dir, "other");
    let untrusted = runtime.block_on(https_get(
        server.addr,
        std::slice::from_ref(&other.der),
        "/healthz",
        None,
    ));
    assert!(
        untrusted
            .as_ref()
            .is_err_and(|e| e.starts_with("handshake")),
        "an untrusted certificate must fail the handshake: {untrusted:?}"
    );

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = common::http_as(server.addr, None, "GET", "/healthz", None);
    assert!(
        plain.is_err(),
        "plain HTTP answered on the TLS port: {plain:?}"
    );

    // And the server still serves HTTPS after both.
    let again = runtime.block_on(https_get(server.addr, trusted, "/healthz", None));
    assert_eq!(again.map(|(status, _)| status), Ok(200));
}

/// Runs `kanjo serve` with these TLS arguments, which must make it exit: status and stderr.
fn refused_start(data: &str, tls_args: &[&str]) -> (Option<i32>, String) {
    let mut child = serve_command(data, tls_args)
        .spawn()
        .expect("spawn kanjo serve");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            return (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        if started.elapsed() > Duration::from_millis(EXIT_TIMEOUT_MS) {
            let _ = child.kill();
            panic!("kanjo serve {tls_args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_certificate_or_key_files_stop_the_server_with_a_clear_message() {
    let dir = TempDir::new("tls-bad");
    let data = dir.join("store");
    let data = data.to_str().unwrap();
    admin_token_on_store(&["--data", data]);
    let good = self_signed(&dir, "good");
    let other = self_signed(&dir, "other");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let junk = junk.to_str().unwrap();
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();

    let cases: [(&[&str], i32, &str); 6] = [
        (&["--tls-cert", &good.cert_path], 2, "--tls-key"),
        (&["--tls-key", &good.key_path], 2, "--tls-cert"),
        (
            &["--tls-cert", junk, "--tls-key", &good.key_path],
            1,
            "no PEM CERTIFICATE block",
        ),
        (
            &["--tls-cert", &good.cert_path, "--tls-key", junk],
            1,
            "no PEM PRIVATE KEY block",
        ),
        (
            &["--tls-cert", missing, "--tls-key", &good.key_path],
            1,
            "missing.pem",
        ),
        (
            &["--tls-cert", &good.cert_path, "--tls-key", &other.key_path],
            1,
            "do not go together",
        ),
    ];
    for (args, status, says) in cases {
        let (code, stderr) = refused_start(data, args);
        assert_eq!(code, Some(status), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?} should say {says:?}: {stderr}"
        );
        assert!(!stderr.contains("serving on"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_key_file_path_is_named_when_it_cannot_be_read() {
    let dir = TempDir::new("tls-path");
    let data = dir.join("store");
    let data = data.to_str().unwrap();
    admin_token_on_store(&["--data", data]);
    let good = self_signed(&dir, "good");
    let missing = Path::new(dir.path()).join("nowhere.key");
    let (code, stderr) = refused_start(
        data,
        &[
            "--tls-cert",
            &good.cert_path,
            "--tls-key",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("TLS key") && stderr.contains("nowhere.key"),
        "{stderr}"
    );
}
