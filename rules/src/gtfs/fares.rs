//! Loading and looking up one operator's GTFS fares.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use hashbrown::HashMap;

use super::csv::{CsvError, for_each_record};
use crate::ids::{FNV_OFFSET_128, fnv1a_128};
use crate::limits::MAX_GTFS_FILE_BYTES;

/// The id of "any" in a fare key, and of a route or zone that no fare rule names.
const ANY: u32 = u32::MAX;
/// The zone of a stop whose `zone_id` is empty: only rules with an empty field match it.
pub const NO_ZONE: u32 = u32::MAX;
/// How many individual ambiguity warnings are listed before the rest are only counted.
const MAX_AMBIGUITY_WARNINGS: usize = 1000;

/// The field patterns of a fare rule (bit 0 route, bit 1 origin, bit 2 destination), most
/// specific first: this is the order in which lookups try them.
const PATTERNS_BY_SPECIFICITY: [[u8; 3]; 4] = [[7, 7, 7], [3, 5, 6], [1, 2, 4], [0, 0, 0]];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FareKey {
    route: u32,
    origin: u32,
    destination: u32,
}

#[derive(Clone, Copy, Debug)]
struct FareEntry {
    price: u64,
    fare_ix: u32,
    line_no: u32,
}

/// A GTFS folder that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {problem}", file.display(), line_no.map(|n| format!(" line {n}")).unwrap_or_default())]
pub struct GtfsError {
    pub file: PathBuf,
    pub line_no: Option<usize>,
    pub problem: String,
}

/// One operator's fares, ready for lookup.
/// The three files fares are read from, as text (`fare_rules.txt` is optional).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GtfsTexts {
    pub fare_attributes: String,
    pub fare_rules: Option<String>,
    pub stops: String,
}

#[derive(Debug, Default)]
pub struct GtfsFares {
    /// stop_id → zone (interned) or `NO_ZONE`.
    stops: HashMap<Box<str>, u32>,
    routes: HashMap<Box<str>, u32>,
    route_names: Vec<Box<str>>,
    zones: HashMap<Box<str>, u32>,
    zone_names: Vec<Box<str>>,
    prices: HashMap<FareKey, FareEntry>,
    /// Bit p set when some rule has field pattern p.
    patterns_present: u8,
    fare_ids: Vec<Box<str>>,
    rules_loaded: usize,
    ambiguities: usize,
    warnings: Vec<String>,
    digest: u128,
}

impl GtfsFares {
    /// Loads `fare_attributes.txt`, `fare_rules.txt` (optional: without it every fare applies
    /// everywhere, the lowest wins) and `stops.txt` from `dir`.
    pub fn load(dir: &Path) -> Result<GtfsFares, GtfsError> {
        let meta = std::fs::metadata(dir).map_err(|e| GtfsError {
            file: dir.to_path_buf(),
            line_no: None,
            problem: format!("GTFS folder cannot be read: {e}"),
        })?;
        if !meta.is_dir() {
            return Err(GtfsError {
                file: dir.to_path_buf(),
                line_no: None,
                problem: "GTFS path is not a folder".to_string(),
            });
        }
        GtfsFares::from_texts(dir, &GtfsFares::read_texts(dir)?)
    }

    /// The files this folder's fares are read from, as `load` reads them: what a programme
    /// version keeps in the store so that it compiles the same after the folder changed.
    pub fn read_texts(dir: &Path) -> Result<GtfsTexts, GtfsError> {
        let rules_path = dir.join("fare_rules.txt");
        Ok(GtfsTexts {
            fare_attributes: read_text(&dir.join("fare_attributes.txt"))?,
            fare_rules: if rules_path.exists() {
                Some(read_text(&rules_path)?)
            } else {
                None
            },
            stops: read_text(&dir.join("stops.txt"))?,
        })
    }

