//! Programme versions in the shell (issue 12): `kanjo programme apply FILE --effective T`.
//!
//! A version is validated completely before it is logged: its source compiles, its engine
//! sections (`[[assets]]`, `[[shops]]`, `[payments]`, `[[conversions]]`, ...) are the store's
//! first programme's, and the machine finds that it keeps the books (`Machine::check_version`).
//! Its whole source is then stored under its digest, and the version is logged as one entry
//! `{digest, effective}` through the same pipeline as every other input, so a replay rates every
//! ride with the version in effect at its time, from the stored source, whatever the files on
//! disk became.

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
/// programme and its asset book.
#[derive(Clone, Debug)]
pub struct VersionItem {
    pub entry: VersionEntry,
    pub text: String,
    pub programme: Arc<Programme>,
    pub assets: AssetBook,
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
) -> Result<(VersionItem, ProgrammeSource), ApplyError> {
    let (source, programme) =
        ProgrammeSource::read(path).map_err(|error| ApplyError::Source(error.to_string()))?;
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
    let assets = asset_book(path, &source.toml, &programme).map_err(ApplyError::Source)?;
    let entry = VersionEntry::new(programme.source_digest(), effective);
    Ok((VersionItem::new(entry, programme, assets), source))
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

/// `kanjo programme apply`: validates the version fully, stores its source, logs it, and
/// returns its number. The same file at the same instant again is the same version.
pub fn apply(config: EngineConfig, path: &Path, effective: Timestamp) -> Result<u32, ApplyError> {
    let first_toml = std::fs::read_to_string(&config.programme)
        .map_err(|error| ApplyError::Source(format!("{}: {error}", config.programme.display())))?;
    let (item, source) = read_version(path, effective, &first_toml)?;
    let engine = Engine::start(config.clone())?;
    let check = item.clone();
    let checked = engine
        .query_blocking(move |machine| {
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
        })
        .map_err(ApplyError::Submit)?;
    if let Some(number) = checked? {
        engine.shutdown();
        return Ok(number);
    }
    // The source is durable before the entry that names it (an unused source is harmless).
    let mut store = kanjo_store::open(&config.store)?;
    store.put_source(&item.entry.digest, &source.to_bytes())?;
    drop(store);
    let digest = item.entry.digest.clone();
    let receiver = engine.submit_programmes(vec![item])?;
    let results = receiver
        .blocking_recv()
        .map_err(|_| crate::pipeline::SubmitError::Stopped("the engine stopped".into()))??;
    if let Some(Err(message)) = results.into_iter().next() {
        engine.shutdown();
        return Err(ApplyError::Source(message));
    }
    let number = engine
        .query_blocking(move |machine| {
            machine
                .versions()
                .iter()
                .rev()
                .find(|v| format!("{:032x}", v.digest) == digest)
                .map(|v| v.number)
        })
        .map_err(ApplyError::Submit)?
        .expect("the version was just applied");
    engine.shutdown();
    Ok(number)
}
