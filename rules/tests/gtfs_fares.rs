//! spec/rating.md "A GTFS fare is found through fare_rules.txt", on a small hand-made feed
//! and on the real Muroran feed.

mod common;

use std::path::Path;

use common::*;
use kanjo_rules::{FareSource, Programme, RateError, RideFields, Riders};

fn write_feed(dir: &Path, attributes: &str, rules: &str, stops: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("fare_attributes.txt"), attributes).expect("write");
    std::fs::write(dir.join("fare_rules.txt"), rules).expect("write");
    std::fs::write(dir.join("stops.txt"), stops).expect("write");
}

const ATTRIBUTES: &str = "fare_id,price,currency_type,payment_method,transfers\n\
    any,500,JPY,0,0\nroute,400,JPY,0,0\norigin,350,JPY,0,0\npair,300,JPY,0,0\n\
    exact,200,JPY,0,0\ncheap,190,JPY,0,0\ndear,210,JPY,0,0\n";

/// Stops: a/b/c in zones A/B/C, s without zone.
const STOPS: &str = "\u{feff}stop_id,stop_name,zone_id\r\na,\"Stop A, east\",A\r\nb,B stop,B\r\nc,C stop,C\r\ns,Station,\r\n";

fn feed_programme(rules: &str) -> Programme {
    let dir = temp_dir("feed");
    write_feed(&dir.join("feed"), ATTRIBUTES, rules, STOPS);
    let text = format!("{HEADER}\n[[fare_tables]]\noperator = \"rail\"\ngtfs = \"feed\"\n");
    compile_in(&dir, &text).unwrap_or_else(|e| panic!("feed loads: {e}"))
}

fn fare(p: &Programme, route: &str, from: &str, to: &str) -> Result<u64, RateError> {
    let fields = RideFields {
        at: "2026-11-25T09:00:00+09:00".into(),
        operator: "rail".into(),
        route: Some(route.into()),
        from: Some(from.into()),
        to: Some(to.into()),
        rider: None,
    };
    p.resolve_ride(&Riders::new(), &fields)
        .map(|ride| ride.fare)
}

const RULES: &str = "fare_id,route_id,origin_id,destination_id,contains_id\n\
    any,,,,\n\
    route,r1,,,\n\
    origin,,A,,\n\
    pair,,A,B,\n\
    exact,r1,A,B,\n";

#[test]
fn the_rule_with_most_matching_fields_wins() {
    let p = feed_programme(RULES);
    assert_eq!(
        fare(&p, "r1", "a", "b"),
        Ok(200),
        "route+origin+destination"
    );
    assert_eq!(
        fare(&p, "r2", "a", "b"),
        Ok(300),
        "origin+destination beats origin alone"
    );
    assert_eq!(
        fare(&p, "r2", "a", "c"),
        Ok(350),
        "origin alone beats the empty rule"
    );
    assert_eq!(fare(&p, "r1", "b", "c"), Ok(400), "route alone");
    assert_eq!(
        fare(&p, "r2", "b", "c"),
        Ok(500),
        "the all-empty rule matches everything"
    );
    assert_eq!(
        fare(&p, "r1", "s", "b"),
        Ok(400),
        "a stop without zone only matches empty origins"
    );
}

#[test]
fn among_equally_specific_rules_the_lowest_price_wins_and_the_ambiguity_is_reported() {
    let rules = "fare_id,route_id,origin_id,destination_id\n\
        dear,r1,A,B\ncheap,r1,A,B\n\
        dear,r1,A,\ncheap,,A,B\n";
    let p = feed_programme(rules);
    assert_eq!(fare(&p, "r1", "a", "b"), Ok(190));
    // Two-field rules: (r1, A, *) at 210 and (*, A, B) at 190: the lowest.
    assert_eq!(fare(&p, "r1", "a", "c"), Ok(210));
    assert_eq!(fare(&p, "r9", "a", "b"), Ok(190));
    let ambiguities: Vec<&String> = p
        .warnings()
        .iter()
        .filter(|w| w.contains("ambiguous"))
        .collect();
    assert_eq!(ambiguities.len(), 1, "{:?}", p.warnings());
    assert!(ambiguities[0].contains("190"), "{}", ambiguities[0]);
}

#[test]
fn an_unknown_stop_and_a_missing_fare_are_errors_with_their_codes() {
    let p = feed_programme("fare_id,route_id,origin_id,destination_id\nexact,r1,A,B\n");
    let unknown = fare(&p, "r1", "a", "nope").expect_err("unknown stop");
    assert_eq!(unknown.code(), "unknown_stop");
    assert!(unknown.to_string().contains("nope"));
    assert_eq!(
        fare(&p, "r1", "b", "a").map_err(|e| e.code()),
        Err("no_fare")
    );
    assert_eq!(
        fare(&p, "r2", "a", "b").map_err(|e| e.code()),
        Err("no_fare")
    );
}