    /// Compiles fares from the texts of a folder's files (`dir` names them in messages). Same
    /// result and digest as `load` on a folder holding these texts.
    pub fn from_texts(dir: &Path, texts: &GtfsTexts) -> Result<GtfsFares, GtfsError> {
        let attributes_path = dir.join("fare_attributes.txt");
        let rules_path = dir.join("fare_rules.txt");
        let stops_path = dir.join("stops.txt");
        let attributes_text = &texts.fare_attributes;
        let rules_text = &texts.fare_rules;
        let stops_text = &texts.stops;

        let mut digest = FNV_OFFSET_128;
        for (name, text) in [
            ("fare_attributes.txt", Some(attributes_text)),
            ("fare_rules.txt", rules_text.as_ref()),
            ("stops.txt", Some(stops_text)),
        ] {
            digest = fnv1a_128(digest, name.as_bytes());
            digest = fnv1a_128(digest, &[0]);
            if let Some(text) = text {
                digest = fnv1a_128(digest, text.as_bytes());
            }
            digest = fnv1a_128(digest, &[0xff]);
        }

        let mut fares = GtfsFares {
            digest,
            ..GtfsFares::default()
        };
        let (fare_prices, fare_index) =
            load_attributes(&attributes_path, attributes_text, &mut fares)?;
        load_stops(&stops_path, stops_text, &mut fares)?;
        match rules_text {
            Some(text) => load_rules(&rules_path, text, &fare_prices, &fare_index, &mut fares)?,
            None => {
                let key = FareKey {
                    route: ANY,
                    origin: ANY,
                    destination: ANY,
                };
                for (fare_ix, &price) in fare_prices.iter().enumerate() {
                    let fare_ix = u32::try_from(fare_ix).expect("fare count checked when loading");
                    fares.insert(key, price, fare_ix, 0, &rules_path);
                }
            }
        }
        if fares.ambiguities > MAX_AMBIGUITY_WARNINGS {
            fares.warnings.push(format!(
                "{} more ambiguous fares not listed; the lowest price is used for each",
                fares.ambiguities - MAX_AMBIGUITY_WARNINGS
            ));
        }
        Ok(fares)
    }

    /// The zone of a stop: `None` when the stop is not in stops.txt, `Some(NO_ZONE)` when it
    /// has no zone.
    pub fn zone_of(&self, stop_id: &str) -> Option<u32> {
        self.stops.get(stop_id).copied()
    }

    /// The interned route; `NO_ZONE` (any) when no fare rule names it, so that only rules with
    /// an empty route match.
    pub fn route(&self, route_id: &str) -> u32 {
        self.routes.get(route_id).copied().unwrap_or(ANY)
    }

    /// The fare from zone `origin` to zone `destination` on `route` (interned ids; `NO_ZONE`
    /// for "no such route / no zone").
    pub fn fare(&self, route: u32, origin: u32, destination: u32) -> Option<u64> {
        let given = pattern_of(route, origin, destination);
        for level in PATTERNS_BY_SPECIFICITY {
            let mut best: Option<u64> = None;
            for (i, &pattern) in level.iter().enumerate() {
                // Levels 3 and 0 repeat their single pattern; try it once.
                if i > 0 && pattern == level[0] {
                    break;
                }
                if self.patterns_present & (1 << pattern) == 0 || pattern & !given != 0 {
                    continue;
                }
                let key = FareKey {
                    route: if pattern & 1 != 0 { route } else { ANY },
                    origin: if pattern & 2 != 0 { origin } else { ANY },
                    destination: if pattern & 4 != 0 { destination } else { ANY },
                };
                if let Some(entry) = self.prices.get(&key) {
                    best = Some(best.map_or(entry.price, |b| b.min(entry.price)));
                }
            }
            if best.is_some() {
                return best;
            }
        }
        None
    }

    /// The highest fare from `origin` to any zone (or to a stop without zone) on `route`.
    pub fn max_fare_from(&self, route: u32, origin: u32) -> Option<u64> {
        self.all_zones()
            .filter_map(|destination| self.fare(route, origin, destination))
            .max()
    }

