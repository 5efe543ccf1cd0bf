//! Rider attribute records as they arrive (POST /v1/riders, `kanjo import --riders`): checked by
//! `kanjo-privacy`, reduced to their known fields, canonicalised.
//!
//! A record is refused whole when it carries a My Number, a PIN or a ballot's content at any
//! depth, or a 12-digit number anywhere. Otherwise only its known fields are kept: every other
//! field (nested objects included) is dropped here, never stored or logged, and named in the
//! answer as `ignored_fields`.

use kanjo_rules::RiderRecord;
use serde_json::{Map, Value, json};

use crate::body::{BodyError, split_items};
use crate::limits::LOG_ENTRY_BODY_BYTES_MAX;

/// Where the evidence came from (e.g. `mynumber-card`): documented in the API, kept for audit,
/// not read by rating.
const SOURCE_FIELD: &str = "source";

/// A record that passed: what the log stores, the parsed record, and what was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedRider {
    /// Canonical JSON of the known fields only (sorted keys: one text per meaning).
    pub canonical: String,
    pub record: RiderRecord,
    /// Names of the fields that were not stored, in key order.
    pub ignored_fields: Vec<String>,
}

impl CheckedRider {
    /// What `Engine::submit_riders` takes.
    pub fn into_entry(self) -> (String, RiderRecord) {
        (self.canonical, self.record)
    }
}

/// A refused record: its rider id when it is safe to repeat, and why.
pub type RiderRefusal = (Option<String>, String);

/// One record: checked, or refused.
pub type RiderItem = Result<CheckedRider, RiderRefusal>;

fn is_known_field(name: &str) -> bool {
    name == SOURCE_FIELD || RiderRecord::FIELDS.contains(&name)
}

pub fn check_rider_value(value: &Value) -> RiderItem {
    let id = value.get("rider").and_then(Value::as_str);
    // An id that fails the id check (a My Number, 20 kB) is not repeated back.
    let rider = id
        .filter(|id| kanjo_rules::riders::check_rider_id(id).is_ok())
        .map(str::to_owned);
    let fail = |message: String| Err((rider.clone(), message));
    let Some(object) = value.as_object() else {
        return fail("a rider record is a JSON object".into());
    };
    if let Err(refusal) = kanjo_privacy::check_json(value) {
        return fail(refusal.to_string());
    }
    match id {
        None => return fail("`rider` (a pseudonymous id) is missing".into()),
        // The rider id is the log entry's id: the log's limits (length, no NUL) apply, then privacy.
        Some(id) => {
            if let Err(message) = crate::event::check_id("rider", id) {
                return fail(message);
            }
            if let Err(error) = kanjo_rules::riders::check_rider_id(id) {
                return fail(error.to_string());
            }
        }
    }
    let mut known = Map::new();
    let mut ignored_fields = Vec::new();
    for (name, field) in object {
        if is_known_field(name) {
            known.insert(name.clone(), field.clone());
        } else {
            ignored_fields.push(name.clone());
        }
    }
    if known
        .get(SOURCE_FIELD)
        .is_some_and(|source| !(source.is_string() || source.is_null()))
    {
        return fail(format!("`{SOURCE_FIELD}` is a string"));
    }
    let known = Value::Object(known);
    let record: RiderRecord = match serde_json::from_value(known.clone()) {
        Ok(record) => record,
        Err(error) => return fail(format!("not a rider record: {error}")),
    };
    // Custom attributes are bounded here, once, so the machine's upsert never refuses them.
    if let Err(error) = kanjo_rules::riders::check_attributes(&record) {
        return fail(error.to_string());
    }
    // serde_json's map keeps keys sorted, so this is one text per meaning.
    let canonical = known.to_string();
    if canonical.len() > LOG_ENTRY_BODY_BYTES_MAX {
        return fail(format!(
            "the record is {} bytes as canonical JSON, more than the {LOG_ENTRY_BODY_BYTES_MAX} a log entry holds",
            canonical.len()
        ));
    }
    Ok(CheckedRider {
        canonical,
        record,
        ignored_fields,
    })
}

/// A JSON array or NDJSON of rider records; each is checked on its own.
pub fn parse_riders(body: &str) -> Result<Vec<RiderItem>, String> {
    parse_riders_at_most(body, usize::MAX).map_err(|error| error.to_string())
}

