//! Reconciliation against outside records (issue 10): the bank's statement of stablecoin and yen
//! top-ups and withdrawals, the IC clearing house's daily file, an operator's own ride counts.
//!
//! Pure: `files` reads a file's text into rows, `kanjo` reads the machine's own items, `matching`
//! compares them. A run's outcome is a `ReconRun`, logged as one `EntryKind::Reconciliation` (8)
//! entry; a clerk's resolution of one exception is a `Resolution`, logged as one
//! `EntryKind::Resolution` (9) entry. Both are replayed into the machine's `ReconBook`, so the runs,
//! their exceptions and the audit trail of who resolved what, when and why survive restarts.
//!
//! Bounds: a run's log entry holds at most `RUN_EXCEPTIONS_STORED_MAX` exceptions (a log entry's
//! body is at most 16 KiB); the rest are counted in `exceptions_total` and printed by the command,
//! and a clerk fixes the cause and runs again. At most `RUNS_MAX` runs are kept.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod files;
pub mod kanjo;
pub mod matching;

pub use files::{FileError, read_rows};
pub use matching::{Comparison, Exception, ExceptionKind, Expected, Row, compare};

use crate::limits::LOG_ENTRY_BODY_BYTES_MAX;
use kanjo_rules::LocalDate;

/// Exceptions kept in a run's log entry: each is at most ~330 bytes of JSON (two references of
/// ≤ 139 bytes are not possible: one reference, four numbers, a line), so 40 fit in 16 KiB.
pub const RUN_EXCEPTIONS_STORED_MAX: usize = 40;
/// Runs the machine keeps (each ≤ 16 KiB): at most ~160 MiB.
pub const RUNS_MAX: usize = 10_000;
/// A run id: short enough that `{run}#{n}` is a log entry id.
pub const RUN_ID_BYTES_MAX: usize = 96;
pub const FILE_NAME_BYTES_MAX: usize = 256;
pub const REASON_BYTES_MAX: usize = 1_024;
pub const CLERK_BYTES_MAX: usize = 128;
const _: () = assert!(RUN_ID_BYTES_MAX + 1 + 10 <= crate::limits::LOG_ENTRY_ID_BYTES_MAX);
const _: () = assert!(
    RUN_EXCEPTIONS_STORED_MAX * 330 + FILE_NAME_BYTES_MAX + 600 <= LOG_ENTRY_BODY_BYTES_MAX
);

/// Which outside record a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Bank,
    Ic,
    Operator,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Bank, Source::Ic, Source::Operator];

    pub const fn code(self) -> &'static str {
        match self {
            Source::Bank => "bank",
            Source::Ic => "ic",
            Source::Operator => "operator",
        }
    }

    pub const fn label_ja(self) -> &'static str {
        match self {
            Source::Bank => "銀行入出金明細",
            Source::Ic => "IC精算ファイル",
            Source::Operator => "事業者乗車実績",
        }
    }

    /// The file's header line (ops/formats/).
    pub const fn header(self) -> &'static str {
        match self {
            Source::Bank => "date,reference,type,amount",
            Source::Ic => "date,operator,amount_yen",
            Source::Operator => "date,operator,rides,revenue_yen",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.code() == text)
    }
}

/// Local days FROM..=TO (both included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: LocalDate,
    pub to: LocalDate,
}

impl Period {
    /// `YYYY-MM-DD..YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let (from, to) = text
            .split_once("..")
            .ok_or_else(|| format!("{text:?}: FROM..TO expected, e.g. 2026-11-01..2026-11-30"))?;
        let day = |t: &str| LocalDate::parse(t).map_err(|e| format!("{t:?}: {e}"));
        let period = Period {
            from: day(from)?,
            to: day(to)?,
        };
        if period.from > period.to {
            return Err(format!("{text:?}: FROM is after TO"));
        }
        Ok(period)
    }

    pub fn contains(self, day: LocalDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// One reconciliation run as logged: what was compared and what did not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconRun {
    pub id: String,
    pub source: Source,
    /// The file's name (not its path), for the clerk.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// When the run was made (RFC 3339), by the shell's clock.
    pub at: String,
    /// File lines read inside the period, and outside it (skipped).
    pub rows: u64,
    pub outside_period: u64,
    pub matched: u64,
    /// Every exception found, stored or not.
    pub exceptions_total: u64,
    /// Per kind, every exception found.
    pub counts: BTreeMap<ExceptionKind, u64>,
    /// The first `RUN_EXCEPTIONS_STORED_MAX` exceptions, numbered from 1.
    pub exceptions: Vec<Exception>,
}

