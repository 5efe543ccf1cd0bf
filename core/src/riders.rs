//! Rider attribute records as they arrive (POST /v1/riders, `kanjo import --riders`): checked,
//! canonicalised, and refused when they carry what kanjo must never store.

use kanjo_rules::RiderRecord;
use serde_json::Value;

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
        Some("") => return fail("`rider` is empty".into()),
        Some(id) if id.len() > kanjo_rules::limits::MAX_RIDER_ID_BYTES => {
            return fail("`rider` is longer than 128 bytes".into());
        }
        Some(_) => {}
    }
    let record: RiderRecord = match serde_json::from_value(value.clone()) {
        Ok(record) => record,
        Err(error) => return fail(format!("not a rider record: {error}")),
    };
    // serde_json's map keeps keys sorted, so this is one text per meaning.
    let canonical =
        serde_json::to_string(value).map_err(|error| (rider.clone(), error.to_string()))?;
    Ok((canonical, record))
}

/// A JSON array or NDJSON of rider records; each is checked on its own.
pub fn parse_riders(body: &str) -> Result<Vec<RiderItem>, String> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(trimmed)
            .map_err(|error| format!("the body is not a JSON array of riders: {error}"))?;
        return Ok(values.iter().map(check_rider_value).collect());
    }
    Ok(body
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value) => check_rider_value(&value),
            Err(error) => Err((None, format!("not JSON: {error}"))),
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