/// `parse_riders` for at most `items_max` records (a request); more is refused before parsing.
pub fn parse_riders_at_most(body: &str, items_max: usize) -> Result<Vec<RiderItem>, BodyError> {
    Ok(split_items(body, items_max)?
        .into_iter()
        .map(|item| match item.map(serde_json::from_str::<Value>) {
            Ok(Ok(value)) => check_rider_value(&value),
            Ok(Err(error)) => Err((None, format!("not JSON: {error}"))),
            Err(error) => Err((None, error.to_string())),
        })
        .collect())
}

/// The answer for an accepted record; `ignored_fields` only when something was dropped.
pub fn accepted_answer(rider: &str, ignored_fields: &[String]) -> Value {
    let mut answer = json!({"rider": rider, "status": "accepted"});
    if !ignored_fields.is_empty() {
        answer["ignored_fields"] = json!(ignored_fields);
    }
    answer
}

/// The answer for a refused record (`bad_rider`).
pub fn rejected_answer(rider: Option<&str>, message: &str) -> Value {
    json!({"rider": rider, "status": "rejected", "error": {"code": "bad_rider", "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> RiderItem {
        parse_riders(line).unwrap().remove(0)
    }

    #[test]
    fn a_record_carrying_a_my_number_is_refused_whole() {
        let error = one(r#"{"rider":"r-1","my_number":"123456789012","birth_date":"1950-01-01"}"#)
            .unwrap_err();
        assert!(error.1.contains("my_number"), "{}", error.1);
    }

    #[test]
    fn twelve_digit_rider_ids_are_refused_and_not_repeated() {
        for line in [
            r#"{"rider":"1234-5678-9012","birth_date":"1950-01-01"}"#,
            r#"{"rider":"r-123456789012"}"#,
            r#"{"rider":"1234.5678.9012"}"#,
            r#"{"rider":"１２３４５６７８９０１２"}"#,
        ] {
            let (rider, _) = one(line).unwrap_err();
            assert_eq!(rider, None, "{line}");
        }
    }

    #[test]
    fn the_spec_rider_record_is_accepted_and_canonical() {
        let a = r#"{"rider":"r-001","birth_date":"1950-06-01","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#;
        let b = r#"{"valid_until":"2027-03-31","verified_at":"2026-04-01","residence":"012050","birth_date":"1950-06-01","rider":"r-001"}"#;
        let first = one(a).unwrap();
        let second = one(b).unwrap();
        assert_eq!(first.canonical, second.canonical);
        assert!(first.ignored_fields.is_empty());
    }

    #[test]
    fn unknown_fields_are_dropped_whole_and_named() {
        let line = r#"{"rider":"r-1","birth_date":"1950-01-01","favourite":"tea","extra":{"nested":{"deep":[1,2]}},"source":"mynumber-card"}"#;
        let checked = one(line).unwrap();
        assert_eq!(checked.ignored_fields, ["extra", "favourite"]);
        assert_eq!(
            checked.canonical,
            r#"{"birth_date":"1950-01-01","rider":"r-1","source":"mynumber-card"}"#
        );
        assert_eq!(
            accepted_answer("r-1", &checked.ignored_fields)["ignored_fields"],
            json!(["extra", "favourite"])
        );
    }

    #[test]
    fn custom_attributes_are_kept_checked_and_bounded() {
        let line = r#"{"rider":"r-1","attributes":{"tax_exempt_household":true,"pregnancy_notice":{"value":"2026-01-10","verified_at":"2026-01-12"}}}"#;
        let checked = one(line).unwrap();
        assert!(checked.ignored_fields.is_empty());
        assert_eq!(checked.record.attributes.len(), 2);
        assert!(checked.canonical.contains("tax_exempt_household"));
        assert!(one(r#"{"rider":"r-1","attributes":{"note":"free text"}}"#).is_err());
        assert!(one(r#"{"rider":"r-1","attributes":{"Bad Name":true}}"#).is_err());
        let refused = one(r#"{"rider":"r-1","attributes":{"n_123456789012":true}}"#).unwrap_err();
        assert_eq!(refused.0.as_deref(), Some("r-1"));
    }

    #[test]
    fn a_source_that_is_not_a_string_is_refused() {
        assert!(one(r#"{"rider":"r-1","source":{"card":"x"}}"#).is_err());
    }
}
