//! Per-event rating errors (the spec's error codes) and the errors of a whole `kanjo rate` run.

use std::path::PathBuf;

use crate::programme::ProgrammeError;

/// Why one event was rejected. A rejected event changes no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("malformed event: {0}")]
    BadEvent(String),
    #[error("event id seen earlier in the run")]
    DuplicateId,
    #[error("unknown operator `{0}`")]
    UnknownOperator(String),
    #[error("unknown stop `{0}`")]
    UnknownStop(String),
    #[error("no fare rule matches {0}")]
    NoFare(String),
}

impl RateError {
    /// The error code of spec/rating.md.
    pub fn code(&self) -> &'static str {
        match self {
            RateError::BadEvent(_) => "bad_event",
            RateError::DuplicateId => "duplicate_id",
            RateError::UnknownOperator(_) => "unknown_operator",
            RateError::UnknownStop(_) => "unknown_stop",
            RateError::NoFare(_) => "no_fare",
        }
    }
}

/// A `kanjo rate` run that cannot produce its output: the process exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum RateFilesError {
    #[error(transparent)]
    Programme(#[from] ProgrammeError),
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} line {line_no}: {problem}", path.display())]
    Riders {
        path: PathBuf,
        line_no: usize,
        problem: String,
    },
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
}
