//! The baseline's rating: the fare from the GTFS fare table and the programme's discounts for the
//! demo rider kinds, done the simple way a first implementation would (see baseline.rs).
//!
//! It implements the discounts that matter for the commuter mix: free for residents aged 75+,
//! half (rounded up to 10 yen) after returning a licence or for elementary-school children, a
//! 200-yen fixed fare for other residents, 10 points per resident ride. No daily cap.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use jiff::civil::Date;

pub const MURORAN_CODE: &str = "012050";
pub const RESIDENT_FIXED_FARE_YEN: u64 = 200;
pub const RESIDENT_POINTS_PER_RIDE: u64 = 10;

#[derive(Debug, Default)]
pub struct FareTable {
    zone_of_stop: HashMap<String, String>,
    /// (route, origin zone, destination zone) → yen.
    fares: HashMap<(String, String, String), u64>,
}

impl FareTable {
    pub fn load(feed_dir: &Path) -> Result<FareTable> {
        let read = |name: &str| -> Result<String> {
            let path = feed_dir.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let rows = |text: &str, columns: &[&str]| -> Result<Vec<Vec<String>>> {
            let mut lines = text.lines();
            let header: Vec<&str> = lines
                .next()
                .unwrap_or_default()
                .trim_start_matches('\u{feff}')
                .split(',')
                .collect();
            let positions: Vec<usize> = columns
                .iter()
                .map(|name| {
                    header
                        .iter()
                        .position(|column| column.trim() == *name)
                        .with_context(|| format!("no column {name}"))
                })
                .collect::<Result<_>>()?;
            Ok(lines
                .filter(|line| !line.trim().is_empty())
                .map(|line| {
                    let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
                    positions
                        .iter()
                        .map(|&p| fields.get(p).copied().unwrap_or("").trim().to_owned())
                        .collect()
                })
                .collect())
        };
        let mut table = FareTable::default();
        for row in rows(&read("stops.txt")?, &["stop_id", "zone_id"])? {
            let [stop, zone] = <[String; 2]>::try_from(row).expect("two columns asked");
            let zone = if zone.is_empty() { stop.clone() } else { zone };
            table.zone_of_stop.insert(stop, zone);
        }
        let prices: HashMap<String, u64> =
            rows(&read("fare_attributes.txt")?, &["fare_id", "price"])?
                .into_iter()
                .map(|row| {
                    Ok((
                        row[0].clone(),
                        row[1]
                            .parse::<u64>()
                            .with_context(|| format!("price of {}", row[0]))?,
                    ))
                })
                .collect::<Result<_>>()?;
        for row in rows(
            &read("fare_rules.txt")?,
            &["fare_id", "route_id", "origin_id", "destination_id"],
        )? {
            let Some(&price) = prices.get(&row[0]) else {
                bail!("fare rule names unknown fare {}", row[0]);
            };
            table
                .fares
                .insert((row[1].clone(), row[2].clone(), row[3].clone()), price);
        }
        Ok(table)
    }

    pub fn fare(&self, route: &str, from_stop: &str, to_stop: &str) -> Option<u64> {
        let from = self.zone_of_stop.get(from_stop)?;
        let to = self.zone_of_stop.get(to_stop)?;
        self.fares
            .get(&(route.to_owned(), from.clone(), to.clone()))
            .copied()
    }
}

/// The rider attributes the baseline reads from its riders table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiderAttributes {
    pub birth_date: Date,
    pub residence: String,
    pub license_returned_on: Option<Date>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rated {
    pub fare_yen: u64,
    pub rider_pays_yen: u64,
    pub points: u64,
}

/// Rates one ride on `on` (the local date) for a rider, or a visitor when `rider` is None.
pub fn rate(fare_yen: u64, rider: Option<&RiderAttributes>, on: Date) -> Rated {
    let Some(rider) = rider else {
        return Rated {
            fare_yen,
            rider_pays_yen: fare_yen,
            points: 0,
        };
    };
    let resident = rider.residence == MURORAN_CODE;
    let half_up_10 = (fare_yen.div_ceil(2)).div_ceil(10) * 10;
    let mut pays = fare_yen;
    if resident && age_on(rider.birth_date, on) >= 75 {
        pays = 0;
    }
    if resident
        && rider
            .license_returned_on
            .is_some_and(|returned| returned <= on)
    {
        pays = pays.min(half_up_10);
    }
    if is_elementary(rider.birth_date, on) {
        pays = pays.min(half_up_10);
    }
    if resident {
        pays = pays.min(RESIDENT_FIXED_FARE_YEN);
    }
    Rated {
        fare_yen,
        rider_pays_yen: pays.min(fare_yen),
        points: if resident {
            RESIDENT_POINTS_PER_RIDE
        } else {
            0
        },
    }
}

pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = i32::from(on.year()) - i32::from(birth.year());
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// Japanese school years start 1 April; those born 2 April Y..1 April Y+1 start grade 1 on 1 April Y+7.
pub fn is_elementary(birth: Date, on: Date) -> bool {
    let cohort = if (birth.month(), birth.day()) >= (4, 2) {
        i32::from(birth.year())
    } else {
        i32::from(birth.year()) - 1
    };
    let school_year = if on.month() >= 4 {
        i32::from(on.year())
    } else {
        i32::from(on.year()) - 1
    };
    let grade = school_year - (cohort + 7) + 1;
    (1..=6).contains(&grade)
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_resident_aged_75_rides_free_and_earns_points() {
        let senior = RiderAttributes {
            birth_date: date(1948, 5, 2),
            residence: MURORAN_CODE.into(),
            license_returned_on: None,
        };
        assert_eq!(
            rate(280, Some(&senior), date(2026, 11, 25)),
            Rated {
                fare_yen: 280,
                rider_pays_yen: 0,
                points: 10
            }
        );
    }

    #[test]
    fn children_pay_half_rounded_up_to_ten_yen_and_visitors_pay_full() {
        let child = RiderAttributes {
            birth_date: date(2019, 5, 1),
            residence: "011002".into(),
            license_returned_on: None,
        };
        assert_eq!(
            rate(270, Some(&child), date(2026, 11, 25)).rider_pays_yen,
            140
        );
        assert_eq!(rate(270, None, date(2026, 11, 25)).rider_pays_yen, 270);
    }

    #[test]
    fn school_stage_follows_the_april_cohorts() {
        assert!(is_elementary(date(2020, 4, 1), date(2026, 11, 26)));
        assert!(!is_elementary(date(2020, 4, 2), date(2026, 11, 26)));
        assert!(is_elementary(date(2014, 4, 2), date(2026, 11, 26)));
        assert!(!is_elementary(date(2014, 4, 1), date(2026, 11, 26)));
    }

    #[test]
    fn the_muroran_fare_table_prices_a_known_trip() {
        let table = FareTable::load(&kanjo_workload::timetable::muroran_feed_dir()).unwrap();
        assert_eq!(table.fare("100100", "0122_A", "0123_A"), Some(210));
        assert_eq!(table.fare("100100", "nowhere", "0123_A"), None);
    }
}
