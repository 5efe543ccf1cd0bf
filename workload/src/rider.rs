//! Rider records in the `kanjo rate` riders format (spec/rating.md), and the attribute mix of a
//! generated population. Riders are pseudonymous ids; records carry only what rating needs.

use jiff::civil::{Date, date};
use serde::{Deserialize, Serialize};

use super::rng::{mix, reduce};

/// Muroran's local government code: residents of the demo town.
pub const MURORAN_CODE: &str = "012050";
/// Where visitors come from (Sapporo).
pub const VISITOR_CODE: &str = "011002";
/// Kobe: the election scenario's city.
pub const KOBE_CODE: &str = "281000";

/// One line of a riders file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiderRecord {
    pub rider: String,
    pub birth_date: String,
    pub residence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_returned_on: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disability: bool,
    pub verified_at: String,
    pub valid_until: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The attribute groups of the commuter mix; exclusive, so the shares add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RiderKind {
    /// Resident aged 75 or more on the service date.
    Senior,
    /// Resident aged 60–74 who has returned their driving licence.
    LicenceReturned,
    /// Resident child of elementary-school age.
    Child,
    /// Lives elsewhere.
    Visitor,
    /// Working-age resident with no special attribute.
    Resident,
}

/// Shares of each kind in per mille, in the order of `RiderKind`'s first four; the rest are residents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiderMix {
    pub senior_per_mille: u32,
    pub licence_returned_per_mille: u32,
    pub child_per_mille: u32,
    pub visitor_per_mille: u32,
    /// Of all riders, how many pay from their stored-value wallet.
    pub wallet_per_mille: u32,
}

impl RiderMix {
    /// The issue's mix: 15 % aged 75+, 5 % licence returned, 10 % children, 20 % visitors, half wallet.
    pub const COMMUTER: RiderMix = RiderMix {
        senior_per_mille: 150,
        licence_returned_per_mille: 50,
        child_per_mille: 100,
        visitor_per_mille: 200,
        wallet_per_mille: 500,
    };

    pub fn kind_of(&self, hash: u64) -> RiderKind {
        let total = self.senior_per_mille
            + self.licence_returned_per_mille
            + self.child_per_mille
            + self.visitor_per_mille;
        assert!(total <= 1000, "the mix's shares exceed 100 %");
        let slot = reduce(hash, 1000) as u32;
        let mut bound = self.senior_per_mille;
        if slot < bound {
            return RiderKind::Senior;
        }
        bound += self.licence_returned_per_mille;
        if slot < bound {
            return RiderKind::LicenceReturned;
        }
        bound += self.child_per_mille;
        if slot < bound {
            return RiderKind::Child;
        }
        bound += self.visitor_per_mille;
        if slot < bound {
            return RiderKind::Visitor;
        }
        RiderKind::Resident
    }
}

/// A record for a rider of `kind`, with the service date deciding ages; `hash` varies the details.
pub fn record_for(rider: String, kind: RiderKind, service_date: Date, hash: u64) -> RiderRecord {
    let year = i32::from(service_date.year());
    let detail = mix(hash, 1, 0);
    // Birth dates are drawn in whole years before the service year, on a day that exists every year,
    // and kept clear of the age boundaries so the kind holds on the service date.
    let birth = |oldest_years: i32, youngest_years: i32| -> Date {
        assert!(oldest_years > youngest_years);
        let span = (oldest_years - youngest_years) as u64;
        let years_ago = youngest_years + 1 + reduce(detail, span) as i32;
        let month = 1 + reduce(mix(detail, 2, 0), 12) as i8;
        let day = 1 + reduce(mix(detail, 3, 0), 28) as i8;
        date((year - years_ago) as i16, month, day)
    };
    let (birth_date, residence, license_returned_on) = match kind {
        RiderKind::Senior => (birth(95, 76), MURORAN_CODE, None),
        RiderKind::LicenceReturned => {
            let returned = date(
                (year - 1 - reduce(mix(detail, 4, 0), 5) as i32) as i16,
                4,
                1,
            );
            (birth(74, 61), MURORAN_CODE, Some(returned.to_string()))
        }
        // Elementary school: grades 1–6 on the service date means 7–12 years old at the last 1 April;
        // born between 2 April and 1 April of the cohort years. Middle of the cohort: May–February.
        RiderKind::Child => {
            let school_year = if service_date.month() >= 4 {
                year
            } else {
                year - 1
            };
            let grade = 1 + reduce(mix(detail, 5, 0), 6) as i32;
            // Grade 1 in school year Y: born 2 April Y-7 .. 1 April Y-6.
            let cohort_start = school_year - 6 - grade;
            let month_offset = reduce(mix(detail, 6, 0), 10) as i32; // May .. February
            let (birth_year, month) = if month_offset < 8 {
                (cohort_start, 5 + month_offset)
            } else {
                (cohort_start + 1, month_offset - 7)
            };
            let day = 1 + reduce(mix(detail, 7, 0), 28) as i8;
            (
                date(birth_year as i16, month as i8, day),
                MURORAN_CODE,
                None,
            )
        }
        RiderKind::Visitor => (birth(70, 19), VISITOR_CODE, None),
        RiderKind::Resident => (birth(64, 19), MURORAN_CODE, None),
    };
    RiderRecord {
        rider,
        birth_date: birth_date.to_string(),
        residence: residence.to_owned(),
        license_returned_on,
        disability: false,
        verified_at: date(service_date.year() - 1, 4, 1).to_string(),
        valid_until: date(service_date.year() + 1, 3, 31).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_on(birth: &str, on: Date) -> i32 {
        let birth: Date = birth.parse().unwrap();
        let mut age = i32::from(on.year() - birth.year());
        if (on.month(), on.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        age
    }

    #[test]
    fn every_kind_gets_a_record_that_proves_it_on_the_service_date() {
        let service = date(2026, 11, 26);
        for index in 0..2_000u64 {
            let hash = mix(11, 0, index);
            for kind in [
                RiderKind::Senior,
                RiderKind::LicenceReturned,
                RiderKind::Child,
                RiderKind::Visitor,
                RiderKind::Resident,
            ] {
                let record = record_for(format!("r-{index}"), kind, service, hash);
                let age = age_on(&record.birth_date, service);
                match kind {
                    RiderKind::Senior => assert!(age >= 75, "{record:?}"),
                    RiderKind::LicenceReturned => {
                        assert!((60..75).contains(&age), "{record:?}");
                        let returned: Date = record
                            .license_returned_on
                            .as_deref()
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert!(returned <= service);
                    }
                    // Elementary school on 26 Nov 2026: born 2 Apr 2014 ..= 1 Apr 2020.
                    RiderKind::Child => {
                        let birth: Date = record.birth_date.parse().unwrap();
                        assert!(
                            birth >= date(2014, 4, 2) && birth <= date(2020, 4, 1),
                            "{record:?}"
                        );
                    }
                    RiderKind::Visitor => assert_ne!(record.residence, MURORAN_CODE),
                    RiderKind::Resident => assert!((18..65).contains(&age), "{record:?}"),
                }
                assert!(record.valid_until.as_str() > service.to_string().as_str());
            }
        }
    }

    #[test]
    fn a_record_serializes_in_the_riders_file_format() {
        let record = record_for("r-1".into(), RiderKind::Resident, date(2026, 11, 26), 5);
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            json.starts_with(r#"{"rider":"r-1","birth_date":""#),
            "{json}"
        );
        assert!(
            !json.contains("license_returned_on") && !json.contains("disability"),
            "{json}"
        );
    }
}
