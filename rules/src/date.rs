//! Calendar dates in the programme's time zone, and the date arithmetic of eligibility:
//! completed years of age, the Japanese school grade and the Japanese fiscal year.
//!
//! All of it is integer arithmetic on (year, month, day); nothing here reads a clock.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date. Field order makes the derived ordering chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalDate {
    pub year: i16,
    pub month: u8,
    pub day: u8,
}

/// A date string that is not a real `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a date of the form YYYY-MM-DD")]
pub struct DateError {
    pub text: String,
}

impl LocalDate {
    /// A valid Gregorian date, or `None` (e.g. 2026-02-29).
    pub fn new(year: i16, month: u8, day: u8) -> Option<LocalDate> {
        let month_i8 = i8::try_from(month).ok()?;
        let day_i8 = i8::try_from(day).ok()?;
        jiff::civil::Date::new(year, month_i8, day_i8).ok()?;
        Some(LocalDate { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<LocalDate, DateError> {
        let error = || DateError {
            text: text.chars().take(40).collect(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(error());
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            bytes[range].iter().try_fold(0u32, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
            })
        };
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return Err(error());
        };
        let year = i16::try_from(year).map_err(|_| error())?;
        let month = u8::try_from(month).map_err(|_| error())?;
        let day = u8::try_from(day).map_err(|_| error())?;
        LocalDate::new(year, month, day).ok_or_else(error)
    }

    pub fn from_jiff(date: jiff::civil::Date) -> LocalDate {
        // jiff months are 1..=12 and days 1..=31, so the casts are lossless.
        LocalDate {
            year: date.year(),
            month: date.month() as u8,
            day: date.day() as u8,
        }
    }

    /// The date `days` later (earlier when negative); `None` out of jiff's range.
    pub fn add_days(self, days: i32) -> Option<LocalDate> {
        let date = jiff::civil::Date::new(self.year, self.month as i8, self.day as i8).ok()?;
        let span = jiff::Span::new().try_days(i64::from(days)).ok()?;
        date.checked_add(span).ok().map(LocalDate::from_jiff)
    }

    /// The Japanese fiscal year (and school year) containing this date: it starts on 1 April,
    /// so 2027-03-31 is in FY2026 and 2027-04-01 in FY2027.
    #[inline]
    pub fn fiscal_year(self) -> i32 {
        if self.month >= 4 {
            i32::from(self.year)
        } else {
            i32::from(self.year) - 1
        }
    }

    /// Completed years of age on `on` for someone born on `self`; `None` before birth.
    /// The birthday itself counts as the new age. Comparing (month, day) pairs makes a
    /// 29 February birthday fall on 1 March in common years: 02-28 < 02-29 ≤ 03-01.
    #[inline]
    pub fn age_on(self, on: LocalDate) -> Option<u32> {
        if on < self {
            return None;
        }
        let before_birthday = (on.month, on.day) < (self.month, self.day);
        let age = i32::from(on.year) - i32::from(self.year) - i32::from(before_birthday);
        debug_assert!(age >= 0);
        u32::try_from(age).ok()
    }

    /// The school grade on `on` of someone born on `self`: 1..=6 elementary, 7..=9 junior
    /// high; 0 or less before school, 10 or more after. People born 2 April Y .. 1 April Y+1
    /// form one cohort and start grade 1 on 1 April Y+7.
    #[inline]
    pub fn school_grade_on(self, on: LocalDate) -> i32 {
        let cohort_year = if (self.month, self.day) >= (4, 2) {
            i32::from(self.year)
        } else {
            i32::from(self.year) - 1
        };
        on.fiscal_year() - (cohort_year + 7) + 1
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<LocalDate, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        LocalDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> LocalDate {
        LocalDate::parse(text).expect("test date")
    }

    #[test]
    fn parse_accepts_only_real_dates_in_iso_form() {
        assert_eq!(
            d("2026-11-25"),
            LocalDate {
                year: 2026,
                month: 11,
                day: 25
            }
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-25",
            "2026/11/25",
            "",
            "2026-11-25T00",
        ] {
            assert!(LocalDate::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
    }

    #[test]
    fn fiscal_year_turns_on_first_of_april() {
        assert_eq!(d("2027-03-31").fiscal_year(), 2026);
        assert_eq!(d("2027-04-01").fiscal_year(), 2027);
    }

    #[test]
    fn add_days_crosses_months_and_leap_days() {
        assert_eq!(d("2028-02-28").add_days(1), Some(d("2028-02-29")));
        assert_eq!(d("2027-03-31").add_days(1), Some(d("2027-04-01")));
        assert_eq!(d("2027-01-01").add_days(-1), Some(d("2026-12-31")));
    }

    #[test]
    fn leap_day_birthday_is_first_of_march_in_common_years() {
        let born = d("2000-02-29");
        assert_eq!(born.age_on(d("2023-02-28")), Some(22));
        assert_eq!(born.age_on(d("2023-03-01")), Some(23));
        assert_eq!(born.age_on(d("2024-02-28")), Some(23));
        assert_eq!(born.age_on(d("2024-02-29")), Some(24));
        assert_eq!(born.age_on(d("1999-01-01")), None);
    }
}
