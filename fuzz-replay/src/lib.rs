//! The bodies of kanjo's fuzz targets, one function per target.
//!
//! `fuzz/` (a cargo-fuzz project outside the workspace, built on nightly) calls each function
//! from its `fuzz_target!`, and `tests/corpus_replay.rs` runs every committed corpus file
//! through the same function on stable, in the normal test run. So a crash the fuzzer found
//! stays fixed: its input is in the corpus, and the replay would panic again.
//!
//! Each function takes untrusted bytes exactly as the edge takes them (a request body, a file,
//! a scanned QR code, a stored log payload) and calls the parser the production path calls. It
//! returns nothing: a target fails only by panicking. Besides "never panics", each target
//! asserts what the rest of kanjo relies on when the parser accepts an input: an accepted event,
//! rider or shop fits the log's limits and its stored text replays to the same value; a payload
//! or record that parses encodes back to the same thing.

use std::borrow::Cow;
use std::path::Path;

use kanjo_core::chart::{AssetBook, AssetSection};
use kanjo_core::event::{Event, parse_batch};
use kanjo_core::limits::check_entry;
use kanjo_core::riders::parse_riders_at_most;
use kanjo_core::shops::{ShopSpec, parse_shops};
use kanjo_ledger::TRANSFERS_PER_BATCH_MAX;
use kanjo_rules::RiderRecord;
use kanjo_rules::gtfs::csv::for_each_record;
use kanjo_rules::gtfs::{GtfsFares, GtfsTexts};
use kanjo_rules::programme::Programme;

/// A target's body: untrusted bytes in, a panic on any finding.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus folder (`fuzz/corpus/<name>/`) and fuzz binary.
pub const TARGETS: [(&str, Target); 8] = [
    ("event_batch", event_batch),
    ("rider_records", rider_records),
    ("shop_records", shop_records),
    ("programme_toml", programme_toml),
    ("gtfs_csv", gtfs_csv),
    ("gtfs_fares", gtfs_fares),
    ("qr_payload", qr_payload),
    ("log_codec", log_codec),
];

/// Items per request body, as the engine takes them (`SUBMISSION_EVENTS_MAX` is the ledger's
/// batch limit).
const ITEMS_MAX: usize = TRANSFERS_PER_BATCH_MAX;

/// Where the programme and GTFS targets pretend their files are: a folder that does not exist,
/// so a programme naming a relative GTFS folder gets an I/O error, never a real file.
const FUZZ_DIR: &str = "/nonexistent/kanjo-fuzz";

/// Stops whose fares the GTFS target looks up, each way.
const LOOKUP_STOPS_MAX: usize = 8;

/// Separates the three GTFS files in one fuzz input: 0xFF never occurs in UTF-8.
const GTFS_FILE_SEPARATOR: u8 = 0xFF;

/// A `POST /v1/events` body (JSON array or NDJSON), cut and parsed as the API does.
pub fn event_batch(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(items) = parse_batch(body, ITEMS_MAX) else {
        return;
    };
    assert!(items.len() <= ITEMS_MAX);
    for event in items.into_iter().flatten() {
        check_event_replays(&event);
    }
}

/// An accepted event fits a log entry, and its canonical JSON (what the log stores) parses back
/// to the same event and the same text.
fn check_event_replays(event: &Event) {
    let canonical = event.canonical_json();
    check_entry(&event.id, canonical.len())
        .unwrap_or_else(|error| panic!("accepted event does not fit the log: {error}"));
    let replayed = Event::parse(&canonical)
        .unwrap_or_else(|error| panic!("canonical event {canonical} does not parse: {error}"));
    assert_eq!(&replayed, event, "canonical JSON {canonical}");
    assert_eq!(replayed.canonical_json(), canonical);
}

/// A `POST /v1/riders` body, parsed as the API does.
pub fn rider_records(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(items) = parse_riders_at_most(body, ITEMS_MAX) else {
        return;
    };
    assert!(items.len() <= ITEMS_MAX);
    for checked in items.into_iter().flatten() {
        let (canonical, record) = checked.into_entry();
        check_entry(&record.rider, canonical.len())
            .unwrap_or_else(|error| panic!("accepted rider does not fit the log: {error}"));
        // What replay does with the stored text (engine pipeline `decode_entry`).
        let replayed: RiderRecord = serde_json::from_str(&canonical)
            .unwrap_or_else(|error| panic!("canonical rider {canonical} does not parse: {error}"));
        assert_eq!(replayed, record, "canonical rider {canonical}");
    }
}

/// The assets a shop record is checked against: a stablecoin and a points asset, as in the
/// Muroran example.
fn shop_assets() -> AssetBook {
    let text = r#"
        [[assets]]
        code = "SUZU"
        kind = "stablecoin"
        [[assets]]
        code = "muro-pt"
        kind = "points"
    "#;
    let section: AssetSection = toml::from_str(text).expect("the fuzz asset section parses");
    AssetBook::from_section("fuzz.toml", section, &[]).expect("the fuzz asset book is valid")
}

