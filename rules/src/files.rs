//! `kanjo rate`: the programme, riders and events files in, one NDJSON line per event out.
//!
//! Decisions where spec/rating.md is silent:
//! - A riders line that is not a rider record (bad JSON, bad date, bad id) makes the run fail
//!   (the input could not be read); a bad `residence` value does not (see `riders`).
//! - Blank event lines are skipped. An event line that is not JSON, not an object or has no
//!   string `id` still gets an output line, with `"id": null` and `bad_event`.
//! - Every event id read counts as seen for `duplicate_id`, also when the event was rejected:
//!   a rejected event changes no budget, cap or counter, but its id was still seen.
//! - Checks run in this order: JSON, id, duplicate id, type, fields, operator, stops, fare.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use hashbrown::HashSet;
use serde_json::{Map, Value};

use crate::error::{RateError, RateFilesError};
use crate::limits::MAX_LINE_BYTES;
use crate::output::{ErrorLine, RatedLine};
use crate::programme::Programme;
use crate::rating::{RatingState, commit, rate};
use crate::ride::RideFields;
use crate::riders::{RiderRecord, Riders};

/// The whole `kanjo rate` command. Output goes to `out`; nothing is written to disk.
pub fn rate_files(
    programme: &Path,
    riders: &Path,
    events: &Path,
    out: &mut dyn Write,
) -> Result<(), RateFilesError> {
    rate_files_reporting(programme, riders, events, out, &mut std::io::sink())
}

/// `rate_files`, also writing the programme's warnings (e.g. ambiguous GTFS fares), one per
/// line, to `warnings`.
pub fn rate_files_reporting(
    programme_path: &Path,
    riders_path: &Path,
    events_path: &Path,
    out: &mut dyn Write,
    warnings: &mut dyn Write,
) -> Result<(), RateFilesError> {
    let programme = Programme::load(programme_path)?;
    for warning in programme.warnings() {
        writeln!(warnings, "warning: {warning}").map_err(RateFilesError::Write)?;
    }
    let riders = read_riders(riders_path)?;
    let events = File::open(events_path).map_err(|source| RateFilesError::Read {
        path: events_path.to_path_buf(),
        source,
    })?;
    let mut run = EventRun::new(&programme, &riders);
    let mut reader = BufReader::new(events);
    let mut line = Vec::with_capacity(1024);
    loop {
        let read =
            read_bounded_line(&mut reader, &mut line).map_err(|source| RateFilesError::Read {
                path: events_path.to_path_buf(),
                source,
            })?;
        let Some(too_long) = read else { break };
        if too_long {
            let error = RateError::BadEvent(format!("line longer than {MAX_LINE_BYTES} bytes"));
            write_json(out, &ErrorLine::new(None, &error))?;
            continue;
        }
        run.rate_line(&line, out)?;
    }
    out.flush().map_err(RateFilesError::Write)
}

/// Reads the riders NDJSON file into a registry.
pub fn read_riders(path: &Path) -> Result<Riders, RateFilesError> {
    let file = File::open(path).map_err(|source| RateFilesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut riders = Riders::new();
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0usize;
    let problem = |line_no: usize, problem: String| RateFilesError::Riders {
        path: path.to_path_buf(),
        line_no,
        problem,
    };
    loop {
        let read =
            read_bounded_line(&mut reader, &mut line).map_err(|source| RateFilesError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let Some(too_long) = read else { break };
        line_no += 1;
        if too_long {
            return Err(problem(
                line_no,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(&line)
            .map_err(|e| problem(line_no, format!("not a rider record: {e}")))?;
        // A My Number, PIN or ballot field anywhere fails the run, as any bad riders line does.
        kanjo_privacy::check_json(&value).map_err(|e| problem(line_no, e.to_string()))?;
        let record: RiderRecord = serde_json::from_value(value)
            .map_err(|e| problem(line_no, format!("not a rider record: {e}")))?;
        riders
            .upsert(record)
            .map_err(|e| problem(line_no, e.to_string()))?;
    }
    Ok(riders)
}

/// Reads one line (without its `\n` / `\r\n`) into `line`. `None` at end of input; `Some(true)`
/// when the line was longer than `MAX_LINE_BYTES` (the rest of it is skipped).
fn read_bounded_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(end) => (&chunk[..end], Some(end + 1)),
            None => (chunk, None),
        };
        if line.len() + part.len() > MAX_LINE_BYTES {
            too_long = true;
        } else {
            line.extend_from_slice(part);
        }
        let consumed = done.unwrap_or(chunk.len());
        reader.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(too_long))
}

fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), RateFilesError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| RateFilesError::Write(e.into()))?;
    out.write_all(b"\n").map_err(RateFilesError::Write)
}

