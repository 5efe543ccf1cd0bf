//! Programme versions in the shell (issue 12): `kanjo programme apply FILE --effective T`.
//!
//! A version is validated completely before it is logged: its source compiles, its engine
//! sections (`[[assets]]`, `[[shops]]`, `[payments]`, `[[conversions]]`, ...) are the store's
//! first programme's, and the machine finds that it keeps the books (`Machine::check_version`).
//! The version travels through the same pipeline as every other input with its whole source;
//! the commit thread keeps the source under its digest before the record whose entry
//! `{digest, effective}` names it, so a replay rates every ride with the version in effect at
//! its time, from the stored source, whatever the files on disk became. The same path serves
//! `POST /v1/programme` (`api::programme`) and `apply --server`, which packs the files and posts
//! them to a running server.

use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use kanjo_core::chart::{AssetBook, AssetSection};
use kanjo_core::machine::{VersionEntry, VersionRefusal};
use kanjo_rules::{Programme, ProgrammeSource};
use kanjo_store::{LogEntry, Store};

use crate::pipeline::{Engine, EngineConfig};

/// Top-level tables a version may change; every other table must stay as in the store's first
/// programme (the machine keeps that programme's asset book, shops and passes).
const VERSIONED_TABLES: [&str; 4] = ["fare_tables", "budgets", "rules", "attributes"];

/// One version ready for the machine: its entry, the entry's canonical text, the compiled
/// programme and its asset book, and (live, not on replay) its source to keep.
#[derive(Clone, Debug)]
pub struct VersionItem {
    pub entry: VersionEntry,
    pub text: String,
    pub programme: Arc<Programme>,
    pub assets: AssetBook,
    /// `ProgrammeSource::to_bytes`, kept under the digest before the entry is logged.
    pub source: Option<Arc<Vec<u8>>>,
}

impl VersionItem {
    pub fn entry_id(&self) -> String {
        self.entry.entry_id()
    }

    fn new(entry: VersionEntry, programme: Programme, assets: AssetBook) -> VersionItem {
        VersionItem {
            text: entry.canonical_json(),
            entry,
            programme: Arc::new(programme),
            assets,
            source: None,
        }
    }
}

