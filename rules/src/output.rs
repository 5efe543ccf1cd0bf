//! The output lines of spec/rating.md, written with a fixed key order so a run is
//! byte-for-byte reproducible.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::error::RateError;
use crate::programme::Programme;
use crate::rating::Rating;

/// `{"id", "fare", "rider_pays", "discount", "funded_by", "cap_waived", "rules", "grants"}`.
pub struct RatedLine<'a> {
    pub id: &'a str,
    pub rating: &'a Rating,
    pub programme: &'a Programme,
}

impl Serialize for RatedLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (r, p) = (self.rating, self.programme);
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("fare", &r.fare)?;
        map.serialize_entry("rider_pays", &r.rider_pays)?;
        map.serialize_entry("discount", &r.discount)?;
        map.serialize_entry("funded_by", &r.funded_by.map(|b| p.budget(b).id.as_str()))?;
        map.serialize_entry("cap_waived", &r.cap_waived)?;
        map.serialize_entry("rules", &RuleIds(self))?;
        map.serialize_entry("grants", &GrantList(self))?;
        map.end()
    }
}

struct RuleIds<'l, 'a>(&'l RatedLine<'a>);

impl Serialize for RuleIds<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rules = self.0.rating.rules;
        let mut seq = serializer.serialize_seq(Some(rules.len()))?;
        for rule in rules.iter() {
            seq.serialize_element(self.0.programme.rule_id(rule))?;
        }
        seq.end()
    }
}

struct GrantList<'l, 'a>(&'l RatedLine<'a>);

impl Serialize for GrantList<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (grants, p) = (&self.0.rating.grants, self.0.programme);
        let mut seq = serializer.serialize_seq(Some(grants.len()))?;
        for grant in grants.iter() {
            seq.serialize_element(&GrantOut {
                asset: p.asset_code(grant.asset),
                amount: grant.amount,
                rule: p.rule_id(grant.rule),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct GrantOut<'a> {
    asset: &'a str,
    amount: u64,
    rule: &'a str,
}

/// `{"id": ..., "error": {"code": ..., "message": ...}}`; `id` is null when the line had no
/// string id.
#[derive(Serialize)]
pub struct ErrorLine<'a> {
    pub id: Option<&'a str>,
    pub error: ErrorBody<'a>,
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: String,
}

impl<'a> ErrorLine<'a> {
    pub fn new(id: Option<&'a str>, error: &RateError) -> ErrorLine<'a> {
        ErrorLine {
            id,
            error: ErrorBody {
                code: error.code(),
                message: error.to_string(),
            },
        }
    }
}

impl Rating {
    /// The spec's output object for this rating.
    pub fn to_json(&self, id: &str, p: &Programme) -> serde_json::Value {
        serde_json::to_value(RatedLine {
            id,
            rating: self,
            programme: p,
        })
        .expect("a rating is plain strings and integers")
    }
}

impl RateError {
    /// The spec's error object for an event with this id.
    pub fn to_json(&self, id: Option<&str>) -> serde_json::Value {
        serde_json::to_value(ErrorLine::new(id, self)).expect("plain strings")
    }
}