/// A `POST /v1/shops` body, parsed as the API does.
pub fn shop_records(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let assets = shop_assets();
    let Ok(items) = parse_shops(body, &assets, ITEMS_MAX) else {
        return;
    };
    assert!(items.len() <= ITEMS_MAX);
    for (canonical, spec) in items.into_iter().flatten() {
        check_entry(&spec.id, canonical.len())
            .unwrap_or_else(|error| panic!("accepted shop does not fit the log: {error}"));
        let replayed: ShopSpec = serde_json::from_str(&canonical)
            .unwrap_or_else(|error| panic!("canonical shop {canonical} does not parse: {error}"));
        assert_eq!(replayed, spec, "canonical shop {canonical}");
    }
}

/// A programme file's bytes, compiled as `Programme::load` compiles them.
pub fn programme_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new(FUZZ_DIR).join("programme.toml");
    let Ok(programme) = Programme::from_toml(&path, text) else {
        return;
    };
    // Walk what was compiled: every index handed out resolves.
    for (operator, code) in programme.operators() {
        assert_eq!(programme.operator(code), Some(operator));
        assert_eq!(programme.operator_code(operator), code);
    }
    for (asset, code) in programme.assets() {
        assert_eq!(programme.asset_code(asset), code);
    }
    for pass in programme.passes() {
        assert!(programme.pass(&pass.id).is_some());
    }
}

/// A GTFS text file through the workspace's one CSV reader.
pub fn gtfs_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let mut last_line_no = 0usize;
    let mut fields_total = 0usize;
    let outcome = for_each_record(text, |line_no, fields: &[Cow<'_, str>]| {
        assert!(
            line_no > last_line_no,
            "records go forward: {line_no} after {last_line_no}"
        );
        assert!(!fields.is_empty(), "a record has at least one field");
        assert!(
            line_no <= newlines + 1,
            "line {line_no} of {newlines} newlines"
        );
        last_line_no = line_no;
        fields_total += fields.len();
        Ok::<(), ()>(())
    });
    if outcome.is_ok() {
        assert!(fields_total <= text.len() + last_line_no);
    }
}

/// Three GTFS files in one input, separated by 0xFF: `fare_attributes.txt`, `stops.txt` and,
/// when there is a third part, `fare_rules.txt`. Loaded as `GtfsFares::load` loads a folder,
/// then every lookup is tried on every stop.
pub fn gtfs_fares(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == GTFS_FILE_SEPARATOR);
    let texts: Option<Vec<&str>> = parts
        .by_ref()
        .map(|part| std::str::from_utf8(part).ok())
        .collect();
    let Some(texts) = texts else {
        return;
    };
    let attributes = texts.first().copied().unwrap_or("");
    let stops = texts.get(1).copied().unwrap_or("");
    let rules = texts.get(2).copied();
    let texts = GtfsTexts {
        fare_attributes: attributes.to_owned(),
        fare_rules: rules.map(str::to_owned),
        stops: stops.to_owned(),
    };
    let Ok(fares) = GtfsFares::from_texts(Path::new(FUZZ_DIR), &texts) else {
        return;
    };
    let zones: Vec<u32> = fares
        .stop_ids()
        .map(|stop| fares.zone_of(stop).expect("a listed stop has a zone entry"))
        .collect();
    assert_eq!(zones.len(), fares.stop_count());
    // Each max_fare_* walks every zone, so only the first few stops are looked up.
    for route_id in ["", "1", "R1"] {
        let route = fares.route(route_id);
        for &origin in zones.iter().take(LOOKUP_STOPS_MAX) {
            let max_from = fares.max_fare_from(route, origin);
            let _ = fares.max_fare_to(route, origin);
            for &destination in zones.iter().take(LOOKUP_STOPS_MAX) {
                if let Some(price) = fares.fare(route, origin, destination) {
                    assert!(
                        max_from.is_some_and(|max| max >= price),
                        "max_fare_from {max_from:?} below the fare {price}"
                    );
                }
            }
        }
    }
}

/// Bytes scanned from a QR code: an EMVCo merchant payload (shop stickers) and a signed rider
/// token. A payload that parses builds back to text that parses to the same payload.
pub fn qr_payload(data: &[u8]) {
    if let Ok(payload) = kanjo_qr::emv::parse_bytes(data) {
        let text = kanjo_qr::emv::build(&payload)
            .unwrap_or_else(|error| panic!("a parsed payload does not build: {error}"));
        let again = kanjo_qr::emv::parse(&text).expect("a built payload parses");
        assert_eq!(again, payload);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kanjo_qr::token::UnverifiedToken::parse(text);
    }
}

/// A stored log payload (SQLite's bytes, or PostgreSQL's rows re-encoded), decoded as the
/// stores decode it. A payload that decodes is canonical: it encodes back to the same bytes.
pub fn log_codec(data: &[u8]) {
    let seq = 1;
    let Ok(record) = kanjo_store::decode_payload(seq, data) else {
        return;
    };
    assert_eq!(record.seq, seq);
    assert_eq!(kanjo_store::encode_payload(&record), data);
}
