//! The clerks' PostgreSQL view names every entry kind the store writes (ops/sql/0007): a record
//! with one entry of each kind reads back with the store's own name for it, and a Japanese label,
//! never NULL or `unknown`. Needs the PostgreSQL test server (`KANJO_TEST_PG_URL`); fails, never
//! skips, when it is down.

use kanjo_store::{
    self as store, EntryKind, LogEntry, LogRecord, StoreTarget, testdb::TestDatabase,
};

/// Every kind the store knows, in code order.
fn every_kind() -> Vec<EntryKind> {
    (0..=u8::MAX).filter_map(EntryKind::from_u8).collect()
}

#[test]
fn the_clerk_view_names_every_entry_kind_in_english_and_japanese() {
    let db = TestDatabase::create().expect("a migrated test database");
    let kinds = every_kind();
    assert!(kinds.len() >= 10, "kinds 1–10 at least: {kinds:?}");
    let record = LogRecord {
        seq: 1,
        clock_ns: 1_767_225_600_000_000_000,
        entries: kinds
            .iter()
            .map(|kind| LogEntry {
                kind: *kind,
                id: format!("entry-{}", kind.as_str()),
                body: br#"{"clerk_view":true}"#.to_vec(),
            })
            .collect(),
    };
    let mut log = store::open(&StoreTarget::Postgres {
        url: db.url().to_owned(),
    })
    .expect("open the store");
    log.append(&record).expect("append one entry of each kind");

    let expected = kinds
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(",");
    // The comparison runs in the database, so the view itself is what is checked.
    db.execute(&format!(
        "DO $$
         DECLARE got text; unlabelled bigint;
         BEGIN
             SELECT string_agg(kind, ',' ORDER BY idx) INTO got FROM kanjo_log_entry_json;
             IF got IS DISTINCT FROM '{expected}' THEN
                 RAISE EXCEPTION 'kinds in the view: %, expected {expected}', got;
             END IF;
             SELECT count(*) INTO unlabelled FROM kanjo_log_entry_json
             WHERE kind_ja IS NULL OR kind_ja = '不明' OR body IS NULL;
             IF unlabelled <> 0 THEN
                 RAISE EXCEPTION '% entries without a Japanese label or body', unlabelled;
             END IF;
         END $$;"
    ))
    .expect("every kind named in the view");
}

#[test]
fn a_kind_the_view_does_not_know_shows_as_unknown_not_null() {
    let db = TestDatabase::create().expect("a migrated test database");
    // Behind the store's back: a kind no migration names yet.
    db.execute("DELETE FROM kanjo_entry_kind WHERE kind = 10")
        .expect("forget one kind");
    let record = LogRecord {
        seq: 1,
        clock_ns: 1_767_225_600_000_000_000,
        entries: vec![LogEntry {
            kind: EntryKind::KeyChange,
            id: "key-1".to_owned(),
            body: b"{}".to_vec(),
        }],
    };
    let mut log = store::open(&StoreTarget::Postgres {
        url: db.url().to_owned(),
    })
    .expect("open the store");
    log.append(&record).expect("append");
    db.execute(
        "DO $$ BEGIN
             IF (SELECT kind || '/' || kind_ja FROM kanjo_log_entry_json) IS DISTINCT FROM 'unknown/不明' THEN
                 RAISE EXCEPTION 'an unnamed kind is not shown as unknown';
             END IF;
         END $$;",
    )
    .expect("an unnamed kind shows as unknown");
}