    /// The highest fare from any zone (or a stop without zone) to `destination` on `route`.
    pub fn max_fare_to(&self, route: u32, destination: u32) -> Option<u64> {
        self.all_zones()
            .filter_map(|origin| self.fare(route, origin, destination))
            .max()
    }

    fn all_zones(&self) -> impl Iterator<Item = u32> {
        let count = u32::try_from(self.zone_names.len())
            .expect("zone count fits u32 (checked when interning)");
        (0..count).chain(std::iter::once(ANY))
    }

    /// Fare rules loaded (after skipping those that could not be used).
    /// Every fare as (route, origin zone, destination zone, price), names as in the feed and
    /// `*` for "any": what `kanjo programme diff` compares between two feeds, whose interned
    /// ids differ.
    pub fn named_fares(&self) -> impl Iterator<Item = (&str, &str, &str, u64)> {
        fn name(names: &[Box<str>], id: u32) -> &str {
            if id == ANY { "*" } else { &names[id as usize] }
        }
        self.prices.iter().map(move |(key, entry)| {
            (
                name(&self.route_names, key.route),
                name(&self.zone_names, key.origin),
                name(&self.zone_names, key.destination),
                entry.price,
            )
        })
    }

    pub fn rules_loaded(&self) -> usize {
        self.rules_loaded
    }

    pub fn stop_count(&self) -> usize {
        self.stops.len()
    }

