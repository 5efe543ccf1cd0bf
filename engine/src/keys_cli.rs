//! `kanjo keys create | list | revoke`: API keys.
//!
//! Two ways, for the log has one writer:
//! - **on the store** (`--data` / `--database-url`, no server running): the change goes through an
//!   engine started here, like `kanjo import`. This is how the first town-admin key is made.
//!   `list` reads the store read-only, so it also works beside a running server.
//! - **through a running server** (`--server 127.0.0.1:8080`, a town-admin token in
//!   `KANJO_TOKEN`): `POST /v1/keys`, `GET /v1/keys`, `POST /v1/keys/{id}/revoke`. The server's own
//!   pipeline logs the change and applies it to its key book, so it takes effect at once.
//!
//! The token is printed once, on stdout; only its SHA-256 is stored.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kanjo_auth::{KeyChange, KeyId, Role};
use kanjo_engine::api::auth::key_json;
use kanjo_engine::client::HttpClient;
use kanjo_engine::pipeline::Engine;
use serde_json::{Value, json};

use crate::EngineArgs;

/// The environment variable holding the token `--server` sends.
pub const TOKEN_ENV: &str = "KANJO_TOKEN";
const HTTP_TIMEOUT_S: u64 = 30;

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a key and print its bearer token (once: kanjo keeps only its SHA-256).
    Create(CreateArgs),
    /// Every key: id, role, dates, revocation (never a token).
    List(Where),
    /// Revoke a key by its id; refused from the next request on.
    Revoke(RevokeArgs),
}

#[derive(Args)]
struct Where {
    #[command(flatten)]
    engine: EngineArgs,
    /// A running kanjo (host:port) to ask instead of the store, with a town-admin token in
    /// KANJO_TOKEN.
    #[arg(long)]
    server: Option<String>,
}

#[derive(Args)]
struct CreateArgs {
    #[command(flatten)]
    at: Where,
    /// operator, shop, bank, election-office, town-admin, clerk or auditor (or the whole role
    /// text, such as operator:donan-bus).
    #[arg(long)]
    role: String,
    #[arg(long, conflicts_with_all = ["shop", "bank", "stations"])]
    operator: Option<String>,
    #[arg(long, conflicts_with_all = ["operator", "bank", "stations"])]
    shop: Option<String>,
    #[arg(long, conflicts_with_all = ["operator", "shop", "stations"])]
    bank: Option<String>,
    /// Polling stations, comma-separated (election-office).
    #[arg(long, conflicts_with_all = ["operator", "shop", "bank"])]
    stations: Option<String>,
    /// Valid through this day (YYYY-MM-DD, Japan time) or instant (RFC 3339).
    #[arg(long)]
    expires: Option<String>,
}

#[derive(Args)]
struct RevokeArgs {
    #[command(flatten)]
    at: Where,
    /// The key id: 16 hex digits (the part after `kjo_` in the token).
    id: String,
}

