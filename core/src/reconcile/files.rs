//! The three outside formats (ops/formats/{bank-statement,ic-clearing,operator-rides}.md), read
//! with kanjo-rules' RFC 4180 reader into `Row`s keyed like kanjo's own items.

use kanjo_rules::LocalDate;
use kanjo_rules::gtfs::csv::{CsvError, for_each_record};
use thiserror::Error;

use super::matching::Row;
use super::{Period, Source};

/// The largest file read (64 MiB), and its most lines (a year of a town's top-ups fits).
pub const FILE_BYTES_MAX: usize = 64 * 1024 * 1024;
pub const FILE_ROWS_MAX: usize = 1_000_000;
/// A reference (an event id, an operator code) holds at most this many bytes, like an event's.
pub const REFERENCE_BYTES_MAX: usize = crate::event::REFERENCE_BYTES_MAX;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FileError {
    #[error("the file is {bytes} bytes; at most {FILE_BYTES_MAX} are read")]
    TooLarge { bytes: usize },
    #[error("the file has more than {FILE_ROWS_MAX} lines")]
    TooManyRows,
    #[error("line 1: the header must be {expected:?}, not {found:?}")]
    Header { expected: String, found: String },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the file is empty (no header)")]
    Empty,
}

/// The rows of `text` inside `period` (all when `None`), and how many lay outside it.
pub fn read_rows(
    source: Source,
    text: &str,
    period: Option<Period>,
) -> Result<(Vec<Row>, u64), FileError> {
    if text.len() > FILE_BYTES_MAX {
        return Err(FileError::TooLarge { bytes: text.len() });
    }
    let header = source.header();
    let mut rows = Vec::new();
    let mut outside = 0u64;
    let mut seen_header = false;
    let result = for_each_record(text, |line, fields| {
        if !seen_header {
            seen_header = true;
            let found = fields.join(",");
            if found.trim() != header {
                return Err(FileError::Header {
                    expected: header.to_owned(),
                    found,
                });
            }
            return Ok(());
        }
        if rows.len() >= FILE_ROWS_MAX {
            return Err(FileError::TooManyRows);
        }
        let fields: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
        let (date, row) = parse_row(source, line, &fields)
            .map_err(|message| FileError::Line { line, message })?;
        if period.is_some_and(|p| !p.contains(date)) {
            outside += 1;
        } else {
            rows.push(row);
        }
        Ok(())
    });
    match result {
        Ok(()) if !seen_header => Err(FileError::Empty),
        Ok(()) => Ok((rows, outside)),
        Err(CsvError::Record(error)) => Err(error),
        Err(CsvError::UnclosedQuote { line_no }) => Err(FileError::Line {
            line: line_no,
            message: "a quoted field never ends".into(),
        }),
        Err(CsvError::AfterQuote { line_no }) => Err(FileError::Line {
            line: line_no,
            message: "something other than a comma or a line end follows a closing quote".into(),
        }),
    }
}

fn parse_row(source: Source, line: usize, fields: &[&str]) -> Result<(LocalDate, Row), String> {
    let want = source.header().split(',').count();
    if fields.len() != want {
        return Err(format!("{} fields, expected {want}", fields.len()));
    }
    let date = LocalDate::parse(fields[0]).map_err(|e| format!("date {:?}: {e}", fields[0]))?;
    let line = u32::try_from(line).map_err(|_| "too many lines".to_owned())?;
    let row = match source {
        Source::Bank => {
            let reference = reference(fields[1])?;
            if !matches!(fields[2], "deposit" | "withdrawal") {
                return Err(format!(
                    "type {:?}: deposit or withdrawal expected",
                    fields[2]
                ));
            }
            Row {
                line,
                reference: format!("{}/{reference}", fields[2]),
                amount_yen: amount(fields[3])?,
                count: None,
            }
        }
        Source::Ic => Row {
            line,
            reference: day_reference(fields[1], date)?,
            amount_yen: amount(fields[2])?,
            count: None,
        },
        Source::Operator => Row {
            line,
            reference: day_reference(fields[1], date)?,
            count: Some(amount(fields[2])?),
            amount_yen: amount(fields[3])?,
        },
    };
    Ok((date, row))
}

/// `{operator}/{YYYY-MM-DD}`: how a per-operator day is named on both sides.
pub fn day_key(operator: &str, date: LocalDate) -> String {
    format!("{operator}/{date}")
}

fn day_reference(operator: &str, date: LocalDate) -> Result<String, String> {
    Ok(day_key(reference(operator)?, date))
}

fn reference(text: &str) -> Result<&str, String> {
    if text.is_empty() || text.len() > REFERENCE_BYTES_MAX {
        return Err(format!(
            "a reference holds 1..={REFERENCE_BYTES_MAX} bytes, this one {}",
            text.len()
        ));
    }
    if text.chars().any(char::is_control) {
        return Err("a reference holds no control characters".into());
    }
    if kanjo_privacy::contains_my_number(text) {
        return Err("a reference holds 12 or more digits (a My Number?); refused".into());
    }
    Ok(text)
}

fn amount(text: &str) -> Result<u64, String> {
    // Whole yen only: at most 2^53, like every amount kanjo takes.
    let value: u64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))?;
    if value > 1 << 53 {
        return Err(format!("{value} is larger than 2^53"));
    }
    Ok(value)
}
