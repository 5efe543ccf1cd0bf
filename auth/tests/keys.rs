//! API keys: tokens, key records, the key book, and authenticating a request.

use kanjo_auth::{
    AuthError, KEY_CHANGE_JSON_BYTES_MAX, KEYS_MAX, KeyBook, KeyBookError, KeyChange, KeyId,
    KeyRecord, NAME_BYTES_MAX, NewKey, Principal, Role, RoleError, STATIONS_PER_KEY_MAX,
    TOKEN_CHARS, TokenEntropy, TokenHash, generate_token, token_from_entropy,
};
use proptest::prelude::*;

const MADE_AT: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const EXPIRES_AT: u64 = 1_798_761_600; // 2027-01-01T00:00:00Z

fn entropy(seed: u8) -> TokenEntropy {
    TokenEntropy {
        key_id: [seed; 8],
        secret: [seed.wrapping_add(1); 32],
    }
}

fn key(seed: u8, role: &str, expires: Option<u64>) -> NewKey {
    token_from_entropy(&entropy(seed), Role::parse(role).unwrap(), MADE_AT, expires).unwrap()
}

fn book_with(keys: &[&NewKey]) -> KeyBook {
    let mut book = KeyBook::new();
    for key in keys {
        book.apply(&KeyChange::Create {
            key: key.record.clone(),
        })
        .unwrap();
    }
    book
}

fn bearer(key: &NewKey) -> String {
    format!("Bearer {}", key.token.expose())
}

