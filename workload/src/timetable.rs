//! The part of a GTFS(-JP) feed the commuter workload needs: which trips run, on which route, and
//! their stop sequences with times and whether riders may board or alight there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kanjo_rules::gtfs::csv::{CsvError, for_each_record};
use thiserror::Error;

use super::clock::parse_gtfs_time;

/// A feed bigger than this is not a town's bus network; refuse rather than exhaust memory.
pub const STOP_TIMES_MAX: usize = 2_000_000;

#[derive(Debug, Error)]
pub enum TimetableError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopCall {
    /// Index into `Timetable::stops`.
    pub stop: u32,
    pub departure_s: i64,
    pub boarding_allowed: bool,
    pub alighting_allowed: bool,
}

#[derive(Clone, Debug)]
pub struct Trip {
    pub trip_id: String,
    pub route_id: String,
    /// In stop_sequence order; at least two calls.
    pub calls: Vec<StopCall>,
}

impl Trip {
    pub fn first_departure_s(&self) -> i64 {
        self.calls[0].departure_s
    }
}

#[derive(Clone, Debug)]
pub struct Timetable {
    pub stops: Vec<String>,
    /// Sorted by first departure, then trip id, so generation order is stable.
    pub trips: Vec<Trip>,
}

impl Timetable {
    /// Loads the trips of one `service_id` (e.g. "weekday") from a feed directory.
    pub fn load(feed_dir: &Path, service_id: &str) -> Result<Timetable, TimetableError> {
        let trips_path = feed_dir.join("trips.txt");
        let trips_text = read(&trips_path)?;
        let mut trip_routes: HashMap<String, String> = HashMap::new();
        for_each_row(
            &trips_path,
            &trips_text,
            &["route_id", "service_id", "trip_id"],
            |row| {
                if row[1] == service_id {
                    trip_routes.insert(row[2].to_owned(), row[0].to_owned());
                }
            },
        )?;

        let stop_times_path = feed_dir.join("stop_times.txt");
        let stop_times_text = read(&stop_times_path)?;
        let mut stop_index: HashMap<String, u32> = HashMap::new();
        let mut stops: Vec<String> = Vec::new();
        let mut calls_by_trip: HashMap<String, Vec<(u32, StopCall)>> = HashMap::new();
        let mut bad_row: Option<String> = None;
        let mut rows = 0usize;
        let columns = [
            "trip_id",
            "departure_time",
            "stop_id",
            "stop_sequence",
            "pickup_type",
            "drop_off_type",
        ];
        for_each_row(&stop_times_path, &stop_times_text, &columns, |row| {
            rows += 1;
            if bad_row.is_some() || !trip_routes.contains_key(row[0]) {
                return;
            }
            let (Some(departure_s), Ok(sequence)) =
                (parse_gtfs_time(row[1]), row[3].parse::<u32>())
            else {
                bad_row = Some(format!(
                    "trip {} has a bad time or stop_sequence: {:?} {:?}",
                    row[0], row[1], row[3]
                ));
                return;
            };
            let next_index = stops.len() as u32;
            let stop = *stop_index.entry(row[2].to_owned()).or_insert_with(|| {
                stops.push(row[2].to_owned());
                next_index
            });
            let call = StopCall {
                stop,
                departure_s,
                // GTFS: 1 = none; empty, 0, 2 and 3 all allow it.
                boarding_allowed: row[4] != "1",
                alighting_allowed: row[5] != "1",
            };
            calls_by_trip
                .entry(row[0].to_owned())
                .or_default()
                .push((sequence, call));
        })?;
        if let Some(message) = bad_row {
            return Err(TimetableError::Format {
                path: stop_times_path,
                message,
            });
        }
        if rows > STOP_TIMES_MAX {
            return Err(TimetableError::Format {
                path: stop_times_path,
                message: format!("{rows} stop times, more than the {STOP_TIMES_MAX} allowed"),
            });
        }

        let mut trips: Vec<Trip> = calls_by_trip
            .into_iter()
            .filter_map(|(trip_id, mut calls)| {
                calls.sort_by_key(|(sequence, _)| *sequence);
                let calls: Vec<StopCall> = calls.into_iter().map(|(_, call)| call).collect();
                if calls.len() < 2 {
                    return None;
                }
                let route_id = trip_routes.get(&trip_id)?.clone();
                Some(Trip {
                    trip_id,
                    route_id,
                    calls,
                })
            })
            .collect();
        trips.sort_by(|a, b| {
            (a.first_departure_s(), &a.trip_id).cmp(&(b.first_departure_s(), &b.trip_id))
        });
        if trips.is_empty() {
            return Err(TimetableError::Format {
                path: trips_path,
                message: format!("no trip of service {service_id:?} has two or more stops"),
            });
        }
        Ok(Timetable { stops, trips })
    }
}

fn read(path: &Path) -> Result<String, TimetableError> {
    let text = std::fs::read_to_string(path).map_err(|source| TimetableError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

/// Columns one reader may pick from a file.
const WANTED_COLUMNS_MAX: usize = 8;

/// Calls `each` with the named columns of every data row, read with the workspace's one RFC 4180
/// reader (BOM, CRLF, quoted fields).
fn for_each_row(
    path: &Path,
    text: &str,
    wanted: &[&str],
    mut each: impl FnMut(&[&str]),
) -> Result<(), TimetableError> {
    assert!(wanted.len() <= WANTED_COLUMNS_MAX);
    let format_error = |message: String| TimetableError::Format {
        path: path.to_owned(),
        message,
    };
    let mut positions: Option<Vec<usize>> = None;
    for_each_record(text, |_, fields| {
        let Some(positions) = &positions else {
            let found = wanted
                .iter()
                .map(|name| {
                    fields
                        .iter()
                        .position(|column| column.trim() == *name)
                        .ok_or_else(|| format_error(format!("no `{name}` column")))
                })
                .collect::<Result<_, _>>()?;
            positions = Some(found);
            return Ok(());
        };
        let mut picked = [""; WANTED_COLUMNS_MAX];
        for (slot, &position) in picked.iter_mut().zip(positions) {
            *slot = fields.get(position).map_or("", |field| field.trim());
        }
        each(&picked[..wanted.len()]);
        Ok(())
    })
    .map_err(|error| match error {
        CsvError::Record(error) => error,
        CsvError::UnclosedQuote { line_no } => {
            format_error(format!("line {line_no}: a quoted field is not closed"))
        }
        CsvError::AfterQuote { line_no } => {
            format_error(format!("line {line_no}: text after a closing quote"))
        }
    })?;
    if positions.is_none() {
        return Err(format_error("no header line".into()));
    }
    Ok(())
}

/// The Muroran feed shipped in the repository, found from this crate's directory.
pub fn muroran_feed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/gtfs-jp/donan-bus-muroran")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_muroran_weekday_timetable_has_its_trips_in_departure_order() {
        let timetable = Timetable::load(&muroran_feed_dir(), "weekday").unwrap();
        assert_eq!(timetable.trips.len(), 388);
        assert!(
            timetable
                .trips
                .windows(2)
                .all(|pair| pair[0].first_departure_s() <= pair[1].first_departure_s())
        );
        let first = &timetable.trips[0];
        assert!(!first.calls[0].alighting_allowed && first.calls[0].boarding_allowed);
        assert!(!first.calls.last().unwrap().boarding_allowed);
    }
}