/// Why a version was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Source(String),
    #[error("refused, nothing logged: {0}")]
    Refused(#[from] VersionRefusal),
    /// Refused by the machine after the check passed (an event rated in between).
    #[error("refused, nothing logged: {0}")]
    RefusedOnApply(String),
    #[error(transparent)]
    Store(#[from] kanjo_store::StoreError),
    #[error(transparent)]
    Start(#[from] crate::pipeline::StartError),
    #[error(transparent)]
    Submit(#[from] crate::pipeline::SubmitError),
}

/// The asset book of a programme's text, as the engine reads it at start.
fn asset_book(path: &Path, toml: &str, programme: &Programme) -> Result<AssetBook, String> {
    let section: AssetSection = toml::from_str(toml).map_err(|error| error.to_string())?;
    let granted: Vec<&str> = programme.assets().map(|(_, code)| code).collect();
    AssetBook::from_section(&path.display().to_string(), section, &granted)
        .map_err(|error| error.to_string())
}

/// The first top-level table outside `VERSIONED_TABLES` that differs between two programmes.
pub fn engine_section_change(first: &str, next: &str) -> Result<Option<String>, String> {
    let parse = |text: &str| {
        text.parse::<toml::Table>()
            .map_err(|error| error.to_string())
    };
    let (first, next) = (parse(first)?, parse(next)?);
    let mut keys: Vec<&String> = first.keys().chain(next.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter(|key| !VERSIONED_TABLES.contains(&key.as_str()) && key.as_str() != "town")
        .find(|key| first.get(*key) != next.get(*key))
        .cloned())
}

/// Reads a new version's files and checks what needs no books: it compiles, and its engine
/// sections are those of the store's first programme (`first_toml`).
pub fn read_version(
    path: &Path,
    effective: Timestamp,
    first_toml: &str,
) -> Result<VersionItem, ApplyError> {
    let (source, programme) =
        ProgrammeSource::read(path).map_err(|error| ApplyError::Source(error.to_string()))?;
    source_version(source, programme, effective, first_toml)
}

/// `read_version` for a source already read (or unpacked from `POST /v1/programme`).
pub fn source_version(
    source: ProgrammeSource,
    programme: Programme,
    effective: Timestamp,
    first_toml: &str,
) -> Result<VersionItem, ApplyError> {
    if let Some(table) =
        engine_section_change(first_toml, &source.toml).map_err(ApplyError::Source)?
    {
        return Err(ApplyError::Refused(VersionRefusal {
            key: table,
            problem: format!(
                "differs from the store's first programme; a version changes only {}",
                VERSIONED_TABLES.join(", ")
            ),
        }));
    }
    let assets = asset_book(&source.path, &source.toml, &programme).map_err(ApplyError::Source)?;
    let entry = VersionEntry::new(programme.source_digest(), effective);
    let mut item = VersionItem::new(entry, programme, assets);
    item.source = Some(Arc::new(source.to_bytes()));
    Ok(item)
}

/// Replay: the version an entry names, compiled from the stored source.
pub fn decode_version(store: &mut dyn Store, entry: &LogEntry) -> Result<VersionItem, String> {
    let text = std::str::from_utf8(&entry.body).map_err(|error| error.to_string())?;
    let version = VersionEntry::parse(text).map_err(|error| format!("{}: {error}", entry.id))?;
    let bytes = store
        .source(&version.digest)
        .map_err(|error| error.to_string())?
        .ok_or_else(|| {
            format!(
                "programme version {}: the store has no source with digest {}",
                entry.id, version.digest
            )
        })?;
    let source = ProgrammeSource::from_bytes(&bytes)?;
    let programme = source.compile().map_err(|error| error.to_string())?;
    if Ok(programme.source_digest()) != version.digest_value() {
        return Err(format!(
            "programme version {}: the stored source compiles to digest {:032x}, not {}",
            entry.id,
            programme.source_digest(),
            version.digest
        ));
    }
    let assets = asset_book(&source.path, &source.toml, &programme)?;
    Ok(VersionItem::new(version, programme, assets))
}

/// `kanjo programme apply`: validates the version fully, logs it with its source, and returns
/// its number. The same file at the same instant again is the same version.
pub fn apply(config: EngineConfig, path: &Path, effective: Timestamp) -> Result<u32, ApplyError> {
    let first_toml = std::fs::read_to_string(&config.programme)
        .map_err(|error| ApplyError::Source(format!("{}: {error}", config.programme.display())))?;
    let item = read_version(path, effective, &first_toml)?;
    let engine = Engine::start(config)?;
    let applied = apply_on(&engine, item);
    engine.shutdown();
    applied
}

/// The version's number if the machine has it already, else `None` once it checked that the
/// version keeps the books.
pub fn check_on(engine: &Engine, item: &VersionItem) -> Result<Option<u32>, ApplyError> {
    let check = item.clone();
    let checked = engine.query_blocking(move |machine| {
        let known = machine.versions().iter().find(|v| {
            Ok(v.digest) == check.entry.digest_value()
                && Ok(v.effective_ns) == check.entry.effective_ns()
        });
        match known {
            Some(version) => Ok(Some(version.number)),
            None => machine
                .check_version(&check.entry, &check.programme, &check.assets)
                .map(|()| None),
        }
    })?;
    Ok(checked?)
}

/// Checks a version on a running engine and logs it (with its source) unless it is known:
/// its number. Blocking: the CLI, and `api::programme` on a blocking thread.
pub fn apply_on(engine: &Engine, item: VersionItem) -> Result<u32, ApplyError> {
    if let Some(number) = check_on(engine, &item)? {
        return Ok(number);
    }
    let entry = item.entry.clone();
    let results = engine
        .submit_programmes(vec![item])?
        .blocking_recv()
        .map_err(|_| crate::pipeline::SubmitError::Stopped("the engine stopped".into()))??;
    if let Some(Err(message)) = results.into_iter().next() {
        // Refused on the machine thread after the check: something was rated in between.
        return Err(ApplyError::RefusedOnApply(message));
    }
    let number = engine.query_blocking(move |machine| {
        machine
            .versions()
            .iter()
            .find(|v| {
                Ok(v.digest) == entry.digest_value() && Ok(v.effective_ns) == entry.effective_ns()
            })
            .map(|v| v.number)
    })?;
    number.ok_or_else(|| {
        ApplyError::Source("the version was applied but the machine does not list it".into())
    })
}

/// What `POST /v1/programme` answers.
#[derive(Debug, serde::Deserialize)]
pub struct AppliedVersion {
    pub version: u32,
    pub digest: String,
    pub effective: String,
}

/// The environment variable holding the token `--server` sends (as `kanjo keys --server`).
const TOKEN_ENV: &str = "KANJO_TOKEN";
/// A whole source may take a while to upload and compile.
const REMOTE_TIMEOUT_S: u64 = 600;

/// `kanjo programme apply --server`: packs the programme and the GTFS files it names (checked
/// here first, so a broken file is found before the upload), and posts them to a running
/// server with the town-admin token in `KANJO_TOKEN`.
pub fn apply_remote(
    server: &str,
    path: &Path,
    effective: Timestamp,
) -> anyhow::Result<AppliedVersion> {
    use anyhow::Context;
    let token = std::env::var(TOKEN_ENV)
        .with_context(|| format!("--server needs a town-admin token in {TOKEN_ENV}"))?;
    let (packed, _) = kanjo_rules::programme::PackedSource::read(path)?;
    let body = serde_json::json!({
        "effective": effective.to_string(),
        "programme": packed.programme,
        "files": packed.files,
    });
    let client = crate::client::HttpClient::new(std::time::Duration::from_secs(REMOTE_TIMEOUT_S))?;
    let authority = server.trim_start_matches("http://").trim_end_matches('/');
    let response = client.request_with_token(
        authority,
        "POST",
        "/v1/programme",
        "application/json",
        serde_json::to_vec(&body)?,
        Some(&token),
    )?;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if response.status != 200 {
        anyhow::bail!("POST /v1/programme: {} {text}", response.status);
    }
    serde_json::from_str(&text)
        .with_context(|| format!("POST /v1/programme: not the answer: {text}"))
}
