//! Local service-day times: generators think in "seconds after local midnight" on one date in a
//! fixed offset (Japan has no daylight saving), and turn them into instants only when emitting.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::Offset;

/// Japan Standard Time, UTC+9.
pub const JST_OFFSET_HOURS: i8 = 9;
pub const SECONDS_PER_DAY: i64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalDay {
    pub date: Date,
    midnight_unix_s: i64,
}

impl LocalDay {
    pub fn jst(date: Date) -> LocalDay {
        let midnight = Offset::constant(JST_OFFSET_HOURS)
            .to_timestamp(date.at(0, 0, 0, 0))
            .expect("a calendar date's midnight in JST is a valid instant");
        LocalDay {
            date,
            midnight_unix_s: midnight.as_second(),
        }
    }

    /// The instant `seconds` after local midnight; GTFS times past 24:00 land on the next day.
    pub fn at(&self, seconds_after_midnight: i64) -> Timestamp {
        Timestamp::from_second(self.midnight_unix_s + seconds_after_midnight)
            .expect("generator times stay within a few days of the service date")
    }
}

/// Parses a GTFS time "HH:MM:SS" (hours may exceed 23) into seconds after midnight.
pub fn parse_gtfs_time(text: &str) -> Option<i64> {
    let mut parts = text.trim().split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some()
        || !(0..60).contains(&minutes)
        || !(0..60).contains(&seconds)
        || hours < 0
    {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_nine_hours_ahead_of_utc() {
        let day = LocalDay::jst(jiff::civil::date(2026, 11, 26));
        assert_eq!(
            day.at(7 * 3600 + 30 * 60).to_string(),
            "2026-11-25T22:30:00Z"
        );
    }

    #[test]
    fn gtfs_times_past_midnight_are_accepted() {
        assert_eq!(parse_gtfs_time("06:45:00"), Some(6 * 3600 + 45 * 60));
        assert_eq!(parse_gtfs_time("25:01:02"), Some(25 * 3600 + 62));
        assert_eq!(parse_gtfs_time("06:75:00"), None);
        assert_eq!(parse_gtfs_time("6:45"), None);
    }
}
