//! `Programme`: a town's programme file compiled once into lookup tables and rule lists.
//! Immutable after `load`, `Send + Sync`, shared by every rating thread.

mod def;
mod source;

pub use source::{
    PACKED_FILES_MAX, PACKED_PROGRAMME_NAME, PROGRAMME_SOURCE_BYTES_MAX, PackError, PackedSource,
    ProgrammeSource,
};

use std::path::{Path, PathBuf};

use hashbrown::HashMap;
use jiff::Timestamp;

use crate::date::LocalDate;
use crate::error::RateError;
use crate::gtfs::{GtfsError, GtfsFares};
use crate::ids::{AssetIx, BudgetIx, FNV_OFFSET_128, OperatorIx, RiderKey, RuleIx, fnv1a_128};
use crate::limits::{MAX_PROGRAMME_FILE_BYTES, MAX_RIDER_ID_BYTES};
use crate::pass::PassProduct;
use crate::ride::{Ride, RideFields, RideRef};
use crate::riders::Riders;
use crate::rule::{CapRule, DiscountRule, GrantRule, RuleKind};

/// Where a programme's GTFS fares come from: (operator code, folder) → fares.
pub type GtfsLoader<'a> = &'a mut dyn FnMut(&str, &Path) -> Result<GtfsFares, GtfsError>;

/// A subsidy budget for one Japanese fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub id: String,
    pub fiscal_year: i32,
    /// Yen.
    pub limit: u64,
}

/// How an operator's fare is found.
#[derive(Debug)]
pub enum FareSource {
    Flat(u64),
    Gtfs(Box<GtfsFares>),
}

#[derive(Debug)]
pub(crate) struct Operator {
    pub code: String,
    pub fares: FareSource,
}

/// A programme that cannot be used. Every message names the file and what in it is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProgrammeError {
    #[error("{}: cannot read the programme: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: {context}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        context: String,
        problem: String,
    },
    #[error("{}: fare table `{operator}`: {source}", path.display())]
    Gtfs {
        path: PathBuf,
        operator: String,
        source: GtfsError,
    },
}

/// A compiled programme.
#[derive(Debug)]
pub struct Programme {
    pub(crate) town_code: String,
    pub(crate) town_name: String,
    pub(crate) timezone: jiff::tz::TimeZone,
    pub(crate) operators: Vec<Operator>,
    pub(crate) operator_by_code: HashMap<String, OperatorIx>,
    pub(crate) budgets: Vec<Budget>,
    pub(crate) rule_ids: Vec<String>,
    pub(crate) rule_kinds: Vec<RuleKind>,
    pub(crate) discounts: Vec<DiscountRule>,
    pub(crate) caps: Vec<CapRule>,
    pub(crate) grants: Vec<GrantRule>,
    pub(crate) assets: Vec<String>,
    pub(crate) passes: Vec<PassProduct>,
    pub(crate) warnings: Vec<String>,
    pub(crate) digest: u128,
}

impl Programme {
    /// Reads and compiles a programme; GTFS folders are relative to the file.
    pub fn load(path: &Path) -> Result<Programme, ProgrammeError> {
        let text = read_programme_text(path)?;
        Programme::from_toml(path, &text)
    }

    /// The pass products (`[[passes]]`), in file order.
    pub fn passes(&self) -> &[PassProduct] {
        &self.passes
    }

    /// The pass product with that id.
    pub fn pass(&self, id: &str) -> Option<&PassProduct> {
        self.passes.iter().find(|p| p.id == id)
    }

    /// Compiles programme text as if read from `path` (used for messages and GTFS paths).
    pub fn from_toml(path: &Path, text: &str) -> Result<Programme, ProgrammeError> {
        Programme::from_toml_with(path, text, &mut |_, dir| GtfsFares::load(dir))
    }