/// Rating state of one run: budgets, caps and counters, and the event ids seen.
pub struct EventRun<'p> {
    programme: &'p Programme,
    riders: &'p Riders,
    state: RatingState,
    seen_ids: HashSet<String>,
}

impl<'p> EventRun<'p> {
    pub fn new(programme: &'p Programme, riders: &'p Riders) -> EventRun<'p> {
        EventRun {
            programme,
            riders,
            state: RatingState::new(programme),
            seen_ids: HashSet::new(),
        }
    }

    pub fn state(&self) -> &RatingState {
        &self.state
    }

    /// Rates one event line and writes its output line. Blank lines write nothing.
    pub fn rate_line(&mut self, line: &[u8], out: &mut dyn Write) -> Result<(), RateFilesError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let value: Value = match serde_json::from_slice(line) {
            Ok(value) => value,
            Err(e) => {
                let error = RateError::BadEvent(format!("not JSON: {e}"));
                return write_json(out, &ErrorLine::new(None, &error));
            }
        };
        let Value::Object(event) = value else {
            let error = RateError::BadEvent("not a JSON object".into());
            return write_json(out, &ErrorLine::new(None, &error));
        };
        let Some(Value::String(id)) = event.get("id") else {
            let error = RateError::BadEvent("no string `id`".into());
            return write_json(out, &ErrorLine::new(None, &error));
        };
        match self.rate_event(id, &event) {
            Ok(rating) => write_json(
                out,
                &RatedLine {
                    id,
                    rating: &rating,
                    programme: self.programme,
                },
            ),
            Err(error) => write_json(out, &ErrorLine::new(Some(id), &error)),
        }
    }

    fn rate_event(
        &mut self,
        id: &str,
        event: &Map<String, Value>,
    ) -> Result<crate::rating::Rating, RateError> {
        if !self.seen_ids.insert(id.to_string()) {
            return Err(RateError::DuplicateId);
        }
        match event.get("type") {
            Some(Value::String(kind)) if kind == "ride" => {}
            Some(Value::String(kind)) => {
                return Err(RateError::BadEvent(format!("unknown event type `{kind}`")));
            }
            _ => return Err(RateError::BadEvent("no string `type`".into())),
        }
        let fields = ride_fields(event)?;
        let ride = self.programme.resolve_ride(self.riders, &fields)?;
        let rating = rate(self.programme, self.riders, &self.state, &ride)?;
        commit(&mut self.state, &ride, &rating);
        Ok(rating)
    }
}

fn ride_fields(event: &Map<String, Value>) -> Result<RideFields, RateError> {
    let required = |key: &str| match event.get(key) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(RateError::BadEvent(format!("`{key}` must be a string"))),
        None => Err(RateError::BadEvent(format!("`{key}` is missing"))),
    };
    let optional = |key: &str| match event.get(key) {
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(RateError::BadEvent(format!("`{key}` must be a string"))),
    };
    Ok(RideFields {
        at: required("at")?,
        operator: required("operator")?,
        route: optional("route")?,
        from: optional("from")?,
        to: optional("to")?,
        rider: optional("rider")?,
    })
}
