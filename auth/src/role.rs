//! Roles and principals.
//!
//! # Text form
//!
//! | role | text |
//! |---|---|
//! | a bus or rail operator | `operator:{operator}` (e.g. `operator:donan-bus`) |
//! | a shop | `shop:{shop}` (e.g. `shop:books`) |
//! | a bank or clearing source of top-ups | `bank:{source}` (e.g. `bank:suzu-bank`) |
//! | an election office | `election-office:{station},{station},…` (at least one station) |
//! | the town's administrator | `town-admin` |
//! | a finance clerk | `clerk` |
//! | an auditor | `auditor` |
//!
//! The name after the first `:` is taken whole, so an operator or shop name may itself hold `:`
//! (as account names allow). Names are 1..=[`NAME_BYTES_MAX`] bytes without control characters
//! (NUL included); station names also can't hold `,`. An election office's stations are kept
//! sorted, and a station named twice is refused, so each role has exactly one text form:
//! `Role::parse(&role.to_string()) == Ok(role)`.
//!
//! [`NAME_BYTES_MAX`]: crate::NAME_BYTES_MAX

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::key::KeyId;
use crate::{NAME_BYTES_MAX, ROLE_TEXT_BYTES_MAX, STATIONS_PER_KEY_MAX};

/// What a key may do is decided by its role alone (see [`crate::scope`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Ride and tap events of its own operator; reads its own `operator:{op}:*` accounts and
    /// reports.
    Operator { operator: String },
    /// Purchases, authorisations, captures, voids and refunds at its own shop; reads its own
    /// accounts and statements.
    Shop { shop: String },
    /// Top-ups and withdrawals through its own source.
    Bank { source: String },
    /// Redeems (ballot check-ins) at its own stations only; reads nothing.
    ElectionOffice { stations: Vec<String> },
    /// Riders, grants, shops, programme changes and keys.
    TownAdmin,
    /// Reads reports, statements and reconciliations; resolves reconciliation exceptions.
    Clerk,
    /// Reads everything, and runs `kanjo verify`; writes nothing.
    Auditor,
}

/// The seven kinds of role, in the order of the scope table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleKind {
    Operator,
    Shop,
    Bank,
    ElectionOffice,
    TownAdmin,
    Clerk,
    Auditor,
}

impl RoleKind {
    pub const ALL: [RoleKind; 7] = [
        RoleKind::Operator,
        RoleKind::Shop,
        RoleKind::Bank,
        RoleKind::ElectionOffice,
        RoleKind::TownAdmin,
        RoleKind::Clerk,
        RoleKind::Auditor,
    ];

    /// The text before `:` in a role (`operator`, `election-office`, `town-admin`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Operator => "operator",
            RoleKind::Shop => "shop",
            RoleKind::Bank => "bank",
            RoleKind::ElectionOffice => "election-office",
            RoleKind::TownAdmin => "town-admin",
            RoleKind::Clerk => "clerk",
            RoleKind::Auditor => "auditor",
        }
    }

    fn from_name(name: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether the role's text carries a name (or, for an election office, stations).
    fn is_named(self) -> bool {
        matches!(
            self,
            RoleKind::Operator | RoleKind::Shop | RoleKind::Bank | RoleKind::ElectionOffice
        )
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a role's text or a name in it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RoleError {
    #[error("role is empty")]
    Empty,
    #[error("role is {length_bytes} bytes, more than the {ROLE_TEXT_BYTES_MAX} allowed")]
    TooLong { length_bytes: usize },
    #[error(
        "unknown role {0:?}: expected operator:NAME, shop:NAME, bank:NAME, election-office:STATIONS, town-admin, clerk or auditor"
    )]
    Unknown(String),
    #[error("role `{role}` needs a name after `{role}:`")]
    MissingName { role: RoleKind },
    #[error("role `{role}` takes no name, but got {name:?}")]
    UnexpectedName { role: RoleKind, name: String },
    #[error("a name in a role is empty")]
    EmptyName,
    #[error("name {name:?} is {length_bytes} bytes, more than the {NAME_BYTES_MAX} allowed")]
    NameTooLong { name: String, length_bytes: usize },
    #[error("name {name:?} holds a control character (NUL included)")]
    ControlCharacter { name: String },
    #[error("an election office needs at least one station")]
    NoStations,
    #[error("{count} stations, more than the {STATIONS_PER_KEY_MAX} one key may hold")]
    TooManyStations { count: usize },
    #[error("station {0:?} is named twice")]
    DuplicateStation(String),
    #[error("station {0:?} holds `,`, which separates stations")]
    CommaInStation(String),
    #[error("stations must be sorted (as `Role::election_office` and `Role::parse` keep them)")]
    StationsUnsorted,
}