impl ReconRun {
    /// The run of a comparison; only the first `RUN_EXCEPTIONS_STORED_MAX` exceptions are kept.
    pub fn new(
        header: RunHeader,
        rows: u64,
        outside_period: u64,
        comparison: &Comparison,
    ) -> ReconRun {
        let counts = ExceptionKind::ALL
            .into_iter()
            .map(|kind| (kind, comparison.count(kind)))
            .filter(|(_, n)| *n > 0)
            .collect();
        ReconRun {
            id: header.id,
            source: header.source,
            file: header.file,
            period: header.period,
            at: header.at,
            rows,
            outside_period,
            matched: comparison.matched,
            exceptions_total: comparison.exceptions.len() as u64,
            counts,
            exceptions: comparison
                .exceptions
                .iter()
                .take(RUN_EXCEPTIONS_STORED_MAX)
                .cloned()
                .collect(),
        }
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a run serialises")
    }

    /// Every bound, checked at the edge and again before the machine keeps it.
    pub fn check(&self) -> Result<(), ReconRefusal> {
        let bad = |message: String| Err(ReconRefusal::new(ReconRefusalCode::BadRun, message));
        if let Err(message) = check_text("run id", &self.id, RUN_ID_BYTES_MAX) {
            return bad(message);
        }
        if self.id.contains('#') {
            return bad("a run id holds no '#'".into());
        }
        if let Err(message) = check_text("file name", &self.file, FILE_NAME_BYTES_MAX) {
            return bad(message);
        }
        if self.exceptions.len() > RUN_EXCEPTIONS_STORED_MAX
            || self.exceptions.len() as u64 > self.exceptions_total
        {
            return bad(format!(
                "a run keeps at most {RUN_EXCEPTIONS_STORED_MAX} exceptions"
            ));
        }
        let numbered = self
            .exceptions
            .iter()
            .enumerate()
            .all(|(i, e)| e.n as usize == i + 1 && e.reference.len() <= 2 * RUN_ID_BYTES_MAX);
        if !numbered {
            return bad("exceptions are numbered 1, 2, … with short references".into());
        }
        let body = self.canonical_json().len();
        if body > LOG_ENTRY_BODY_BYTES_MAX {
            return bad(format!("the run is {body} bytes of JSON"));
        }
        Ok(())
    }
}

/// What names a run before it is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunHeader {
    pub id: String,
    pub source: Source,
    pub file: String,
    pub period: Option<Period>,
    pub at: String,
}

/// A resolution's principal: a key id, 16 hex digits.
pub const PRINCIPAL_KEY_ID_HEX_DIGITS: usize = 16;

/// A clerk's resolution of one exception of a run, as logged (entry id `{run}#{n}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub run: String,
    pub n: u32,
    pub reason: String,
    pub clerk: String,
    /// When it was resolved (RFC 3339), by the shell's clock.
    pub at: String,
    /// The API key that resolved it (16 hex digits): who did it, beside the name the clerk typed.
    /// Absent from resolutions logged before keys were recorded, so their bytes stay the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl Resolution {
    pub fn entry_id(&self) -> String {
        format!("{}#{}", self.run, self.n)
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a resolution serialises")
    }

    pub fn check(&self) -> Result<(), ReconRefusal> {
        let checks = [
            check_text("run id", &self.run, RUN_ID_BYTES_MAX),
            check_text("reason", &self.reason, REASON_BYTES_MAX),
            check_text("clerk", &self.clerk, CLERK_BYTES_MAX),
            check_text("at", &self.at, 64),
            self.principal.as_deref().map_or(Ok(()), check_principal),
        ];
        for check in checks {
            check.map_err(|m| ReconRefusal::new(ReconRefusalCode::BadResolution, m))?;
        }
        Ok(())
    }
}

/// A key id as `kanjo_auth::KeyId` writes it: 16 lowercase hex digits. Not a text check: a key
/// id may well be all digits, and is no My Number.
fn check_principal(key: &str) -> Result<(), String> {
    if key.len() == PRINCIPAL_KEY_ID_HEX_DIGITS
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "principal is a key id of {PRINCIPAL_KEY_ID_HEX_DIGITS} lowercase hex digits"
        ))
    }
}

fn check_text(what: &str, text: &str, bytes_max: usize) -> Result<(), String> {
    if text.trim().is_empty() || text.len() > bytes_max {
        return Err(format!("{what} holds 1..={bytes_max} bytes of text"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{what} holds a control character"));
    }
    if kanjo_privacy::contains_my_number(text) {
        return Err(format!(
            "{what} holds 12 or more digits (a My Number?); refused"
        ));
    }
    Ok(())
}

/// Why a run or a resolution was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReconRefusalCode {
    BadRun,
    /// The run id is taken by a run with other contents.
    RunConflict,
    TooManyRuns,
    BadResolution,
    UnknownRun,
    /// No exception with that number is stored in the run.
    UnknownException,
    /// Resolved before, with another reason, clerk or time.
    AlreadyResolved,
}

impl ReconRefusalCode {
    pub const fn code(self) -> &'static str {
        match self {
            ReconRefusalCode::BadRun => "bad_run",
            ReconRefusalCode::RunConflict => "run_conflict",
            ReconRefusalCode::TooManyRuns => "too_many_runs",
            ReconRefusalCode::BadResolution => "bad_resolution",
            ReconRefusalCode::UnknownRun => "unknown_run",
            ReconRefusalCode::UnknownException => "unknown_exception",
            ReconRefusalCode::AlreadyResolved => "already_resolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}: {message}", code.code())]
pub struct ReconRefusal {
    pub code: ReconRefusalCode,
    pub message: String,
}

impl ReconRefusal {
    pub fn new(code: ReconRefusalCode, message: impl Into<String>) -> ReconRefusal {
        ReconRefusal {
            code,
            message: message.into(),
        }
    }
}

/// A stored run with its resolutions (exception number → resolution), in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRun {
    #[serde(flatten)]
    pub run: ReconRun,
    pub resolutions: BTreeMap<u32, Resolution>,
}