impl CreateArgs {
    /// The role's text form from `--role` and its party flag.
    fn role_text(&self) -> anyhow::Result<String> {
        let party = [
            ("operator", &self.operator),
            ("shop", &self.shop),
            ("bank", &self.bank),
            ("election-office", &self.stations),
        ];
        let needed = party.iter().find(|(kind, _)| *kind == self.role);
        match (needed, party.iter().find(|(_, value)| value.is_some())) {
            (Some((kind, Some(name))), _) => Ok(format!("{kind}:{name}")),
            (Some((kind, None)), _) => {
                let flag = if *kind == "election-office" {
                    "stations"
                } else {
                    kind
                };
                bail!("--role {kind} needs --{flag}")
            }
            (None, Some((kind, _))) => bail!("--{kind} goes with --role {kind} only"),
            (None, None) => Ok(self.role.clone()),
        }
    }
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Create(create) => {
            let role_text = create.role_text()?;
            let answer = match &create.at.server {
                Some(server) => {
                    let mut body = json!({"role": role_text});
                    if let Some(expires) = &create.expires {
                        body["expires"] = json!(expires);
                    }
                    call(server, "POST", "/v1/keys", &body.to_string())?
                }
                None => create_on_store(&create.at.engine, &role_text, create.expires.as_deref())?,
            };
            let token = answer["token"]
                .as_str()
                .context("the answer holds no token")?;
            eprintln!(
                "kanjo: key {} ({}) made; its token follows, shown this once: keep it secret",
                answer["key_id"].as_str().unwrap_or("?"),
                answer["role"].as_str().unwrap_or("?"),
            );
            println!("{token}");
            Ok(())
        }
        KeysCommand::List(at) => {
            let keys = match &at.server {
                Some(server) => call(server, "GET", "/v1/keys", "")?["keys"].clone(),
                None => {
                    let engine = at.engine.start_read_only()?;
                    let keys: Vec<Value> = engine.auth().records().iter().map(key_json).collect();
                    engine.shutdown();
                    Value::Array(keys)
                }
            };
            for key in keys.as_array().into_iter().flatten() {
                println!("{key}");
            }
            Ok(())
        }
        KeysCommand::Revoke(revoke) => {
            let key_id = KeyId::parse(&revoke.id)?;
            let answer = match &revoke.at.server {
                Some(server) => call(server, "POST", &format!("/v1/keys/{key_id}/revoke"), "")?,
                None => revoke_on_store(&revoke.at.engine, key_id)?,
            };
            println!("{answer}");
            Ok(())
        }
    }
}

fn create_on_store(
    engine_args: &EngineArgs,
    role_text: &str,
    expires: Option<&str>,
) -> anyhow::Result<Value> {
    let role = Role::parse(role_text)?;
    let expires_at_unix_s = expires
        .map(kanjo_engine::auth_layer::parse_expiry)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let now_unix_s = jiff::Timestamp::now().as_second().max(0) as u64;
    let new_key = kanjo_auth::generate_token(role, now_unix_s, expires_at_unix_s)?;
    let engine = start_writer(engine_args)?;
    let applied = apply(
        &engine,
        KeyChange::Create {
            key: new_key.record.clone(),
        },
    );
    engine.shutdown();
    applied?;
    let mut answer = key_json(&new_key.record);
    answer["token"] = json!(new_key.token.expose());
    Ok(answer)
}

fn revoke_on_store(engine_args: &EngineArgs, key_id: KeyId) -> anyhow::Result<Value> {
    let engine = start_writer(engine_args)?;
    let change = KeyChange::Revoke {
        key_id,
        at_unix_s: jiff::Timestamp::now().as_second().max(0) as u64,
    };
    let applied = apply(&engine, change);
    let record = engine.auth().key(key_id);
    engine.shutdown();
    applied?;
    Ok(record.map_or(Value::Null, |record| key_json(&record)))
}

fn start_writer(engine_args: &EngineArgs) -> anyhow::Result<Engine> {
    engine_args.start().context(
        "a running server holds the store: use --server HOST:PORT with a town-admin token in KANJO_TOKEN",
    )
}

fn apply(engine: &Engine, change: KeyChange) -> anyhow::Result<()> {
    engine.auth().check_change(&change)?;
    let results = engine
        .submit_key_changes(vec![change])?
        .blocking_recv()
        .context("the pipeline ended")??;
    results.into_iter().next().context("one result")??;
    Ok(())
}

fn call(server: &str, method: &str, path: &str, body: &str) -> anyhow::Result<Value> {
    let token = std::env::var(TOKEN_ENV)
        .with_context(|| format!("--server needs a town-admin token in {TOKEN_ENV}"))?;
    let client = HttpClient::new(Duration::from_secs(HTTP_TIMEOUT_S))?;
    let response = client.request_with_token(
        server,
        method,
        path,
        "application/json",
        body.as_bytes().to_vec(),
        Some(&token),
    )?;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if !(200..300).contains(&response.status) {
        bail!("{method} {path}: {} {text}", response.status);
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
}