impl RoleError {
    pub fn code(&self) -> &'static str {
        match self {
            RoleError::Empty => "empty_role",
            RoleError::TooLong { .. } => "role_too_long",
            RoleError::Unknown(_) => "unknown_role",
            RoleError::MissingName { .. } => "missing_name",
            RoleError::UnexpectedName { .. } => "unexpected_name",
            RoleError::EmptyName => "empty_name",
            RoleError::NameTooLong { .. } => "name_too_long",
            RoleError::ControlCharacter { .. } => "control_character",
            RoleError::NoStations => "no_stations",
            RoleError::TooManyStations { .. } => "too_many_stations",
            RoleError::DuplicateStation(_) => "duplicate_station",
            RoleError::CommaInStation(_) => "comma_in_station",
            RoleError::StationsUnsorted => "stations_unsorted",
        }
    }
}

/// Checks one operator, shop, source or station name.
pub fn check_name(name: &str) -> Result<(), RoleError> {
    if name.is_empty() {
        return Err(RoleError::EmptyName);
    }
    if name.len() > NAME_BYTES_MAX {
        return Err(RoleError::NameTooLong {
            name: truncated(name),
            length_bytes: name.len(),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(RoleError::ControlCharacter {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Error messages quote at most this many characters of what they refuse.
const QUOTED_CHARS_MAX: usize = 32;

fn truncated(text: &str) -> String {
    if text.chars().count() <= QUOTED_CHARS_MAX {
        return text.to_owned();
    }
    text.chars().take(QUOTED_CHARS_MAX).collect::<String>() + "…"
}

impl Role {
    pub fn operator(operator: &str) -> Result<Role, RoleError> {
        check_name(operator)?;
        Ok(Role::Operator {
            operator: operator.to_owned(),
        })
    }

    pub fn shop(shop: &str) -> Result<Role, RoleError> {
        check_name(shop)?;
        Ok(Role::Shop {
            shop: shop.to_owned(),
        })
    }

    pub fn bank(source: &str) -> Result<Role, RoleError> {
        check_name(source)?;
        Ok(Role::Bank {
            source: source.to_owned(),
        })
    }

    /// An election office for these stations (in any order; kept sorted). Refuses no stations,
    /// more than [`STATIONS_PER_KEY_MAX`], a bad name, a `,` in a name, or a station named twice.
    pub fn election_office<S: AsRef<str>>(stations: &[S]) -> Result<Role, RoleError> {
        if stations.is_empty() {
            return Err(RoleError::NoStations);
        }
        if stations.len() > STATIONS_PER_KEY_MAX {
            return Err(RoleError::TooManyStations {
                count: stations.len(),
            });
        }
        let mut sorted: Vec<String> = Vec::with_capacity(stations.len());
        for station in stations {
            let station = station.as_ref();
            check_station(station)?;
            sorted.push(station.to_owned());
        }
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(RoleError::DuplicateStation(pair[0].clone()));
        }
        Ok(Role::ElectionOffice { stations: sorted })
    }

    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Operator { .. } => RoleKind::Operator,
            Role::Shop { .. } => RoleKind::Shop,
            Role::Bank { .. } => RoleKind::Bank,
            Role::ElectionOffice { .. } => RoleKind::ElectionOffice,
            Role::TownAdmin => RoleKind::TownAdmin,
            Role::Clerk => RoleKind::Clerk,
            Role::Auditor => RoleKind::Auditor,
        }
    }

    /// Parses the text form (see the module docs). Election-office stations may come in any
    /// order; they are kept sorted.
    pub fn parse(text: &str) -> Result<Role, RoleError> {
        if text.is_empty() {
            return Err(RoleError::Empty);
        }
        if text.len() > ROLE_TEXT_BYTES_MAX {
            return Err(RoleError::TooLong {
                length_bytes: text.len(),
            });
        }
        let (kind_text, name) = match text.split_once(':') {
            Some((kind_text, name)) => (kind_text, Some(name)),
            None => (text, None),
        };
        let kind =
            RoleKind::from_name(kind_text).ok_or_else(|| RoleError::Unknown(truncated(text)))?;
        match (kind.is_named(), name) {
            (true, None) => return Err(RoleError::MissingName { role: kind }),
            (false, Some(name)) => {
                return Err(RoleError::UnexpectedName {
                    role: kind,
                    name: truncated(name),
                });
            }
            _ => {}
        }
        let name = name.unwrap_or("");
        match kind {
            RoleKind::Operator => Role::operator(name),
            RoleKind::Shop => Role::shop(name),
            RoleKind::Bank => Role::bank(name),
            RoleKind::ElectionOffice => {
                if name.is_empty() {
                    return Err(RoleError::NoStations);
                }
                let count = name.bytes().filter(|byte| *byte == b',').count() + 1;
                if count > STATIONS_PER_KEY_MAX {
                    return Err(RoleError::TooManyStations { count });
                }
                let stations: Vec<&str> = name.split(',').collect();
                Role::election_office(&stations)
            }
            RoleKind::TownAdmin => Ok(Role::TownAdmin),
            RoleKind::Clerk => Ok(Role::Clerk),
            RoleKind::Auditor => Ok(Role::Auditor),
        }
    }

    /// Checks a role built directly from its variants: what `parse` and the constructors
    /// guarantee (names, stations sorted and unique, the bounds).
    pub fn check(&self) -> Result<(), RoleError> {
        match self {
            Role::Operator { operator: name }
            | Role::Shop { shop: name }
            | Role::Bank { source: name } => check_name(name),
            Role::ElectionOffice { stations } => {
                if stations.is_empty() {
                    return Err(RoleError::NoStations);
                }
                if stations.len() > STATIONS_PER_KEY_MAX {
                    return Err(RoleError::TooManyStations {
                        count: stations.len(),
                    });
                }
                stations
                    .iter()
                    .try_for_each(|station| check_station(station))?;
                for pair in stations.windows(2) {
                    if pair[0] == pair[1] {
                        return Err(RoleError::DuplicateStation(pair[0].clone()));
                    }
                    if pair[0] > pair[1] {
                        return Err(RoleError::StationsUnsorted);
                    }
                }
                Ok(())
            }
            Role::TownAdmin | Role::Clerk | Role::Auditor => Ok(()),
        }
    }

    /// The role as error messages name it: the full text, except that an election office is
    /// named with its station count rather than a list that may run to a thousand names.
    pub fn label(&self) -> String {
        match self {
            Role::ElectionOffice { stations } if stations.len() > 1 => {
                format!("election-office ({} stations)", stations.len())
            }
            _ => self.to_string(),
        }
    }
}

fn check_station(station: &str) -> Result<(), RoleError> {
    check_name(station)?;
    if station.contains(',') {
        return Err(RoleError::CommaInStation(station.to_owned()));
    }
    Ok(())
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Operator { operator } => write!(f, "operator:{operator}"),
            Role::Shop { shop } => write!(f, "shop:{shop}"),
            Role::Bank { source } => write!(f, "bank:{source}"),
            Role::ElectionOffice { stations } => {
                f.write_str("election-office:")?;
                for (index, station) in stations.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(station)?;
                }
                Ok(())
            }
            Role::TownAdmin | Role::Clerk | Role::Auditor => f.write_str(self.kind().name()),
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(text: &str) -> Result<Role, RoleError> {
        Role::parse(text)
    }
}

/// Key records carry the role as its text form.
impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Role::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Who is acting: the key that authenticated the request and that key's role. The engine records
/// the key id with every accepted event ("who did it").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    pub key_id: KeyId,
    pub role: Role,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {} ({})", self.key_id, self.role.label())
    }
}
