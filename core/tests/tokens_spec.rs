//! Customer tokens on the machine (core/src/machine/tokens.rs): the edge hands over a verified
//! token as `token_nonce` + `token_expires_at` beside `rider`; the machine refuses it after its
//! expiry (event time), accepts its nonce once per rider, remembers it only when the payment is
//! accepted, and forgets it — safely — once event time is well past the expiry.

mod shops_common;

use kanjo_core::event::{Event, EventKind, PaymentToken};
use kanjo_core::machine::{DeviceKey, TOKEN_UPLOAD_GRACE_S};
use shops_common::*;

fn unix_s(time: &str) -> u64 {
    let instant: jiff::Timestamp = at(time).parse().unwrap();
    u64::try_from(instant.as_second()).unwrap()
}

/// A purchase at `books` paid with a verified token (nonce `nonce`, expiring at `expires`).
fn token_purchase(
    id: &str,
    time: &str,
    rider: &str,
    amount: u64,
    nonce: u128,
    expires: u64,
) -> String {
    format!(
        r#"{{"id":"{id}","type":"purchase","at":"{}","shop":"books","rider":"{rider}","amount":{amount},"token_nonce":"{nonce:032x}","token_expires_at":{expires}}}"#,
        at(time)
    )
}

fn code(answer: &serde_json::Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("accepted")
}

fn funded_town() -> Town {
    let mut town = Town::example();
    let answers = town.batch(&[
        topup("t-1", "09:00", "r-1", "SUZU", 1000),
        topup("t-2", "09:00", "r-2", "SUZU", 1000),
    ]);
    assert!(answers.iter().all(|answer| answer["status"] == "accepted"));
    town
}

#[test]
fn a_nonce_pays_once_per_rider() {
    let mut town = funded_town();
    let expires = unix_s("10:01");
    let answers = town.batch(&[
        token_purchase("p-1", "10:00", "r-1", 100, 7, expires),
        token_purchase("p-2", "10:00", "r-1", 100, 7, expires),
        token_purchase("p-3", "10:00", "r-2", 100, 7, expires),
    ]);
    let codes: Vec<&str> = answers.iter().map(code).collect();
    assert_eq!(codes, ["accepted", "token_used", "accepted"]);
    assert_eq!(town.balance("rider:r-1:SUZU"), 900);
    let later = town.one(token_purchase("p-4", "10:00:30", "r-1", 100, 7, expires));
    assert_eq!(code(&later), "token_used", "also in a later batch");
    assert_eq!(town.machine.used_tokens(), 2);
}

#[test]
fn a_refused_payment_leaves_its_token_unused() {
    let mut town = funded_town();
    let expires = unix_s("10:01");
    let short = town.one(token_purchase("p-1", "10:00", "r-1", 5000, 9, expires));
    assert_eq!(short["status"], "rejected", "{short}");
    assert_ne!(code(&short), "token_used");
    assert_eq!(town.machine.used_tokens(), 0);
    let paid = town.one(token_purchase("p-2", "10:00", "r-1", 500, 9, expires));
    assert_eq!(code(&paid), "accepted", "{paid}");
}

#[test]
fn a_token_is_valid_through_its_expiry_second_by_event_time() {
    let mut town = funded_town();
    let expires = unix_s("10:01");
    let answers = town.batch(&[
        token_purchase("p-late", "10:01:01", "r-1", 100, 1, expires),
        token_purchase("p-last", "10:01:00", "r-1", 100, 2, expires),
    ]);
    let codes: Vec<&str> = answers.iter().map(code).collect();
    assert_eq!(codes, ["token_expired", "accepted"]);
    assert_eq!(town.balance("rider:r-1:SUZU"), 900);
}

#[test]
fn a_used_nonce_is_forgotten_after_the_grace_and_its_token_then_counts_as_expired() {
    let mut town = funded_town();
    let expires = unix_s("10:01");
    assert_eq!(
        code(&town.one(token_purchase("p-1", "10:00", "r-1", 100, 3, expires))),
        "accepted"
    );
    // Event time moves past expiry + grace; the next batch forgets the nonce.
    let grace_h = TOKEN_UPLOAD_GRACE_S / 3600;
    let later = format!("{:02}:02", 10 + grace_h);
    town.one(topup("t-3", &later, "r-1", "SUZU", 1));
    town.one(topup("t-4", &later, "r-1", "SUZU", 1));
    assert_eq!(town.machine.used_tokens(), 0);
    // A late upload claiming the old time can't pay twice with it.
    let replayed = town.one(token_purchase("p-2", "10:00", "r-1", 100, 3, expires));
    assert_eq!(code(&replayed), "token_expired");
    // A token that expires later is still fine.
    let fresh = unix_s(&format!("{:02}:03", 10 + grace_h));
    let paid = town.one(token_purchase("p-3", &later, "r-1", 100, 4, fresh));
    assert_eq!(code(&paid), "accepted", "{paid}");
}