#[test]
fn without_fare_rules_the_lowest_fare_applies_everywhere() {
    let dir = temp_dir("no-rules");
    let feed = dir.join("feed");
    std::fs::create_dir_all(&feed).expect("mkdir");
    std::fs::write(
        feed.join("fare_attributes.txt"),
        "fare_id,price,currency_type\nx,230,JPY\ny,210,JPY\n",
    )
    .expect("write");
    std::fs::write(feed.join("stops.txt"), "stop_id,zone_id\na,A\nb,\n").expect("write");
    let p = compile_in(
        &dir,
        &format!("{HEADER}\n[[fare_tables]]\noperator = \"rail\"\ngtfs = \"feed\"\n"),
    )
    .expect("loads");
    assert_eq!(fare(&p, "any", "a", "b"), Ok(210));
}

#[test]
fn max_fares_from_and_to_a_stop_cover_every_destination() {
    let p = feed_programme(RULES);
    let rail = p.operator("rail").expect("operator");
    // From a on r1: A→B 200, A→C 350 (origin rule), A→no zone 350: max 350.
    assert_eq!(p.max_fare_from(rail, "r1", "a"), Ok(350));
    assert_eq!(p.max_fare_to(rail, "r1", "b"), Ok(400));
    assert_eq!(
        p.max_fare_from(rail, "r1", "zz").map_err(|e| e.code()),
        Err("unknown_stop")
    );
    let town = p.operator("town-bus").expect("operator");
    assert_eq!(p.max_fare_from(town, "whatever", "x"), Ok(100), "flat fare");
}

#[test]
fn a_flat_fare_ignores_route_and_stops() {
    let p = with_rules("");
    let fields = RideFields {
        at: "2026-11-25T09:00:00+09:00".into(),
        operator: "town-bus".into(),
        route: Some("nope".into()),
        from: None,
        to: Some("nowhere".into()),
        rider: None,
    };
    assert_eq!(
        p.resolve_ride(&Riders::new(), &fields).map(|r| r.fare),
        Ok(100)
    );
}

#[test]
fn a_price_that_is_not_whole_yen_or_not_jpy_is_rejected_with_file_and_line() {
    let dir = temp_dir("bad-price");
    write_feed(
        &dir.join("feed"),
        "fare_id,price,currency_type\nx,1.5,JPY\n",
        "fare_id\nx\n",
        STOPS,
    );
    let error = compile_in(
        &dir,
        &format!("{HEADER}\n[[fare_tables]]\noperator = \"rail\"\ngtfs = \"feed\"\n"),
    )
    .expect_err("fractional yen");
    let message = error.to_string();
    assert!(
        message.contains("fare_attributes.txt line 2") && message.contains("1.5"),
        "{message}"
    );
    write_feed(
        &dir.join("feed"),
        "fare_id,price,currency_type\nx,1.50,USD\n",
        "fare_id\nx\n",
        STOPS,
    );
    let error = compile_in(
        &dir,
        &format!("{HEADER}\n[[fare_tables]]\noperator = \"rail\"\ngtfs = \"feed\"\n"),
    )
    .expect_err("not yen");
    assert!(error.to_string().contains("USD"), "{error}");
}

#[test]
fn the_muroran_feed_loads_all_its_rules_and_prices_and_reports_its_ambiguities() {
    let p = programme(&format!(
        "{HEADER}\n[[fare_tables]]\noperator = \"donan-bus\"\ngtfs = \"{}\"\n",
        muroran().display()
    ));
    let donan = p.operator("donan-bus").expect("operator");
    let FareSource::Gtfs(fares) = p.fare_source(donan) else {
        panic!("a GTFS table")
    };
    assert_eq!(fares.rules_loaded(), 64_977);
    // fare_attributes.txt lists 46 fares, 160..=650 yen, and fare_rules.txt uses every one
    // (the issue text says 43; the file says 46).
    assert_eq!(fares.distinct_prices(), 46);
    assert_eq!(fares.stop_count(), 717);
    let ambiguous = p
        .warnings()
        .iter()
        .filter(|w| w.contains("ambiguous"))
        .count();
    assert!(ambiguous > 0, "the feed has real ambiguities");
    // The example's trips.
    let fare = |from: &str, to: &str| {
        let fields = RideFields {
            at: "2026-11-25T09:00:00+09:00".into(),
            operator: "donan-bus".into(),
            route: Some("100100".into()),
            from: Some(from.into()),
            to: Some(to.into()),
            rider: None,
        };
        p.resolve_ride(&Riders::new(), &fields).map(|r| r.fare)
    };
    assert_eq!(fare("0122_A", "0179_A"), Ok(280));
    assert_eq!(fare("0122_A", "0391_B"), Ok(330));
    assert_eq!(fare("0122_A", "0123_A"), Ok(210));
    assert!(p.max_fare_from(donan, "100100", "0122_A").expect("a fare") >= 330);
}