#[test]
fn a_token_is_kjo_then_the_key_id_then_256_bits_of_secret_in_hex() {
    let entropy = TokenEntropy {
        key_id: [0x3f, 0x2a, 0x9c, 0x0d, 0x1e, 0x4b, 0x5a, 0x69],
        secret: std::array::from_fn(|i| i as u8),
    };
    let made = token_from_entropy(&entropy, Role::Clerk, MADE_AT, None).unwrap();
    assert_eq!(
        made.token.expose(),
        "kjo_3f2a9c0d1e4b5a69_000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    );
    assert_eq!(made.token.expose().len(), TOKEN_CHARS);
    assert_eq!(made.record.key_id().to_string(), "3f2a9c0d1e4b5a69");
    // SHA-256 of the token's text, computed independently (Python's hashlib).
    assert_eq!(
        made.record.token_sha256().to_string(),
        "4295efc474d41b6163013468387a29591ed9b756ce79874c90c0c3338685df87"
    );
}

#[test]
fn a_generated_token_is_fresh_and_only_its_hash_is_recorded() {
    let first = generate_token(Role::TownAdmin, MADE_AT, None).unwrap();
    let second = generate_token(Role::TownAdmin, MADE_AT, None).unwrap();
    assert_ne!(first.token.expose(), second.token.expose());
    assert_ne!(first.record.key_id(), second.record.key_id());
    assert_eq!(first.token.key_id(), first.record.key_id());
    assert_eq!(
        *first.record.token_sha256(),
        TokenHash::of_token_text(first.token.expose())
    );
    let secret = &first.token.expose()[21..];
    let logged = KeyChange::Create {
        key: first.record.clone(),
    }
    .to_json();
    assert!(!logged.contains(secret), "the log must not hold the secret");
    assert!(
        !format!("{:?}", first).contains(secret),
        "Debug must not show the secret"
    );
}

#[test]
fn a_key_record_has_one_canonical_json_form() {
    let made = key(7, "operator:donan-bus", Some(EXPIRES_AT));
    let json = made.record.to_json();
    assert_eq!(
        json,
        format!(
            r#"{{"key_id":"0707070707070707","role":"operator:donan-bus","created_at_unix_s":1767225600,"expires_at_unix_s":1798761600,"token_sha256":"{}"}}"#,
            made.record.token_sha256()
        )
    );
    let change = KeyChange::Create {
        key: made.record.clone(),
    };
    let change_json = change.to_json();
    assert_eq!(
        change_json,
        format!(r#"{{"change":"create","key":{json}}}"#)
    );
    assert_eq!(KeyChange::from_json(&change_json), Ok(change));
    let revoke = KeyChange::Revoke {
        key_id: made.record.key_id(),
        at_unix_s: MADE_AT + 60,
    };
    assert_eq!(
        revoke.to_json(),
        r#"{"change":"revoke","key_id":"0707070707070707","at_unix_s":1767225660}"#
    );
    assert_eq!(KeyChange::from_json(&revoke.to_json()), Ok(revoke));
}

#[test]
fn key_records_refuse_what_is_not_theirs() {
    let good = key(7, "shop:books", None).record.to_json();
    let reject = |json: &str| -> String {
        KeyChange::from_json(&format!(r#"{{"change":"create","key":{json}}}"#))
            .unwrap_err()
            .to_string()
    };
    // A token field is unknown: a record never holds the token.
    let with_token = good.replace(r#""role""#, r#""token":"kjo_…","role""#);
    assert!(reject(&with_token).contains("unknown field `token`"));
    let upper_hash = good.replace(
        &key(7, "shop:books", None).record.token_sha256().to_string(),
        &key(7, "shop:books", None)
            .record
            .token_sha256()
            .to_string()
            .to_uppercase(),
    );
    assert!(reject(&upper_hash).contains("token_sha256"));
    assert!(reject(&good.replace("0707070707070707", "07070707")).contains("key id"));
    assert!(reject(&good.replace("shop:books", "shop:")).contains("empty"));
    assert!(reject(&good.replace("shop:books", "mayor")).contains("unknown role"));
    let expires_too_soon = good.replace(
        r#""token_sha256""#,
        &format!(r#""expires_at_unix_s":{MADE_AT},"token_sha256""#),
    );
    assert!(reject(&expires_too_soon).contains("no later than it was made"));
    let huge = "x".repeat(KEY_CHANGE_JSON_BYTES_MAX + 1);
    assert_eq!(KeyChange::from_json(&huge).unwrap_err().code(), "too_long");
}

#[test]
fn a_key_must_expire_after_it_is_made() {
    let error = token_from_entropy(&entropy(1), Role::Clerk, MADE_AT, Some(MADE_AT)).unwrap_err();
    assert_eq!(error.code(), "expires_before_creation");
    assert!(token_from_entropy(&entropy(1), Role::Clerk, MADE_AT, Some(MADE_AT + 1)).is_ok());
}

#[test]
fn a_valid_token_authenticates_as_its_key_and_role() {
    let operator = key(1, "operator:donan-bus", None);
    let office = key(
        2,
        "election-office:station-013,station-012",
        Some(EXPIRES_AT),
    );
    let book = book_with(&[&operator, &office]);
    assert_eq!(
        book.authenticate(Some(&bearer(&operator)), MADE_AT),
        Ok(Principal {
            key_id: operator.record.key_id(),
            role: Role::operator("donan-bus").unwrap(),
        })
    );
    let principal = book.authenticate(Some(&bearer(&office)), MADE_AT).unwrap();
    assert_eq!(
        principal.role.to_string(),
        "election-office:station-012,station-013"
    );
}

#[test]
fn the_scheme_is_case_insensitive_and_may_be_followed_by_several_spaces() {
    let clerk = key(3, "clerk", None);
    let book = book_with(&[&clerk]);
    for header in [
        format!("bearer {}", clerk.token.expose()),
        format!("BEARER   {}", clerk.token.expose()),
    ] {
        assert!(
            book.authenticate(Some(&header), MADE_AT).is_ok(),
            "{header}"
        );
    }
}

#[test]
fn no_header_or_an_empty_one_is_missing() {
    let book = book_with(&[&key(3, "clerk", None)]);
    assert_eq!(book.authenticate(None, MADE_AT), Err(AuthError::Missing));
    assert_eq!(
        book.authenticate(Some(""), MADE_AT),
        Err(AuthError::Missing)
    );
    assert_eq!(
        book.authenticate(Some("  "), MADE_AT),
        Err(AuthError::Missing)
    );
}

#[test]
fn anything_but_bearer_and_a_well_formed_token_is_malformed() {
    let clerk = key(3, "clerk", None);
    let book = book_with(&[&clerk]);
    let token = clerk.token.expose();
    let nul = format!("{}\0{}", &token[..40], &token[41..]);
    let cases = [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        token.to_owned(),
        format!("Bearer {}", &token[..84]),
        format!("Bearer {token}0"),
        format!("Bearer {token} "),
        format!("Bearer {}", token.to_uppercase()),
        format!("Bearer {}", token.replacen("kjo_", "kjx_", 1)),
        format!("Bearer {}", token.replacen('_', "-", 2)),
        format!("Bearer {nul}"),
        format!("Bearer {}", "a".repeat(300)),
        format!("Bearer {}", "é".repeat(42)),
    ];
    for header in cases {
        let refused = book.authenticate(Some(&header), MADE_AT).unwrap_err();
        assert!(
            matches!(refused, AuthError::Malformed { .. }),
            "{header:?}: {refused:?}"
        );
        assert_eq!(refused.code(), "unauthorized");
    }
}

#[test]
fn an_unknown_key_id_and_a_wrong_secret_are_both_unknown() {
    let clerk = key(3, "clerk", None);
    let stranger = key(4, "clerk", None);
    let book = book_with(&[&clerk]);
    assert_eq!(
        book.authenticate(Some(&bearer(&stranger)), MADE_AT),
        Err(AuthError::Unknown)
    );
    // The right key id with another secret: one hex digit of the secret changed.
    let mut forged = clerk.token.expose().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        book.authenticate(Some(&format!("Bearer {forged}")), MADE_AT),
        Err(AuthError::Unknown)
    );
}

#[test]
fn a_revoked_key_is_refused_at_once_and_says_so_only_to_its_holder() {
    let shop = key(5, "shop:books", None);
    let mut book = book_with(&[&shop]);
    assert!(book.authenticate(Some(&bearer(&shop)), MADE_AT).is_ok());
    book.apply(&KeyChange::Revoke {
        key_id: shop.record.key_id(),
        at_unix_s: MADE_AT + 10,
    })
    .unwrap();
    let refused = book
        .authenticate(Some(&bearer(&shop)), MADE_AT)
        .unwrap_err();
    assert_eq!(
        refused,
        AuthError::Revoked {
            key_id: shop.record.key_id(),
            at_unix_s: MADE_AT + 10
        }
    );
    assert_eq!(refused.code(), "unauthorized");
    assert_eq!(refused.reason_code(), "revoked_key");
    let mut guessed = shop.token.expose().to_owned();
    guessed.replace_range(84.., if guessed.ends_with('0') { "1" } else { "0" });
    assert_eq!(
        book.authenticate(Some(&format!("Bearer {guessed}")), MADE_AT),
        Err(AuthError::Unknown)
    );
    assert!(book.get(shop.record.key_id()).unwrap().revoked().is_some());
}

#[test]
fn a_key_is_valid_through_its_expiry_second_and_expired_after() {
    let bank = key(6, "bank:suzu-bank", Some(EXPIRES_AT));
    let book = book_with(&[&bank]);
    assert!(book.authenticate(Some(&bearer(&bank)), EXPIRES_AT).is_ok());
    assert_eq!(
        book.authenticate(Some(&bearer(&bank)), EXPIRES_AT + 1),
        Err(AuthError::Expired {
            key_id: bank.record.key_id(),
            expires_at_unix_s: EXPIRES_AT
        })
    );
}

#[test]
fn revocation_is_reported_before_expiry() {
    let bank = key(6, "bank:suzu-bank", Some(EXPIRES_AT));
    let mut book = book_with(&[&bank]);
    book.apply(&KeyChange::Revoke {
        key_id: bank.record.key_id(),
        at_unix_s: MADE_AT,
    })
    .unwrap();
    assert_eq!(
        book.authenticate(Some(&bearer(&bank)), EXPIRES_AT + 1)
            .unwrap_err()
            .reason_code(),
        "revoked_key"
    );
}

#[test]
fn the_book_refuses_a_change_that_does_not_apply_and_is_left_unchanged() {
    let admin = key(8, "town-admin", None);
    let mut book = book_with(&[&admin]);
    let before = book.records().to_vec();
    let create = KeyChange::Create {
        key: admin.record.clone(),
    };
    assert_eq!(
        book.apply(&create),
        Err(KeyBookError::DuplicateKeyId(admin.record.key_id()))
    );
    let nobody = KeyId::from_bytes([9; 8]);
    assert_eq!(
        book.apply(&KeyChange::Revoke {
            key_id: nobody,
            at_unix_s: MADE_AT
        }),
        Err(KeyBookError::UnknownKey(nobody))
    );
    let revoke = KeyChange::Revoke {
        key_id: admin.record.key_id(),
        at_unix_s: MADE_AT,
    };
    book.apply(&revoke).unwrap();
    let after_revoke = book.records().to_vec();
    let again = book.apply(&revoke).unwrap_err();
    assert_eq!(again.code(), "already_revoked");
    assert_eq!(book.records(), after_revoke.as_slice());
    assert_ne!(before, after_revoke);
}

#[test]
fn a_key_can_not_be_created_already_revoked() {
    let made = key(8, "town-admin", None);
    let json = format!(
        r#"{{"change":"create","key":{}}}"#,
        made.record
            .to_json()
            .replace('}', r#","revoked":{"at_unix_s":1}}"#)
    );
    let change = KeyChange::from_json(&json).unwrap();
    assert_eq!(
        KeyBook::new().apply(&change),
        Err(KeyBookError::CreatedRevoked(made.record.key_id()))
    );
}

#[test]
fn the_book_holds_at_most_keys_max_keys() {
    let mut book = KeyBook::new();
    for n in 0..KEYS_MAX as u64 {
        let mut entropy = entropy(0);
        entropy.key_id = n.to_be_bytes();
        let made = token_from_entropy(&entropy, Role::Clerk, MADE_AT, None).unwrap();
        book.apply(&KeyChange::Create { key: made.record }).unwrap();
    }
    let one_more = key(0xee, "clerk", None);
    assert_eq!(
        book.apply(&KeyChange::Create {
            key: one_more.record
        }),
        Err(KeyBookError::TooManyKeys)
    );
    assert_eq!(book.len(), KEYS_MAX);
}

#[test]
fn replaying_the_same_changes_builds_the_same_book_in_the_same_order() {
    let keys: Vec<NewKey> = (10..20).map(|seed| key(seed, "clerk", None)).collect();
    let mut changes: Vec<KeyChange> = keys
        .iter()
        .rev()
        .map(|k| KeyChange::Create {
            key: k.record.clone(),
        })
        .collect();
    changes.push(KeyChange::Revoke {
        key_id: keys[3].record.key_id(),
        at_unix_s: MADE_AT,
    });
    let replay = |changes: &[KeyChange]| {
        let mut book = KeyBook::new();
        for change in changes {
            // Through the log's text form, as a restart reads it.
            book.apply(&KeyChange::from_json(&change.to_json()).unwrap())
                .unwrap();
        }
        book
    };
    let first = replay(&changes);
    let second = replay(&changes);
    assert_eq!(first.records(), second.records());
    let order: Vec<KeyId> = first.records().iter().map(KeyRecord::key_id).collect();
    let made: Vec<KeyId> = keys.iter().rev().map(|k| k.record.key_id()).collect();
    assert_eq!(order, made);
}

#[test]
fn an_election_office_key_holds_up_to_stations_per_key_max_stations() {
    let stations: Vec<String> = (0..STATIONS_PER_KEY_MAX)
        .map(|n| format!("{n:0>width$}", width = NAME_BYTES_MAX))
        .collect();
    let role = Role::election_office(&stations).unwrap();
    let made = token_from_entropy(&entropy(1), role, MADE_AT, None).unwrap();
    let json = KeyChange::Create { key: made.record }.to_json();
    assert!(json.len() <= KEY_CHANGE_JSON_BYTES_MAX);
    assert!(KeyChange::from_json(&json).is_ok());

    let one_more: Vec<String> = (0..=STATIONS_PER_KEY_MAX).map(|n| n.to_string()).collect();
    assert_eq!(
        Role::election_office(&one_more),
        Err(RoleError::TooManyStations {
            count: STATIONS_PER_KEY_MAX + 1
        })
    );
    let text = format!("election-office:{}", one_more.join(","));
    assert_eq!(Role::parse(&text).unwrap_err().code(), "too_many_stations");
}

#[test]
fn role_names_are_bounded_and_hold_no_nul() {
    let longest = "x".repeat(NAME_BYTES_MAX);
    assert!(Role::shop(&longest).is_ok());
    assert_eq!(
        Role::shop(&format!("{longest}x")).unwrap_err().code(),
        "name_too_long"
    );
    assert_eq!(
        Role::parse("operator:donan\0bus").unwrap_err().code(),
        "control_character"
    );
    assert_eq!(Role::parse("shop:").unwrap_err().code(), "empty_name");
    assert_eq!(Role::parse("shop").unwrap_err().code(), "missing_name");
    assert_eq!(
        Role::parse("clerk:x").unwrap_err().code(),
        "unexpected_name"
    );
    assert_eq!(
        Role::parse("election-office:").unwrap_err().code(),
        "no_stations"
    );
    assert_eq!(
        Role::parse("election-office:a,,b").unwrap_err().code(),
        "empty_name"
    );
    assert_eq!(
        Role::parse("election-office:a,b,a").unwrap_err().code(),
        "duplicate_station"
    );
    assert_eq!(Role::parse("").unwrap_err().code(), "empty_role");
    assert_eq!(Role::parse("mayor").unwrap_err().code(), "unknown_role");
    let unsorted = Role::ElectionOffice {
        stations: vec!["b".into(), "a".into()],
    };
    assert_eq!(unsorted.check(), Err(RoleError::StationsUnsorted));
}

#[test]
fn every_role_reads_back_from_its_text() {
    for text in [
        "operator:donan-bus",
        "operator:jr:hokkaido",
        "shop:books",
        "bank:suzu-bank",
        "election-office:station-012,station-013",
        "town-admin",
        "clerk",
        "auditor",
    ] {
        let role = Role::parse(text).unwrap();
        assert_eq!(role.to_string(), text);
        let json = serde_json::to_string(&role).unwrap();
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
    }
    assert_eq!(
        Role::parse("election-office:b,a").unwrap().to_string(),
        "election-office:a,b"
    );
}

proptest! {
    /// Authentication answers every header, never panics, and accepts none but the real token.
    #[test]
    fn no_arbitrary_header_authenticates(header in "\\PC{0,120}|Bearer kjo_[0-9a-f_]{0,90}") {
        let made = key(1, "auditor", None);
        let book = book_with(&[&made]);
        prop_assume!(header != bearer(&made));
        prop_assert!(book.authenticate(Some(&header), MADE_AT).is_err());
    }

    /// Changing any one character of a valid token makes it fail.
    #[test]
    fn any_one_character_changed_is_refused(position in 0..TOKEN_CHARS, replacement in "[0-9a-zA-Z_\\-]") {
        let made = key(1, "auditor", None);
        let book = book_with(&[&made]);
        let mut token = made.token.expose().to_owned();
        prop_assume!(token[position..position + 1] != replacement);
        token.replace_range(position..position + 1, &replacement);
        let refused = book.authenticate(Some(&format!("Bearer {token}")), MADE_AT).unwrap_err();
        prop_assert!(matches!(refused, AuthError::Malformed { .. } | AuthError::Unknown), "{:?}", refused);
    }

    /// Key records read back from their JSON, whatever the role and times.
    #[test]
    fn key_changes_read_back_from_their_json(
        seed in any::<u8>(),
        role in prop_oneof![
            "[a-z0-9-]{1,20}".prop_map(|n| format!("operator:{n}")),
            "[a-z0-9-]{1,20}".prop_map(|n| format!("shop:{n}")),
            Just("auditor".to_owned()),
        ],
        made_at in any::<u32>(),
        lifetime in proptest::option::of(1..u32::MAX),
    ) {
        let expires = lifetime.map(|l| u64::from(made_at) + u64::from(l));
        let made = token_from_entropy(&entropy(seed), Role::parse(&role).unwrap(), u64::from(made_at), expires).unwrap();
        let change = KeyChange::Create { key: made.record };
        prop_assert_eq!(KeyChange::from_json(&change.to_json()), Ok(change));
    }
}
