//! Rider attribute records as they arrive (POST /v1/riders, `kanjo import --riders`): checked,
//! canonicalised, and refused when they carry what kanjo must never store.

use kanjo_rules::RiderRecord;
use serde_json::Value;

use crate::body::{BodyError, split_items};
use crate::store::LOG_ENTRY_BODY_BYTES_MAX;

/// Keys that would carry a My Number, a PIN or a ballot's content. A record with one is refused
/// whole, so the value never reaches the log.
const FORBIDDEN_KEYS: [&str; 8] = [
    "my_number",
    "mynumber",
    "individual_number",
    "kojin_bango",
    "pin",
    "password",
    "ballot",
    "vote",
];

/// One record: its canonical JSON and the parsed record, or the rider id (if readable) and why not.
pub type RiderItem = Result<(String, RiderRecord), (Option<String>, String)>;

/// A 12-digit number is what a My Number looks like; a pseudonymous id must not.
pub fn looks_like_my_number(text: &str) -> bool {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    digits.len() == 12 && digits.chars().all(|c| c.is_ascii_digit())
}

pub fn check_rider_value(value: &Value) -> Result<(String, RiderRecord), (Option<String>, String)> {
    let rider = value
        .get("rider")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let fail = |message: String| Err((rider.clone(), message));
    let Some(object) = value.as_object() else {
        return fail("a rider record is a JSON object".into());
    };
    for key in object.keys() {
        let lowered = key.to_ascii_lowercase();
        if FORBIDDEN_KEYS.contains(&lowered.as_str()) {
            return fail(format!(
                "`{key}` must never be sent to kanjo: riders are pseudonymous ids with dated attributes"
            ));
        }
    }
    for (key, field) in object {
        if let Some(text) = field.as_str()
            && looks_like_my_number(text)
        {
            return fail(format!(
                "`{key}` looks like a 12-digit My Number; use a pseudonymous id"
            ));
        }
    }
    match rider.as_deref() {
        None => return fail("`rider` (a pseudonymous id) is missing".into()),
        // The rider id is the log entry's id: the log's limits (length, no NUL) apply.
        Some(id) => {
            if let Err(message) = crate::event::check_id("rider", id) {
                return fail(message);
            }
        }
    }
    let record: RiderRecord = match serde_json::from_value(value.clone()) {
        Ok(record) => record,
        Err(error) => return fail(format!("not a rider record: {error}")),
    };
    // serde_json's map keeps keys sorted, so this is one text per meaning.
    let canonical =
        serde_json::to_string(value).map_err(|error| (rider.clone(), error.to_string()))?;
    if canonical.len() > LOG_ENTRY_BODY_BYTES_MAX {
        return fail(format!(
            "the record is {} bytes as canonical JSON, more than the {LOG_ENTRY_BODY_BYTES_MAX} a log entry holds",
            canonical.len()
        ));
    }
    Ok((canonical, record))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_carrying_a_my_number_is_refused_whole() {
        let items =
            parse_riders(r#"{"rider":"r-1","my_number":"123456789012","birth_date":"1950-01-01"}"#)
                .unwrap();
        let error = items[0].as_ref().unwrap_err();
        assert!(error.1.contains("my_number"), "{}", error.1);
    }

    #[test]
    fn a_twelve_digit_rider_id_is_refused() {
        let items =
            parse_riders(r#"{"rider":"1234-5678-9012","birth_date":"1950-01-01"}"#).unwrap();
        assert!(items[0].is_err());
    }

    #[test]
    fn the_spec_rider_record_is_accepted_and_canonical() {
        let a = r#"{"rider":"r-001","birth_date":"1950-06-01","residence":"012050","verified_at":"2026-04-01","valid_until":"2027-03-31"}"#;
        let b = r#"{"valid_until":"2027-03-31","verified_at":"2026-04-01","residence":"012050","birth_date":"1950-06-01","rider":"r-001"}"#;
        let first = parse_riders(a).unwrap().remove(0).unwrap();
        let second = parse_riders(b).unwrap().remove(0).unwrap();
        assert_eq!(first.0, second.0);
    }
}
