//! A programme's whole source: its TOML and the GTFS files it names, as text. A programme
//! version keeps this in the store (content-addressed by `Programme::source_digest`), so the log
//! replays with exactly the fares and rules it was written with, even after the files on disk
//! moved or changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Programme, ProgrammeError};
use crate::gtfs::{GtfsError, GtfsFares, GtfsTexts};

/// Largest serialised source: the programme file and up to `MAX_OPERATORS` GTFS fare sets.
pub const PROGRAMME_SOURCE_BYTES_MAX: usize = 512 * 1024 * 1024;

/// Everything a programme compiles from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeSource {
    /// The file it was read from, for messages and relative GTFS folders.
    pub path: PathBuf,
    pub toml: String,
    /// Operator code → its GTFS fare files; flat-fare operators have none.
    pub gtfs: BTreeMap<String, GtfsTexts>,
}

impl ProgrammeSource {
    /// Reads a programme file and the GTFS files it names, and compiles it.
    pub fn read(path: &Path) -> Result<(ProgrammeSource, Programme), ProgrammeError> {
        let toml = super::read_programme_text(path)?;
        let mut gtfs = BTreeMap::new();
        let programme = Programme::from_toml_with(path, &toml, &mut |operator, dir| {
            let texts = GtfsFares::read_texts(dir)?;
            let fares = GtfsFares::from_texts(dir, &texts)?;
            gtfs.insert(operator.to_owned(), texts);
            Ok(fares)
        })?;
        let source = ProgrammeSource {
            path: path.to_path_buf(),
            toml,
            gtfs,
        };
        Ok((source, programme))
    }

    /// Compiles the source without reading any file; the same programme and digest as `read`.
    pub fn compile(&self) -> Result<Programme, ProgrammeError> {
        Programme::from_toml_with(&self.path, &self.toml, &mut |operator, dir| {
            let texts = self.gtfs.get(operator).ok_or_else(|| GtfsError {
                file: dir.to_path_buf(),
                line_no: None,
                problem: format!("the stored source has no GTFS files for `{operator}`"),
            })?;
            GtfsFares::from_texts(dir, texts)
        })
    }

    /// The stored form (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a source is plain strings")
    }

    /// Reads the stored form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProgrammeSource, String> {
        if bytes.len() > PROGRAMME_SOURCE_BYTES_MAX {
            return Err(format!(
                "a programme source of {} bytes; at most {PROGRAMME_SOURCE_BYTES_MAX}",
                bytes.len()
            ));
        }
        serde_json::from_slice(bytes).map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/example/programme.toml")
    }

    #[test]
    fn a_stored_source_compiles_to_the_same_digest_as_the_files() {
        let (source, programme) = ProgrammeSource::read(&example()).unwrap();
        assert!(!source.gtfs.is_empty(), "the example names a GTFS feed");
        let back = ProgrammeSource::from_bytes(&source.to_bytes()).unwrap();
        assert_eq!(back, source);
        let again = back.compile().unwrap();
        assert_eq!(again.source_digest(), programme.source_digest());
    }

    #[test]
    fn a_source_missing_an_operators_files_is_refused_by_name() {
        let (mut source, _) = ProgrammeSource::read(&example()).unwrap();
        let operator = source.gtfs.keys().next().unwrap().clone();
        source.gtfs.clear();
        let error = source.compile().unwrap_err().to_string();
        assert!(error.contains(&operator), "{error}");
    }
}
