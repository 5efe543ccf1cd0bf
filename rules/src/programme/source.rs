//! A programme's whole source: its TOML and the GTFS files it names, as text. A programme
//! version keeps this in the store (content-addressed by `Programme::source_digest`), so the log
//! replays with exactly the fares and rules it was written with, even after the files on disk
//! moved or changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Programme, ProgrammeError};
use crate::gtfs::{GtfsError, GtfsFares, GtfsTexts};
use crate::limits::{MAX_GTFS_FILE_BYTES, MAX_OPERATORS, MAX_PROGRAMME_FILE_BYTES};

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

/// The files a GTFS fare folder is read from (`fare_rules.txt` may be absent).
const GTFS_FILES: [&str; 3] = ["fare_attributes.txt", "fare_rules.txt", "stops.txt"];
/// Files one packed source may carry: every GTFS file of the most fare tables a programme has.
pub const PACKED_FILES_MAX: usize = GTFS_FILES.len() * MAX_OPERATORS;
/// The name a packed source's programme gets: its GTFS folders are relative to it.
pub const PACKED_PROGRAMME_NAME: &str = "programme.toml";

/// A source as it travels (`POST /v1/programme`): the programme's TOML and the text of every
/// GTFS file it names, keyed by the path the TOML names it with (`gtfs/bus/stops.txt` for
/// `gtfs = "gtfs/bus"`), so the receiver reads no file of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedSource {
    pub programme: String,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// Why a packed source was refused; each names the key (`programme`, `files[...]`).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("programme: {bytes} bytes; at most {MAX_PROGRAMME_FILE_BYTES}")]
    ProgrammeTooLarge { bytes: usize },
    #[error("files: {count} files; at most {PACKED_FILES_MAX} (three per fare table)")]
    TooManyFiles { count: usize },
    #[error("files[{path:?}]: {bytes} bytes; at most {MAX_GTFS_FILE_BYTES}")]
    FileTooLarge { path: String, bytes: usize },
    #[error("files[{path:?}]: names the same file as files[{other:?}]")]
    DuplicateFile { path: String, other: String },
    #[error(
        "files[{path:?}]: the programme names no GTFS folder holding it (each `gtfs` folder's \
         fare_attributes.txt, fare_rules.txt and stops.txt, by the path the programme uses)"
    )]
    UnknownFile { path: String },
    #[error("programme: {0}")]
    Programme(#[from] ProgrammeError),
}