impl StoredRun {
    /// Stored exceptions nobody resolved yet.
    pub fn open_exceptions(&self) -> impl Iterator<Item = &Exception> {
        self.run
            .exceptions
            .iter()
            .filter(|e| !self.resolutions.contains_key(&e.n))
    }
}

/// Every run and resolution, rebuilt by replay.
#[derive(Debug, Default)]
pub struct ReconBook {
    runs: Vec<StoredRun>,
    index: HashMap<String, usize>,
}

impl ReconBook {
    pub fn runs(&self) -> &[StoredRun] {
        &self.runs
    }

    pub fn get(&self, id: &str) -> Option<&StoredRun> {
        self.index.get(id).map(|&slot| &self.runs[slot])
    }

    /// Keeps a run; the same run again changes nothing.
    pub fn record_run(&mut self, run: &ReconRun) -> Result<(), ReconRefusal> {
        run.check()?;
        if let Some(stored) = self.get(&run.id) {
            if stored.run == *run {
                return Ok(());
            }
            return Err(ReconRefusal::new(
                ReconRefusalCode::RunConflict,
                format!("run {} exists with other contents", run.id),
            ));
        }
        if self.runs.len() >= RUNS_MAX {
            return Err(ReconRefusal::new(
                ReconRefusalCode::TooManyRuns,
                format!("kanjo keeps at most {RUNS_MAX} reconciliation runs"),
            ));
        }
        self.index.insert(run.id.clone(), self.runs.len());
        self.runs.push(StoredRun {
            run: run.clone(),
            resolutions: BTreeMap::new(),
        });
        Ok(())
    }

    /// Marks one stored exception resolved; the same resolution again changes nothing.
    pub fn resolve(&mut self, resolution: &Resolution) -> Result<(), ReconRefusal> {
        resolution.check()?;
        let Some(&slot) = self.index.get(&resolution.run) else {
            return Err(ReconRefusal::new(
                ReconRefusalCode::UnknownRun,
                format!("no reconciliation run {}", resolution.run),
            ));
        };
        let stored = &mut self.runs[slot];
        if !stored.run.exceptions.iter().any(|e| e.n == resolution.n) {
            return Err(ReconRefusal::new(
                ReconRefusalCode::UnknownException,
                format!(
                    "run {} stores exceptions 1..={}, not {}",
                    resolution.run,
                    stored.run.exceptions.len(),
                    resolution.n
                ),
            ));
        }
        match stored.resolutions.get(&resolution.n) {
            // A retry (same reason and clerk) is the same resolution, whenever it was sent.
            Some(earlier)
                if earlier.reason == resolution.reason && earlier.clerk == resolution.clerk =>
            {
                Ok(())
            }
            Some(earlier) => Err(ReconRefusal::new(
                ReconRefusalCode::AlreadyResolved,
                format!(
                    "exception {} of run {} was resolved by {} at {}",
                    resolution.n, resolution.run, earlier.clerk, earlier.at
                ),
            )),
            None => {
                stored.resolutions.insert(resolution.n, resolution.clone());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod principal_tests {
    use super::Resolution;

    fn resolution(principal: Option<&str>) -> Resolution {
        Resolution {
            run: "r-ic".into(),
            n: 1,
            reason: "sent twice".into(),
            clerk: "佐藤".into(),
            at: "2026-12-03T01:00:00Z".into(),
            principal: principal.map(str::to_owned),
        }
    }

    #[test]
    fn a_key_id_is_a_principal_even_when_all_digits() {
        assert!(resolution(None).check().is_ok());
        assert!(resolution(Some("0123456789012345")).check().is_ok());
        assert!(resolution(Some("00000000000000ab")).check().is_ok());
        for bad in [
            "",
            "0123",
            "00000000000000AB",
            "00000000000000zz",
            "clerk 佐藤",
        ] {
            assert!(resolution(Some(bad)).check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_resolution_without_a_principal_keeps_its_old_bytes() {
        assert_eq!(
            resolution(None).canonical_json(),
            r#"{"run":"r-ic","n":1,"reason":"sent twice","clerk":"佐藤","at":"2026-12-03T01:00:00Z"}"#
        );
        let with = resolution(Some("00000000000000ab")).canonical_json();
        assert!(
            with.ends_with(r#","principal":"00000000000000ab"}"#),
            "{with}"
        );
    }
}