    /// Compiles programme text, reading each operator's GTFS fares through `gtfs` (operator
    /// code, folder as written relative to `path`): from disk, or from a stored source.
    pub fn from_toml_with(
        path: &Path,
        text: &str,
        gtfs: GtfsLoader<'_>,
    ) -> Result<Programme, ProgrammeError> {
        let c = def::compile(path, text, gtfs)?;
        let mut digest = fnv1a_128(FNV_OFFSET_128, text.as_bytes());
        for op in &c.operators {
            if let FareSource::Gtfs(fares) = &op.fares {
                digest = fnv1a_128(digest, &fares.digest().to_le_bytes());
            }
        }
        let programme = Programme {
            town_code: c.town_code,
            town_name: c.town_name,
            timezone: c.timezone,
            operators: c.operators,
            operator_by_code: c.operator_by_code,
            budgets: c.budgets,
            rule_ids: c.rule_ids,
            rule_kinds: c.rule_kinds,
            discounts: c.discounts,
            caps: c.caps,
            grants: c.grants,
            assets: c.assets,
            passes: c.passes,
            warnings: c.warnings,
            digest,
        };
        assert_eq!(programme.rule_ids.len(), programme.rule_kinds.len());
        assert_eq!(
            programme.discounts.len() + programme.caps.len() + programme.grants.len(),
            programme.rule_ids.len()
        );
        Ok(programme)
    }

    pub fn town_code(&self) -> &str {
        &self.town_code
    }

    pub fn town_name(&self) -> &str {
        &self.town_name
    }

    pub fn operators(&self) -> impl Iterator<Item = (OperatorIx, &str)> {
        self.operators
            .iter()
            .enumerate()
            .map(|(ix, op)| (OperatorIx(ix as u16), op.code.as_str()))
    }

    pub fn operator(&self, code: &str) -> Option<OperatorIx> {
        self.operator_by_code.get(code).copied()
    }

    pub fn operator_code(&self, operator: OperatorIx) -> &str {
        &self.operators[operator.index()].code
    }

