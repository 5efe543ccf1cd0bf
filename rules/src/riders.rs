//! The rider registry: pseudonymous rider id → the attributes verified once with the My Number
//! Card, compiled for rating (dates as integers, residence as a number).
//!
//! Decision on bad residence values: a rider's `residence` is data, not configuration. A value
//! that is not a valid 6-digit 全国地方公共団体コード is kept as written (the registry never
//! fails on it); since every `resident_of` / `visitor_of` code in a programme is validated, such
//! a rider is simply never a resident and always a visitor. `Riders::check_residence` lets an
//! intake path reject it up front.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::ids::RiderIx;
use crate::limits::{MAX_ATTRIBUTE_NAME_BYTES, MAX_RIDER_ATTRIBUTES, MAX_RIDER_ID_BYTES};
use crate::municipality::{self, MunicipalityCodeError};

/// One line of the riders file (spec/rating.md "Riders"). Missing optional fields mean false or
/// none; unknown fields are ignored here (the engine drops them before anything is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiderRecord {
    pub rider: String,
    #[serde(default)]
    pub birth_date: Option<LocalDate>,
    #[serde(default)]
    pub residence: Option<String>,
    #[serde(default, alias = "licence_returned_on")]
    pub license_returned_on: Option<LocalDate>,
    #[serde(default)]
    pub disability: Option<bool>,
    #[serde(default)]
    pub verified_at: Option<LocalDate>,
    #[serde(default)]
    pub valid_until: Option<LocalDate>,
    /// Facts from the town's own records (`tax_exempt_household`, `pregnancy_notice`), by the
    /// names the programme declares in `[[attributes]]`. Values are booleans or dates only, so
    /// no free text (and no My Number) can be stored here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// One custom attribute: a bare value, or a value with its own evidence dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Bool(bool),
    Date(LocalDate),
    Evidenced(EvidencedAttribute),
}

/// `{"value": true, "verified_at": "2026-04-01", "valid_until": "2027-03-31"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidencedAttribute {
    pub value: AttributeScalar,
    #[serde(default)]
    pub verified_at: Option<LocalDate>,
    #[serde(default)]
    pub valid_until: Option<LocalDate>,
}

/// The value of a custom attribute: `has` reads a boolean, `since` a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeScalar {
    Bool(bool),
    Date(LocalDate),
}

impl AttributeValue {
    fn compile(self) -> CompiledAttribute {
        let (value, valid_until) = match self {
            AttributeValue::Bool(b) => (AttributeScalar::Bool(b), None),
            AttributeValue::Date(d) => (AttributeScalar::Date(d), None),
            AttributeValue::Evidenced(e) => (e.value, e.valid_until),
        };
        CompiledAttribute { value, valid_until }
    }
}

/// A custom attribute as rating reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompiledAttribute {
    pub value: AttributeScalar,
    pub valid_until: Option<LocalDate>,
}

impl RiderRecord {
    /// Every field name a rider record may carry (with the `licence_returned_on` spelling).
    /// Anything else is not part of a rider record.
    pub const FIELDS: [&'static str; 9] = [
        "rider",
        "birth_date",
        "residence",
        "license_returned_on",
        "licence_returned_on",
        "disability",
        "verified_at",
        "valid_until",
        "attributes",
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiderError {
    #[error("rider id is empty")]
    EmptyId,
    #[error("rider id is longer than {MAX_RIDER_ID_BYTES} bytes")]
    IdTooLong,
    /// A 12-digit id could be an individual number (マイナンバー), which must never be stored.
    #[error(
        "rider id holds a 12-digit number, which could be a My Number; use a pseudonymous id without one"
    )]
    IdLooksLikeMyNumber,
    #[error("a rider record carries at most {MAX_RIDER_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error(
        "attribute names are 1 to {MAX_ATTRIBUTE_NAME_BYTES} bytes of a-z, 0-9 and `_`, starting with a letter"
    )]
    BadAttributeName,
    #[error("rider `{rider}`: {source}")]
    Residence {
        rider: String,
        source: MunicipalityCodeError,
    },
}

/// `residence` compiled: a 6-digit number, or one of these markers.
pub(crate) const RESIDENCE_NONE: u32 = u32::MAX;
/// Not six digits: equal to no programme code.
pub(crate) const RESIDENCE_OTHER: u32 = u32::MAX - 1;

/// The attributes rating reads; custom attributes sorted by name (binary search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RiderAttrs {
    pub birth_date: Option<LocalDate>,
    pub residence: u32,
    pub license_returned_on: Option<LocalDate>,
    pub disability: bool,
    pub valid_until: Option<LocalDate>,
    pub custom: Box<[(Box<str>, CompiledAttribute)]>,
}

impl RiderAttrs {
    fn compile(rec: &RiderRecord) -> RiderAttrs {
        let residence = match rec.residence.as_deref() {
            None => RESIDENCE_NONE,
            Some(code) => municipality::six_digits(code).unwrap_or(RESIDENCE_OTHER),
        };
        RiderAttrs {
            birth_date: rec.birth_date,
            residence,
            license_returned_on: rec.license_returned_on,
            disability: rec.disability.unwrap_or(false),
            valid_until: rec.valid_until,
            // BTreeMap iterates in name order, so `custom` is sorted.
            custom: rec
                .attributes
                .iter()
                .map(|(name, value)| (Box::from(name.as_str()), value.compile()))
                .collect(),
        }
    }