#[test]
fn a_presented_token_is_never_applied_and_its_signature_never_logged() {
    let mut town = funded_town();
    let json = format!(
        r#"{{"id":"p-1","type":"purchase","at":"{}","shop":"books","token":"kq1.cGF5bG9hZA.c2lnbmF0dXJl","amount":100}}"#,
        at("10:00")
    );
    let event = Event::parse(&json).unwrap();
    let EventKind::Purchase(payment) = &event.kind else {
        panic!("a purchase")
    };
    assert_eq!(payment.rider, "", "only verification names the rider");
    assert!(matches!(payment.token, Some(PaymentToken::Presented(_))));
    let canonical = event.canonical_json();
    assert!(
        canonical.contains(r#""token":"kq1.cGF5bG9hZA""#),
        "{canonical}"
    );
    assert!(!canonical.contains("c2lnbmF0dXJl"), "{canonical}");
    let answer = town.one(json);
    assert_eq!(code(&answer), "bad_token");
    assert_eq!(town.balance("rider:r-1:SUZU"), 1000);
}

#[test]
fn token_fields_are_checked_when_parsed() {
    let base = format!(
        r#""id":"p","type":"purchase","at":"{}","shop":"books","amount":5"#,
        at("10:00")
    );
    for (fields, says) in [
        (r#""rider":"r-1","token":"kq1.a.b""#, "not both"),
        (
            r#""rider":"r-1","token_nonce":"00000000000000000000000000000001""#,
            "together",
        ),
        (
            r#""rider":"r-1","token_nonce":"0000000000000000000000000000000G","token_expires_at":5"#,
            "hexadecimal",
        ),
        (
            r#""rider":"r-1","token_nonce":"0000000000000000000000000000000A","token_expires_at":5"#,
            "lower-case",
        ),
        (r#""token":"""#, "1 to 512 bytes"),
        (r#""token":"kq1.a b.c""#, "no token has"),
        (r#""token":"kq1.a.b","token_expires_at":5"#, "without"),
    ] {
        let error = Event::parse(&format!("{{{base},{fields}}}")).unwrap_err();
        assert!(error.message.contains(says), "{fields}: {}", error.message);
    }
    let logged = format!(
        r#"{{{base},"rider":"r-1","token_nonce":"000000000000000000000000000000ff","token_expires_at":5}}"#
    );
    let event = Event::parse(&logged).unwrap();
    assert_eq!(Event::parse(&event.canonical_json()).unwrap(), event);
}

#[test]
fn device_keys_need_a_known_rider_and_are_bounded() {
    let mut town = Town::example();
    let key = |rider: &str, n: u8| DeviceKey {
        rider: rider.to_owned(),
        public_key: format!("{}{n:02}", "A".repeat(41)),
    };
    let unknown = town
        .machine
        .register_device_key(&key("r-1", 0))
        .unwrap_err();
    assert_eq!(unknown.code.code(), "unknown_rider");
    town.machine
        .upsert_rider(serde_json::from_str(r#"{"rider":"r-1"}"#).unwrap())
        .unwrap();
    for n in 0..8 {
        town.machine.register_device_key(&key("r-1", n)).unwrap();
    }
    town.machine.register_device_key(&key("r-1", 0)).unwrap();
    let ninth = town
        .machine
        .register_device_key(&key("r-1", 8))
        .unwrap_err();
    assert_eq!(ninth.code.code(), "too_many_keys");
    assert_eq!(town.machine.device_keys("r-1").len(), 8);
    let short = DeviceKey {
        rider: "r-1".to_owned(),
        public_key: "short".to_owned(),
    };
    assert_eq!(
        town.machine
            .register_device_key(&short)
            .unwrap_err()
            .code
            .code(),
        "bad_public_key"
    );
}
