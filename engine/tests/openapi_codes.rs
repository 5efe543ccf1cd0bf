//! The OpenAPI document lists exactly the error codes the engine can answer: an event's
//! rejection codes (`RejectionCode`) in the `Answer` schema, and the service's own error codes
//! (`api::ErrorCode`) in the `Error` schema. A code added to an enum and not to the document, or
//! documented and never answered, fails here.

use std::collections::BTreeSet;

use kanjo_engine::answer::RejectionCode;
use kanjo_engine::api::ErrorCode;
use serde_json::Value;

fn openapi() -> Value {
    serde_json::from_str(include_str!("../src/openapi.json")).expect("the OpenAPI document")
}

/// The `enum` of a schema's `error.code`, as a set, with no code listed twice.
fn documented_codes(schema: &Value) -> BTreeSet<String> {
    let listed = schema["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("error.code is an enum: {schema}"));
    let codes: BTreeSet<String> = listed
        .iter()
        .map(|code| code.as_str().expect("a code is a string").to_owned())
        .collect();
    assert_eq!(codes.len(), listed.len(), "no code is listed twice");
    codes
}

/// Both ways: every answered code is documented, every documented code is answered.
fn assert_same_codes(answered: &[&str], schema: &str) {
    let documented = documented_codes(&openapi()["components"]["schemas"][schema]);
    let answered: BTreeSet<String> = answered.iter().map(|code| (*code).to_owned()).collect();
    assert_eq!(
        answered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "codes the {schema} schema does not list"
    );
    assert_eq!(
        documented.difference(&answered).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "codes the {schema} schema lists that are never answered"
    );
}

#[test]
fn the_answer_schema_lists_every_rejection_code_and_nothing_else() {
    let codes: Vec<&str> = RejectionCode::ALL.iter().map(|code| code.code()).collect();
    assert_same_codes(&codes, "Answer");
}

#[test]
fn the_error_schema_lists_every_service_error_code_and_nothing_else() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.code()).collect();
    assert_same_codes(&codes, "Error");
}

#[test]
fn no_code_is_both_a_rejection_and_a_service_error() {
    // Except `forbidden`, one refusal by design: a whole request outside the key's scope (403),
    // or one event of a batch outside it (that event's answer).
    for code in ErrorCode::ALL
        .iter()
        .filter(|code| **code != ErrorCode::Forbidden)
    {
        assert!(
            RejectionCode::ALL
                .iter()
                .all(|rejection| rejection.code() != code.code()),
            "{code}"
        );
    }
}

#[test]
fn the_customer_token_codes_are_rejection_codes() {
    for code in ["bad_token", "token_used", "token_expired"] {
        assert!(
            RejectionCode::ALL.iter().any(|known| known.code() == code),
            "{code}"
        );
    }
}