    /// The custom attribute `name`, if the rider has it.
    #[inline]
    pub(crate) fn attribute(&self, name: &str) -> Option<&CompiledAttribute> {
        let ix = self
            .custom
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()?;
        Some(&self.custom[ix].1)
    }
}

/// Attribute names are identifiers, as in the programme's `[[attributes]]`.
pub fn check_attribute_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_ATTRIBUTE_NAME_BYTES
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Bounds a record's custom attributes: their number and their names.
pub fn check_attributes(rec: &RiderRecord) -> Result<(), RiderError> {
    if rec.attributes.len() > MAX_RIDER_ATTRIBUTES {
        return Err(RiderError::TooManyAttributes);
    }
    if !rec.attributes.keys().all(|name| check_attribute_name(name)) {
        return Err(RiderError::BadAttributeName);
    }
    Ok(())
}

/// Validates a rider id: non-empty, bounded, and holding no 12-digit number however written
/// (`kanjo_privacy::contains_my_number`: `r-123456789012`, `1234.5678.9012`, full-width digits).
pub fn check_rider_id(rider: &str) -> Result<(), RiderError> {
    if rider.is_empty() {
        return Err(RiderError::EmptyId);
    }
    if rider.len() > MAX_RIDER_ID_BYTES {
        return Err(RiderError::IdTooLong);
    }
    if kanjo_privacy::contains_my_number(rider) {
        return Err(RiderError::IdLooksLikeMyNumber);
    }
    Ok(())
}

/// The registry. `upsert` replaces a rider's whole record; indices stay stable.
#[derive(Debug, Clone, Default)]
pub struct Riders {
    records: Vec<RiderRecord>,
    attrs: Vec<RiderAttrs>,
    by_id: HashMap<String, RiderIx>,
}

impl Riders {
    pub fn new() -> Riders {
        Riders::default()
    }

    /// Adds or replaces a rider. Fails only on a bad rider id (see [`check_rider_id`]).
    pub fn upsert(&mut self, rec: RiderRecord) -> Result<RiderIx, RiderError> {
        check_rider_id(&rec.rider)?;
        check_attributes(&rec)?;
        let attrs = RiderAttrs::compile(&rec);
        if let Some(&ix) = self.by_id.get(rec.rider.as_str()) {
            self.attrs[ix.index()] = attrs;
            self.records[ix.index()] = rec;
            return Ok(ix);
        }
        let ix = RiderIx(u32::try_from(self.records.len()).map_err(|_| RiderError::IdTooLong)?);
        self.by_id.insert(rec.rider.clone(), ix);
        self.records.push(rec);
        self.attrs.push(attrs);
        debug_assert_eq!(self.records.len(), self.attrs.len());
        Ok(ix)
    }

    /// A strict intake check: the residence, when given, must be a valid municipality code.
    pub fn check_residence(rec: &RiderRecord) -> Result<(), RiderError> {
        match rec.residence.as_deref() {
            None => Ok(()),
            Some(code) => {
                municipality::validate(code)
                    .map(|_| ())
                    .map_err(|source| RiderError::Residence {
                        rider: rec.rider.clone(),
                        source,
                    })
            }
        }
    }

    pub fn get(&self, rider: &str) -> Option<RiderIx> {
        self.by_id.get(rider).copied()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record as given. Panics on an index from another registry.
    pub fn record(&self, ix: RiderIx) -> &RiderRecord {
        &self.records[ix.index()]
    }

    #[inline]
    pub(crate) fn attrs(&self, ix: RiderIx) -> Option<&RiderAttrs> {
        self.attrs.get(ix.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_names_every_field_of_the_record() {
        let record = RiderRecord {
            rider: "r-1".into(),
            birth_date: Some(LocalDate::new(1950, 6, 1).unwrap()),
            residence: Some("012050".into()),
            license_returned_on: Some(LocalDate::new(2025, 3, 1).unwrap()),
            disability: Some(true),
            verified_at: Some(LocalDate::new(2026, 4, 1).unwrap()),
            valid_until: Some(LocalDate::new(2027, 3, 31).unwrap()),
            attributes: BTreeMap::from([(
                "tax_exempt_household".into(),
                AttributeValue::Bool(true),
            )]),
        };
        let value = serde_json::to_value(&record).unwrap();
        let names = value.as_object().unwrap().keys();
        assert_eq!(names.len(), 8);
        for name in names {
            assert!(RiderRecord::FIELDS.contains(&name.as_str()), "{name}");
        }
        let alias = r#"{"rider":"r-1","licence_returned_on":"2025-03-01"}"#;
        let parsed: RiderRecord = serde_json::from_str(alias).unwrap();
        assert!(parsed.license_returned_on.is_some());
    }

    #[test]
    fn rider_ids_holding_twelve_digits_are_refused_however_written() {
        for id in [
            "123456789012",
            "r-123456789012",
            "1234.5678.9012",
            "1234-5678-9012",
            "1234 5678 9012",
            "１２３４５６７８９０１２",
        ] {
            assert_eq!(
                check_rider_id(id),
                Err(RiderError::IdLooksLikeMyNumber),
                "{id}"
            );
        }
        assert_eq!(check_rider_id("r-001"), Ok(()));
    }
}
