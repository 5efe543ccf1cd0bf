//! The baseline's rating: kanjo-rules on the programme kanjo runs, so that the comparison changes
//! only the storage, not the rating code. Rider records come from the baseline's own table, read
//! per ride; budget use, daily caps and ride counters stay in this process behind one lock, as
//! in an application that rates in process and stores balances in PostgreSQL.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use kanjo_rules::{Programme, RateError, Rating, RatingState, RideRef, RiderRecord, Riders};

pub struct Rater {
    programme: Arc<Programme>,
    state: Mutex<RaterState>,
}

struct RaterState {
    riders: Riders,
    rating: RatingState,
}

/// What rating one ride came to.
pub enum Rated {
    /// Rated and its effects committed: the baseline posts it.
    Posted(Rating),
    /// Rated, but `accept` refused it (a wallet that can't pay): nothing committed.
    Declined(Rating),
}

impl Rater {
    pub fn load(programme: &Path) -> Result<Rater> {
        let programme = Programme::load(programme)
            .with_context(|| format!("loading the programme {}", programme.display()))?;
        Ok(Rater::new(Arc::new(programme)))
    }

    pub fn new(programme: Arc<Programme>) -> Rater {
        Rater {
            state: Mutex::new(RaterState {
                riders: Riders::new(),
                rating: RatingState::new(&programme),
            }),
            programme,
        }
    }

    pub fn programme(&self) -> &Programme {
        &self.programme
    }

    /// Rates `ride` for the rider whose record was just read (or a visitor), and commits the
    /// rating when `accept` takes it; rating and commit happen under one lock, so lanes never
    /// commit a stale rating.
    pub fn rate(
        &self,
        ride: &RideRef<'_>,
        rider: Option<RiderRecord>,
        accept: impl FnOnce(&Rating) -> bool,
    ) -> Result<Result<Rated, RateError>> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| anyhow!("a baseline lane panicked while rating"))?;
        let RaterState { riders, rating } = &mut *state;
        if let Some(record) = rider {
            // The table's copy is the truth: replace what an earlier ride read.
            riders
                .upsert(record)
                .map_err(|error| anyhow!("a stored rider record is invalid: {error}"))?;
        }
        let resolved = match self.programme.resolve_ride_ref(riders, ride) {
            Ok(resolved) => resolved,
            Err(error) => return Ok(Err(error)),
        };
        let rated = match kanjo_rules::rate(&self.programme, riders, rating, &resolved) {
            Ok(rated) => rated,
            Err(error) => return Ok(Err(error)),
        };
        if !accept(&rated) {
            return Ok(Ok(Rated::Declined(rated)));
        }
        kanjo_rules::commit(rating, &resolved, &rated);
        Ok(Ok(Rated::Posted(rated)))
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn muroran() -> Rater {
        Rater::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/muroran/programme.toml"
        )))
        .expect("the Muroran programme loads")
    }

    fn ride<'a>(rider: Option<&'a str>) -> RideRef<'a> {
        RideRef {
            at: "2026-11-25T07:45:00+09:00"
                .parse::<Timestamp>()
                .expect("a valid instant"),
            operator: "donan-bus",
            route: Some("100100"),
            from: Some("0122_A"),
            to: Some("0123_A"),
            rider,
        }
    }

    #[test]
    fn a_resident_aged_75_rides_free_as_kanjo_rates_it() {
        let rater = muroran();
        let senior: RiderRecord = serde_json::from_str(
            r#"{"rider":"r-senior","birth_date":"1948-05-02","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#,
        )
        .expect("a rider record");
        let Ok(Ok(Rated::Posted(rating))) =
            rater.rate(&ride(Some("r-senior")), Some(senior), |_| true)
        else {
            panic!("the ride is rated and posted");
        };
        assert_eq!((rating.fare, rating.rider_pays), (210, 0));
        assert_eq!(rating.grants.as_slice().len(), 1, "ride points");
    }

    #[test]
    fn a_visitor_pays_the_fare_and_a_declined_ride_commits_nothing() {
        let rater = muroran();
        let Ok(Ok(Rated::Declined(rating))) = rater.rate(&ride(None), None, |_| false) else {
            panic!("the ride is rated and declined");
        };
        assert_eq!((rating.fare, rating.rider_pays), (210, 210));
        let unknown = RideRef {
            to: Some("nowhere"),
            ..ride(None)
        };
        let Ok(Err(error)) = rater.rate(&unknown, None, |_| true) else {
            panic!("an unknown stop is a rating error");
        };
        assert_eq!(error.code(), "unknown_stop");
    }
}