    pub fn fare_source(&self, operator: OperatorIx) -> &FareSource {
        &self.operators[operator.index()].fares
    }

    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }

    pub fn budget(&self, budget: BudgetIx) -> &Budget {
        &self.budgets[budget.index()]
    }

    pub fn rule_count(&self) -> usize {
        self.rule_ids.len()
    }

    pub fn rule_id(&self, rule: RuleIx) -> &str {
        &self.rule_ids[rule.index()]
    }

    pub fn rule_kind(&self, rule: RuleIx) -> RuleKind {
        self.rule_kinds[rule.index()]
    }

    /// Asset codes granted by rules, dense, in order of first mention.
    pub fn assets(&self) -> impl Iterator<Item = (AssetIx, &str)> {
        self.assets
            .iter()
            .enumerate()
            .map(|(ix, code)| (AssetIx(ix as u16), code.as_str()))
    }

    pub fn asset_code(&self, asset: AssetIx) -> &str {
        &self.assets[asset.index()]
    }

    /// Non-fatal findings, e.g. GTFS fare rules with two prices for one key.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// FNV-1a 128 of the programme text and every fare file it loaded.
    pub fn source_digest(&self) -> u128 {
        self.digest
    }

    pub fn timezone(&self) -> &jiff::tz::TimeZone {
        &self.timezone
    }

    /// The calendar date of an instant in the programme's time zone.
    pub fn local_date(&self, at: Timestamp) -> LocalDate {
        LocalDate::from_jiff(self.timezone.to_datetime(at).date())
    }

    /// Turns the strings of a ride into indices and its fare: all the parsing and lookups
    /// happen here, so `rate` and `commit` need none.
    pub fn resolve_ride(&self, riders: &Riders, ride: &RideFields) -> Result<Ride, RateError> {
        let at: Timestamp = ride
            .at
            .parse()
            .map_err(|e| RateError::BadEvent(format!("`at` is not an RFC 3339 time: {e}")))?;
        self.resolve_ride_ref(
            riders,
            &RideRef {
                at,
                operator: &ride.operator,
                route: ride.route.as_deref(),
                from: ride.from.as_deref(),
                to: ride.to.as_deref(),
                rider: ride.rider.as_deref(),
            },
        )
    }

    /// `resolve_ride` for a caller that already holds the instant and borrowed strings (the
    /// engine): no allocation and no time parsing.
    pub fn resolve_ride_ref(&self, riders: &Riders, ride: &RideRef) -> Result<Ride, RateError> {
        let at = ride.at;
        let operator = self
            .operator(ride.operator)
            .ok_or_else(|| RateError::UnknownOperator(ride.operator.to_owned()))?;
        let fare = match &self.operators[operator.index()].fares {
            FareSource::Flat(fare) => *fare,
            FareSource::Gtfs(fares) => {
                let (Some(route), Some(from), Some(to)) = (ride.route, ride.from, ride.to) else {
                    return Err(RateError::BadEvent(format!(
                        "a ride on `{}` needs `route`, `from` and `to`",
                        ride.operator
                    )));
                };
                let origin = fares
                    .zone_of(from)
                    .ok_or_else(|| RateError::UnknownStop(from.to_owned()))?;
                let destination = fares
                    .zone_of(to)
                    .ok_or_else(|| RateError::UnknownStop(to.to_owned()))?;
                fares
                    .fare(fares.route(route), origin, destination)
                    .ok_or_else(|| {
                        RateError::NoFare(format!("route `{route}` from `{from}` to `{to}`"))
                    })?
            }
        };
        let rider_key = match ride.rider {
            None => None,
            Some("") => return Err(RateError::BadEvent("`rider` is empty".into())),
            Some(id) if id.len() > MAX_RIDER_ID_BYTES => {
                return Err(RateError::BadEvent(format!(
                    "`rider` is longer than {MAX_RIDER_ID_BYTES} bytes"
                )));
            }
            Some(id) => Some(RiderKey::of(id)),
        };
        Ok(Ride {
            at,
            day: self.local_date(at),
            operator,
            fare,
            rider: ride.rider.and_then(|id| riders.get(id)),
            rider_key,
        })
    }

    /// The highest fare from a boarding stop on a route (for a tap-on without tap-off); the
    /// flat fare for a flat table.
    pub fn max_fare_from(
        &self,
        operator: OperatorIx,
        route: &str,
        from_stop: &str,
    ) -> Result<u64, RateError> {
        self.max_fare(operator, route, from_stop, |fares, route, zone| {
            fares.max_fare_from(route, zone)
        })
    }

    /// The highest fare to an alighting stop on a route; the flat fare for a flat table.
    pub fn max_fare_to(
        &self,
        operator: OperatorIx,
        route: &str,
        to_stop: &str,
    ) -> Result<u64, RateError> {
        self.max_fare(operator, route, to_stop, |fares, route, zone| {
            fares.max_fare_to(route, zone)
        })
    }

    fn max_fare(
        &self,
        operator: OperatorIx,
        route: &str,
        stop: &str,
        max: impl Fn(&GtfsFares, u32, u32) -> Option<u64>,
    ) -> Result<u64, RateError> {
        let op = self
            .operators
            .get(operator.index())
            .ok_or_else(|| RateError::UnknownOperator(format!("#{}", operator.0)))?;
        match &op.fares {
            FareSource::Flat(fare) => Ok(*fare),
            FareSource::Gtfs(fares) => {
                let zone = fares
                    .zone_of(stop)
                    .ok_or_else(|| RateError::UnknownStop(stop.to_string()))?;
                max(fares, fares.route(route), zone)
                    .ok_or_else(|| RateError::NoFare(format!("route `{route}` at stop `{stop}`")))
            }
        }
    }
}

/// A programme file's text, refused before it is read whole when it is larger than
/// `MAX_PROGRAMME_FILE_BYTES`.
pub(crate) fn read_programme_text(path: &Path) -> Result<String, ProgrammeError> {
    let io = |source| ProgrammeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_PROGRAMME_FILE_BYTES {
        return Err(ProgrammeError::Invalid {
            path: path.to_path_buf(),
            context: "file".into(),
            problem: format!("larger than {MAX_PROGRAMME_FILE_BYTES} bytes"),
        });
    }
    std::fs::read_to_string(path).map_err(io)
}