/// A relative file path as the packer and the receiver both write it: `/`-separated, without
/// `.` parts (so `./gtfs/bus/` and `gtfs/bus` name the same folder).
fn file_key(path: &Path) -> String {
    path.components()
        .filter(|part| !matches!(part, Component::CurDir))
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

impl PackedSource {
    /// Reads a programme file and the GTFS files it names, and compiles it, as
    /// `ProgrammeSource::read` does; the files are keyed by the paths the programme names.
    pub fn read(path: &Path) -> Result<(PackedSource, Programme), ProgrammeError> {
        let programme = super::read_programme_text(path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut files = BTreeMap::new();
        let compiled = Programme::from_toml_with(
            Path::new(PACKED_PROGRAMME_NAME),
            &programme,
            &mut |_, dir| {
                let texts = GtfsFares::read_texts(&base.join(dir))?;
                let [attributes, rules, stops] = GTFS_FILES.map(|name| file_key(&dir.join(name)));
                files.insert(attributes, texts.fare_attributes.clone());
                if let Some(text) = &texts.fare_rules {
                    files.insert(rules, text.clone());
                }
                files.insert(stops, texts.stops.clone());
                GtfsFares::from_texts(dir, &texts)
            },
        )?;
        Ok((PackedSource { programme, files }, compiled))
    }

    /// Checks every size bound, compiles the programme from the carried files only, and refuses
    /// a file it does not name: the `ProgrammeSource` to keep, and its programme.
    pub fn unpack(&self) -> Result<(ProgrammeSource, Programme), PackError> {
        self.check_sizes()?;
        let mut by_key: BTreeMap<String, (&String, &String)> = BTreeMap::new();
        for (path, text) in &self.files {
            if let Some((other, _)) = by_key.insert(file_key(Path::new(path)), (path, text)) {
                return Err(PackError::DuplicateFile {
                    path: path.clone(),
                    other: other.clone(),
                });
            }
        }
        let mut used = BTreeSet::new();
        let mut gtfs = BTreeMap::new();
        let path = Path::new(PACKED_PROGRAMME_NAME);
        let programme = Programme::from_toml_with(path, &self.programme, &mut |operator, dir| {
            let [attributes, rules, stops] = GTFS_FILES.map(|name| file_key(&dir.join(name)));
            let mut take = |key: &String, required: bool| match by_key.get(key) {
                Some((_, text)) => {
                    used.insert(key.clone());
                    Ok(Some((*text).clone()))
                }
                None if required => Err(GtfsError {
                    file: PathBuf::from(key),
                    line_no: None,
                    problem: format!("files[{key:?}] is missing: the programme names it"),
                }),
                None => Ok(None),
            };
            let texts = GtfsTexts {
                fare_attributes: take(&attributes, true)?.unwrap_or_default(),
                fare_rules: take(&rules, false)?,
                stops: take(&stops, true)?.unwrap_or_default(),
            };
            let fares = GtfsFares::from_texts(dir, &texts)?;
            gtfs.insert(operator.to_owned(), texts);
            Ok(fares)
        })?;
        if let Some((_, (path, _))) = by_key.iter().find(|(key, _)| !used.contains(*key)) {
            return Err(PackError::UnknownFile {
                path: (*path).clone(),
            });
        }
        let source = ProgrammeSource {
            path: path.to_path_buf(),
            toml: self.programme.clone(),
            gtfs,
        };
        Ok((source, programme))
    }

    fn check_sizes(&self) -> Result<(), PackError> {
        if self.programme.len() as u64 > MAX_PROGRAMME_FILE_BYTES {
            return Err(PackError::ProgrammeTooLarge {
                bytes: self.programme.len(),
            });
        }
        if self.files.len() > PACKED_FILES_MAX {
            return Err(PackError::TooManyFiles {
                count: self.files.len(),
            });
        }
        match self
            .files
            .iter()
            .find(|(_, text)| text.len() as u64 > MAX_GTFS_FILE_BYTES)
        {
            Some((path, text)) => Err(PackError::FileTooLarge {
                path: path.clone(),
                bytes: text.len(),
            }),
            None => Ok(()),
        }
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
    fn a_packed_source_unpacks_to_the_same_digest_as_the_files() {
        let (_, programme) = ProgrammeSource::read(&example()).unwrap();
        let (packed, packed_programme) = PackedSource::read(&example()).unwrap();
        assert_eq!(packed_programme.source_digest(), programme.source_digest());
        assert!(!packed.files.is_empty());
        let (source, unpacked) = packed.unpack().unwrap();
        assert_eq!(unpacked.source_digest(), programme.source_digest());
        assert_eq!(
            source.compile().unwrap().source_digest(),
            programme.source_digest()
        );
    }

    #[test]
    fn a_packed_source_with_a_file_too_many_or_too_few_is_refused_by_its_key() {
        let (mut packed, _) = PackedSource::read(&example()).unwrap();
        let named = packed.files.keys().next().unwrap().clone();
        packed
            .files
            .insert("gtfs/other/stops.txt".into(), "stop_id\n".into());
        let error = packed.unpack().unwrap_err();
        assert!(matches!(error, PackError::UnknownFile { .. }), "{error}");
        assert!(
            error.to_string().contains("gtfs/other/stops.txt"),
            "{error}"
        );
        packed.files.remove("gtfs/other/stops.txt");
        packed.files.remove(&named);
        let error = packed.unpack().unwrap_err().to_string();
        assert!(error.contains(&named), "{error}");
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