    /// Distinct prices among the loaded fares.
    pub fn distinct_prices(&self) -> usize {
        let mut prices: Vec<u64> = self.prices.values().map(|e| e.price).collect();
        prices.sort_unstable();
        prices.dedup();
        prices.len()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// FNV-1a 128 of the three files read.
    pub fn digest(&self) -> u128 {
        self.digest
    }

    /// Every stop id (for tools that build rides from the feed).
    pub fn stop_ids(&self) -> impl Iterator<Item = &str> {
        self.stops.keys().map(|k| &**k)
    }

    fn insert(&mut self, key: FareKey, price: u64, fare_ix: u32, line_no: usize, file: &Path) {
        self.patterns_present |= 1 << pattern_of(key.route, key.origin, key.destination);
        self.rules_loaded += 1;
        let new = FareEntry {
            price,
            fare_ix,
            line_no: u32::try_from(line_no).unwrap_or(u32::MAX),
        };
        let Some(old) = self.prices.get(&key).copied() else {
            self.prices.insert(key, new);
            return;
        };
        if old.price == price {
            return;
        }
        let low = if price < old.price { new } else { old };
        self.ambiguities += 1;
        if self.ambiguities <= MAX_AMBIGUITY_WARNINGS {
            let name = |id: u32, names: &[Box<str>]| {
                if id == ANY {
                    String::new()
                } else {
                    names[id as usize].to_string()
                }
            };
            self.warnings.push(format!(
                "{} line {line_no}: ambiguous fare for route `{}` origin `{}` destination `{}`: \
                 {} ({price} JPY) here, {} ({} JPY) at line {}; the lowest, {} JPY, is used",
                file.display(),
                name(key.route, &self.route_names),
                name(key.origin, &self.zone_names),
                name(key.destination, &self.zone_names),
                self.fare_ids[fare_ix as usize],
                self.fare_ids[old.fare_ix as usize],
                old.price,
                old.line_no,
                low.price,
            ));
        }
        self.prices.insert(key, low);
    }

    fn intern_route(&mut self, name: &str) -> u32 {
        intern(&mut self.routes, &mut self.route_names, name)
    }

    fn intern_zone(&mut self, name: &str) -> u32 {
        intern(&mut self.zones, &mut self.zone_names, name)
    }
}

fn pattern_of(route: u32, origin: u32, destination: u32) -> u8 {
    u8::from(route != ANY) | (u8::from(origin != ANY) << 1) | (u8::from(destination != ANY) << 2)
}

fn intern(table: &mut HashMap<Box<str>, u32>, names: &mut Vec<Box<str>>, name: &str) -> u32 {
    if let Some(&id) = table.get(name) {
        return id;
    }
    // Files are at most MAX_GTFS_FILE_BYTES, so there are far fewer than u32::MAX - 1 names.
    let id = u32::try_from(names.len()).expect("GTFS files are bounded, so ids fit u32");
    assert!(id != ANY);
    table.insert(name.into(), id);
    names.push(name.into());
    id
}

fn read_text(path: &Path) -> Result<String, GtfsError> {
    let error = |problem: String| GtfsError {
        file: path.to_path_buf(),
        line_no: None,
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
    if meta.len() > MAX_GTFS_FILE_BYTES {
        return Err(error(format!(
            "file is larger than {MAX_GTFS_FILE_BYTES} bytes"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| error(format!("not UTF-8: {e}")))
}

/// Column positions from a header row.
struct Columns<'r, 'a> {
    names: &'r [Cow<'a, str>],
}

impl Columns<'_, '_> {
    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.trim() == name)
    }
}

fn field<'r>(fields: &'r [Cow<'_, str>], column: Option<usize>) -> &'r str {
    column
        .and_then(|c| fields.get(c))
        .map(|f| f.trim())
        .unwrap_or("")
}

/// A per-record problem, with its line.
struct LineProblem(usize, String);

fn with_line(path: &Path, error: CsvError<LineProblem>) -> GtfsError {
    let (line_no, problem) = match error {
        CsvError::UnclosedQuote { line_no } => (line_no, "unclosed quote".to_string()),
        CsvError::AfterQuote { line_no } => (line_no, "text after a closing quote".to_string()),
        CsvError::Record(LineProblem(line_no, problem)) => (line_no, problem),
    };
    GtfsError {
        file: path.to_path_buf(),
        line_no: Some(line_no),
        problem,
    }
}

/// fare_id → index into the price list.
type FareIndex = HashMap<Box<str>, u32>;

/// Reads fare_attributes.txt: the price per fare index and the fare_id → index map.
fn load_attributes(
    path: &Path,
    text: &str,
    fares: &mut GtfsFares,
) -> Result<(Vec<u64>, FareIndex), GtfsError> {
    let mut columns: Option<(Option<usize>, Option<usize>, Option<usize>)> = None;
    let mut prices: Vec<u64> = Vec::new();
    let mut by_id: HashMap<Box<str>, u32> = HashMap::new();
    for_each_record(text, |line_no, fields| {
        let Some((id_col, price_col, currency_col)) = columns else {
            let header = Columns { names: fields };
            let (id, price) = (header.find("fare_id"), header.find("price"));
            if id.is_none() || price.is_none() {
                return Err(LineProblem(line_no, "header needs fare_id and price columns".into()));
            }
            columns = Some((id, price, header.find("currency_type")));
            return Ok(());
        };
        let fare_id = field(fields, id_col);
        if fare_id.is_empty() {
            return Err(LineProblem(line_no, "empty fare_id".into()));
        }
        let currency = field(fields, currency_col);
        if !currency.is_empty() && currency != "JPY" {
            return Err(LineProblem(
                line_no,
                format!("fare `{fare_id}` is in `{currency}`; only JPY fares (minor unit: 1 yen) are supported"),
            ));
        }
        let price_text = field(fields, price_col);
        let price = parse_yen(price_text).ok_or_else(|| {
            LineProblem(line_no, format!("fare `{fare_id}` has price `{price_text}`, not a whole number of yen"))
        })?;
        match by_id.get(fare_id) {
            Some(&ix) => {
                fares.warnings.push(format!(
                    "{} line {line_no}: fare_id `{fare_id}` is defined again; the lowest price is used",
                    path.display()
                ));
                let slot = &mut prices[ix as usize];
                *slot = (*slot).min(price);
            }
            None => {
                let ix = u32::try_from(prices.len()).map_err(|_| LineProblem(line_no, "too many fares".into()))?;
                by_id.insert(fare_id.into(), ix);
                fares.fare_ids.push(fare_id.into());
                prices.push(price);
            }
        }
        Ok(())
    })
    .map_err(|e| with_line(path, e))?;
    if columns.is_none() {
        return Err(empty_file(path));
    }
    Ok((prices, by_id))
}

fn empty_file(path: &Path) -> GtfsError {
    GtfsError {
        file: path.to_path_buf(),
        line_no: None,
        problem: "empty file (no header)".into(),
    }
}

/// "160", "160.0" or "160.00" → 160; anything else (negative, fractional yen) → None.
fn parse_yen(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return None;
    }
    whole.parse().ok()
}

fn load_stops(path: &Path, text: &str, fares: &mut GtfsFares) -> Result<(), GtfsError> {
    let mut columns: Option<(Option<usize>, Option<usize>)> = None;
    for_each_record(text, |line_no, fields| {
        let Some((id_col, zone_col)) = columns else {
            let header = Columns { names: fields };
            let id = header.find("stop_id");
            if id.is_none() {
                return Err(LineProblem(line_no, "header needs a stop_id column".into()));
            }
            columns = Some((id, header.find("zone_id")));
            return Ok(());
        };
        let stop_id = field(fields, id_col);
        if stop_id.is_empty() {
            return Err(LineProblem(line_no, "empty stop_id".into()));
        }
        let zone_id = field(fields, zone_col);
        let zone = if zone_id.is_empty() {
            NO_ZONE
        } else {
            fares.intern_zone(zone_id)
        };
        fares.stops.insert(stop_id.into(), zone);
        Ok(())
    })
    .map_err(|e| with_line(path, e))?;
    if columns.is_none() {
        return Err(empty_file(path));
    }
    Ok(())
}

fn load_rules(
    path: &Path,
    text: &str,
    fare_prices: &[u64],
    fare_index: &HashMap<Box<str>, u32>,
    fares: &mut GtfsFares,
) -> Result<(), GtfsError> {
    type RuleColumns = (
        Option<usize>,
        Option<usize>,
        Option<usize>,
        Option<usize>,
        Option<usize>,
    );
    let mut columns: Option<RuleColumns> = None;
    let mut unknown_fare = 0usize;
    let mut with_contains = 0usize;
    for_each_record(text, |line_no, fields| {
        let Some((fare_col, route_col, origin_col, destination_col, contains_col)) = columns else {
            let header = Columns { names: fields };
            let fare = header.find("fare_id");
            if fare.is_none() {
                return Err(LineProblem(line_no, "header needs a fare_id column".into()));
            }
            columns = Some((
                fare,
                header.find("route_id"),
                header.find("origin_id"),
                header.find("destination_id"),
                header.find("contains_id"),
            ));
            return Ok(());
        };
        let Some(&fare_ix) = fare_index.get(field(fields, fare_col)) else {
            unknown_fare += 1;
            return Ok(());
        };
        if !field(fields, contains_col).is_empty() {
            // A rider's path through zones is not known from a tap-on/tap-off pair.
            with_contains += 1;
            return Ok(());
        }
        let (route, origin, destination) = (
            field(fields, route_col),
            field(fields, origin_col),
            field(fields, destination_col),
        );
        let key = FareKey {
            route: if route.is_empty() {
                ANY
            } else {
                fares.intern_route(route)
            },
            origin: if origin.is_empty() {
                ANY
            } else {
                fares.intern_zone(origin)
            },
            destination: if destination.is_empty() {
                ANY
            } else {
                fares.intern_zone(destination)
            },
        };
        fares.insert(key, fare_prices[fare_ix as usize], fare_ix, line_no, path);
        Ok(())
    })
    .map_err(|e| with_line(path, e))?;
    if columns.is_none() {
        return Err(empty_file(path));
    }
    if unknown_fare > 0 {
        fares.warnings.push(format!(
            "{}: {unknown_fare} fare rules name a fare_id missing from fare_attributes.txt and are ignored",
            path.display()
        ));
    }
    if with_contains > 0 {
        fares.warnings.push(format!(
            "{}: {with_contains} fare rules use contains_id, which a tap-on/tap-off pair cannot satisfy, and are ignored",
            path.display()
        ));
    }
    Ok(())
}
