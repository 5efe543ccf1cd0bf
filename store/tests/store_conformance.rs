//! The store contract, checked against every backend.
//!
//! Each `check_*` function states one rule of `kanjo_store::Store`; the `conformance!`
//! macro runs all of them against one backend. PostgreSQL tests need a reachable server
//! (`KANJO_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`); they fail, never skip,
//! when it is down. Each test gets its own SQLite directory or PostgreSQL database.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use kanjo_store::{
    self as store, ChainBreak, ChainError, ChainHead, EntryKind, LOG_ENTRIES_PER_RECORD_MAX,
    LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX, LogEntry, LogRecord, RecordError,
    SQLITE_FILE_NAME, Store, StoreError, StoreTarget, StoredLink, testdb::TestDatabase,
};

/// One backend under test: where it lives, and the test-only ways to damage it.
trait Backend {
    fn target(&self) -> StoreTarget;
    /// Changes one stored byte of record `seq` behind the store's back.
    fn corrupt_record(&self, seq: u64);
    /// Makes the database itself fail any append of an entry whose id is `id`.
    fn arm_failure_on_entry_id(&self, id: &str);
    fn disarm_failure(&self);
    /// Ends every database session of the store, as a server restart does (SQLite has none).
    fn end_sessions(&self);
    /// Turns the log back into the schema written before the hash chain (SQLite v1, PostgreSQL
    /// without `0005_hash_chain`), records kept: an old log.
    fn make_unchained(&self);
    /// What an operator does to an old log: SQLite opens it, PostgreSQL runs `kanjo migrate`.
    fn upgrade(&self) -> Vec<String>;

    fn open(&self) -> Box<dyn Store> {
        store::open(&self.target()).expect("open the store under test")
    }
}

struct SqliteBackend {
    data_dir: PathBuf,
}

impl SqliteBackend {
    fn new() -> SqliteBackend {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let data_dir = std::env::temp_dir().join(format!(
            "kanjo-store-conformance-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        SqliteBackend { data_dir }
    }

    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join(SQLITE_FILE_NAME)).expect("open sqlite file")
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Backend for SqliteBackend {
    fn target(&self) -> StoreTarget {
        StoreTarget::Sqlite {
            data_dir: self.data_dir.clone(),
        }
    }

    fn corrupt_record(&self, seq: u64) {
        let changed = self
            .raw()
            .execute(
                "UPDATE kanjo_log SET payload = CAST(
                     substr(payload, 1, 20) || X'FF' || substr(payload, 22) AS BLOB) WHERE seq = ?1",
                [seq as i64],
            )
            .expect("corrupt payload");
        assert_eq!(changed, 1);
    }

    fn arm_failure_on_entry_id(&self, id: &str) {
        let sql = format!(
            "CREATE TRIGGER fail_append BEFORE INSERT ON kanjo_log
             WHEN instr(NEW.payload, CAST('{id}' AS BLOB)) > 0
             BEGIN SELECT RAISE(ABORT, 'armed failure'); END"
        );
        self.raw()
            .execute_batch(&sql)
            .expect("create failing trigger");
    }

    fn disarm_failure(&self) {
        self.raw()
            .execute_batch("DROP TRIGGER fail_append")
            .expect("drop failing trigger");
    }

    fn end_sessions(&self) {}

    fn make_unchained(&self) {
        self.raw()
            .execute_batch(
                "CREATE TABLE kanjo_log_v1 (
                     seq         INTEGER PRIMARY KEY CHECK (seq >= 1),
                     clock_ns    INTEGER NOT NULL CHECK (clock_ns >= 0),
                     event_count INTEGER NOT NULL CHECK (event_count >= 0),
                     rider_count INTEGER NOT NULL CHECK (rider_count >= 0),
                     checksum    INTEGER NOT NULL,
                     payload     BLOB NOT NULL
                 ) STRICT;
                 INSERT INTO kanjo_log_v1
                     SELECT seq, clock_ns, event_count, rider_count, checksum, payload FROM kanjo_log;
                 DROP TABLE kanjo_log;
                 ALTER TABLE kanjo_log_v1 RENAME TO kanjo_log;
                 PRAGMA user_version = 1;",
            )
            .expect("rewrite the log as schema v1");
    }

    fn upgrade(&self) -> Vec<String> {
        store::migrate(&self.target()).expect("open upgrades the file")
    }
}

struct PostgresBackend {
    db: TestDatabase,
}

impl PostgresBackend {
    fn new() -> PostgresBackend {
        PostgresBackend {
            db: TestDatabase::create().expect("PostgreSQL test database"),
        }
    }
}

impl Backend for PostgresBackend {
    fn target(&self) -> StoreTarget {
        StoreTarget::Postgres {
            url: self.db.url().to_owned(),
        }
    }

    fn corrupt_record(&self, seq: u64) {
        self.db
            .execute(&format!(
                "UPDATE kanjo_log_entry SET body = body || '\\x20'::bytea WHERE seq = {seq} AND idx = 0"
            ))
            .expect("corrupt entry body");
    }

    fn arm_failure_on_entry_id(&self, id: &str) {
        self.db
            .execute(&format!(
                "CREATE FUNCTION fail_append() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'armed failure'; END $$;
                 CREATE TRIGGER fail_append BEFORE INSERT ON kanjo_log_entry
                   FOR EACH ROW WHEN (NEW.id = '{id}') EXECUTE FUNCTION fail_append();"
            ))
            .expect("create failing trigger");
    }

    fn disarm_failure(&self) {
        self.db
            .execute("DROP TRIGGER fail_append ON kanjo_log_entry; DROP FUNCTION fail_append();")
            .expect("drop failing trigger");
    }

    fn end_sessions(&self) {
        self.db
            .execute_admin(&format!(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.db.name()
            ))
            .expect("terminate the store's sessions");
    }

    fn make_unchained(&self) {
        self.db
            .execute(
                "DROP INDEX kanjo_log_record_unchained;
                 ALTER TABLE kanjo_log_record DROP COLUMN prev_hash, DROP COLUMN hash;
                 DELETE FROM kanjo_schema_migrations WHERE name = '0005_hash_chain';",
            )
            .expect("undo 0005_hash_chain");
        match store::open(&self.target()) {
            Err(StoreError::SchemaNotMigrated { missing, .. }) => {
                assert_eq!(missing, ["0005_hash_chain"]);
            }
            other => panic!("an unchained database must not open: {:?}", other.err()),
        }
    }

    fn upgrade(&self) -> Vec<String> {
        store::migrate(&self.target()).expect("kanjo migrate")
    }
}

// ---- fixtures -------------------------------------------------------------------------------

const CLOCK_NS_START: u64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn event(id: &str, body: &str) -> LogEntry {
    LogEntry {
        kind: EntryKind::Event,
        id: id.to_owned(),
        body: body.as_bytes().to_vec(),
    }
}

fn rider(id: &str, body: &str) -> LogEntry {
    LogEntry {
        kind: EntryKind::Rider,
        id: id.to_owned(),
        body: body.as_bytes().to_vec(),
    }
}

/// A small record whose content depends on `seq`.
fn record(seq: u64) -> LogRecord {
    LogRecord {
        seq,
        clock_ns: CLOCK_NS_START + seq * 1_000_000,
        entries: vec![
            rider(&format!("rider-{seq}"), r#"{"age":77,"resident":true}"#),
            event(
                &format!("tap-{seq}-a"),
                &format!(r#"{{"kind":"tap","seq":{seq}}}"#),
            ),
            event(
                &format!("tap-{seq}-b"),
                r#"{"kind":"ride","fare_minor":210}"#,
            ),
        ],
    }
}

fn append_records(store: &mut dyn Store, seqs: std::ops::RangeInclusive<u64>) {
    for seq in seqs {
        store.append(&record(seq)).expect("append in order");
    }
}

fn read_all(store: &mut dyn Store) -> Vec<LogRecord> {
    store.read(1, usize::MAX).expect("read everything")
}

/// The stored chain, recomputed from the stored bytes.
fn verified_head(store: &mut dyn Store) -> Result<ChainHead, ChainError> {
    let links = store.read_links(1, usize::MAX).expect("read the links");
    kanjo_auth::verify_chain(links.iter().map(StoredLink::chain_link), None)
}

// ---- the rules ------------------------------------------------------------------------------

fn check_empty_store_has_last_seq_zero_and_nothing_to_read(backend: &dyn Backend) {
    let mut store = backend.open();
    assert_eq!(store.last_seq().unwrap(), 0);
    assert_eq!(read_all(store.as_mut()), Vec::new());
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 0);
    assert_eq!(store.count_entries(EntryKind::Rider).unwrap(), 0);
}

fn check_appended_records_read_back_exactly(backend: &dyn Backend) {
    let mut store = backend.open();
    let max_id = format!("{}{}", "勘".repeat(42), "ab");
    assert_eq!(max_id.len(), LOG_ENTRY_ID_BYTES_MAX);
    let first = LogRecord {
        seq: 1,
        clock_ns: 0,
        entries: vec![
            event("乗車-室蘭-🚌", r#"{"stop":"東室蘭駅"}"#),
            rider("empty-body", ""),
            LogEntry {
                kind: EntryKind::Event,
                id: max_id,
                body: vec![b'7'; LOG_ENTRY_BODY_BYTES_MAX],
            },
            event("binary-body", "\u{0}\u{1}\u{ff}"),
        ],
    };
    let no_entries = LogRecord {
        seq: 2,
        clock_ns: i64::MAX as u64,
        entries: Vec::new(),
    };
    store.append(&first).unwrap();
    store.append(&no_entries).unwrap();
    assert_eq!(store.last_seq().unwrap(), 2);
    assert_eq!(read_all(store.as_mut()), vec![first, no_entries]);
}

fn check_a_full_record_round_trips(backend: &dyn Backend) {
    let mut store = backend.open();
    let entries = (0..LOG_ENTRIES_PER_RECORD_MAX)
        .map(|i| {
            let body = format!(
                r#"{{"kind":"tap","rider":"r-{:08}","stop":"muroran-{:03}","route":"R{}","at_ms":{}}}"#,
                i * 7919 % 100_000,
                i % 400,
                i % 31,
                1_767_225_600_000u64 + i as u64
            );
            if i % 10 == 0 { rider(&format!("rider-{i}"), &body) } else { event(&format!("ev-{i}"), &body) }
        })
        .collect();
    let full = LogRecord {
        seq: 1,
        clock_ns: CLOCK_NS_START,
        entries,
    };
    store.append(&full).unwrap();
    assert_eq!(store.read(1, 1).unwrap(), vec![full]);
    assert_eq!(store.count_entries(EntryKind::Rider).unwrap(), 819);
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 8190 - 819);
}

fn check_seq_must_be_last_plus_one(backend: &dyn Backend) {
    let mut store = backend.open();
    match store.append(&record(2)) {
        Err(StoreError::OutOfOrder {
            expected_seq: 1,
            got_seq: 2,
            ..
        }) => {}
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    match store.append(&LogRecord {
        seq: 0,
        ..record(1)
    }) {
        Err(StoreError::InvalidRecord {
            seq: 0,
            source: RecordError::SeqOutOfRange,
        }) => {}
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    append_records(store.as_mut(), 1..=2);
    match store.append(&record(4)) {
        Err(StoreError::OutOfOrder {
            expected_seq: 3,
            got_seq: 4,
            ..
        }) => {}
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    assert_eq!(store.last_seq().unwrap(), 2);
}

fn check_identical_reappend_is_a_noop_and_different_content_conflicts(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=3);
    store.append(&record(3)).expect("retry of the last record");
    store.append(&record(1)).expect("retry of an older record");

    let mut other_clock = record(2);
    other_clock.clock_ns += 1;
    let mut other_body = record(2);
    other_body.entries[1].body.push(b' ');
    let mut other_kind = record(2);
    other_kind.entries[1].kind = EntryKind::Rider;
    let mut fewer = record(2);
    fewer.entries.pop();
    for different in [other_clock, other_body, other_kind, fewer] {
        match store.append(&different) {
            Err(StoreError::Conflict { seq: 2, .. }) => {}
            other => panic!("expected Conflict, got {other:?}"),
        }
    }
    assert_eq!(store.last_seq().unwrap(), 3);
    assert_eq!(
        read_all(store.as_mut()),
        vec![record(1), record(2), record(3)]
    );
}

fn check_every_record_is_chained_to_its_predecessor(backend: &dyn Backend) {
    let mut store = backend.open();
    assert_eq!(store.chain_head().unwrap(), ChainHead::GENESIS);
    append_records(store.as_mut(), 1..=3);
    store
        .append_many(&[record(4), record(5)])
        .expect("a group commit");
    store.append(&record(5)).expect("a retry changes nothing");
    store
        .append_many(&[record(2), record(6)])
        .expect("a retry, then a new record");

    let links = store.read_links(1, usize::MAX).unwrap();
    assert_eq!(
        links.iter().map(|link| link.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let mut head = ChainHead::GENESIS;
    for link in &links {
        // The canonical bytes are the record's packed encoding, whichever store kept it.
        let next = head.next(&link.canonical_bytes);
        assert_eq!(link.prev_hash, Some(head.hash), "seq {}", link.seq);
        assert_eq!(link.hash, Some(next.hash), "seq {}", link.seq);
        head = next;
    }
    assert_eq!(verified_head(store.as_mut()), Ok(head));
    assert_eq!(store.chain_head().unwrap(), head);
    assert_eq!(store.read_links(4, 2).unwrap(), links[3..5].to_vec());
}

fn check_the_chain_continues_after_reopen(backend: &dyn Backend) {
    let head_before = {
        let mut store = backend.open();
        append_records(store.as_mut(), 1..=3);
        store.chain_head().unwrap()
    };
    let mut store = backend.open();
    assert_eq!(store.chain_head().unwrap(), head_before);
    store.append(&record(4)).unwrap();
    let links = store.read_links(4, 1).unwrap();
    assert_eq!(links[0].prev_hash, Some(head_before.hash));
    assert_eq!(verified_head(store.as_mut()).unwrap().seq, 4);
}

fn check_read_links_reads_past_a_corrupt_record(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=3);
    backend.corrupt_record(2);
    assert!(
        store.read(1, 3).is_err(),
        "read stops at the damaged record"
    );
    assert_eq!(store.read_links(1, 3).unwrap().len(), 3);
    assert_eq!(
        verified_head(store.as_mut()),
        Err(ChainError {
            seq: 2,
            reason: ChainBreak::Altered
        })
    );
}

fn check_an_old_log_is_chained_on_upgrade(backend: &dyn Backend) {
    let head_before = {
        let mut store = backend.open();
        append_records(store.as_mut(), 1..=4);
        store.chain_head().unwrap()
    };
    backend.make_unchained();
    let applied = backend.upgrade();
    assert!(
        applied.iter().any(|name| name.contains("hash")),
        "the chain's migration is applied: {applied:?}"
    );
    assert_eq!(backend.upgrade(), Vec::<String>::new(), "and only once");
    let mut store = backend.open();
    // The upgrade computes the same chain the appends did.
    assert_eq!(verified_head(store.as_mut()), Ok(head_before));
    assert_eq!(
        read_all(store.as_mut()),
        (1..=4).map(record).collect::<Vec<_>>()
    );
    store
        .append(&record(5))
        .expect("appends continue the chain");
    assert_eq!(verified_head(store.as_mut()).unwrap().seq, 5);
}

fn check_read_pages_in_ascending_order(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=10);
    let mut replayed = Vec::new();
    let mut from_seq = 1;
    loop {
        let page = store.read(from_seq, 3).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        from_seq = page.last().unwrap().seq + 1;
        replayed.extend(page);
    }
    assert_eq!(replayed, (1..=10).map(record).collect::<Vec<_>>());
    assert_eq!(store.read(0, 2).unwrap(), vec![record(1), record(2)]);
    assert_eq!(store.read(9, 100).unwrap(), vec![record(9), record(10)]);
    assert_eq!(store.read(5, 0).unwrap(), Vec::new());
    assert_eq!(store.read(11, 5).unwrap(), Vec::new());
    assert_eq!(store.read(u64::MAX, 5).unwrap(), Vec::new());
}

fn check_meta_round_trips_and_overwrites(backend: &dyn Backend) {
    let mut store = backend.open();
    assert_eq!(store.meta("snapshot.seq").unwrap(), None);
    store.set_meta("snapshot.seq", "41").unwrap();
    store.set_meta("町", "室蘭市").unwrap();
    store.set_meta("empty", "").unwrap();
    store.set_meta("snapshot.seq", "42").unwrap();
    assert_eq!(store.meta("snapshot.seq").unwrap().as_deref(), Some("42"));
    assert_eq!(store.meta("町").unwrap().as_deref(), Some("室蘭市"));
    assert_eq!(store.meta("empty").unwrap().as_deref(), Some(""));
    assert!(matches!(
        store.set_meta("", "x"),
        Err(StoreError::InvalidMeta { .. })
    ));
    assert!(matches!(
        store.set_meta("k", "a\0b"),
        Err(StoreError::InvalidMeta { .. })
    ));
}

fn check_records_and_meta_survive_reopen(backend: &dyn Backend) {
    {
        let mut store = backend.open();
        append_records(store.as_mut(), 1..=4);
        store.set_meta("rules.version", "2026-04").unwrap();
    }
    let mut store = backend.open();
    assert_eq!(store.last_seq().unwrap(), 4);
    assert_eq!(
        read_all(store.as_mut()),
        (1..=4).map(record).collect::<Vec<_>>()
    );
    assert_eq!(
        store.meta("rules.version").unwrap().as_deref(),
        Some("2026-04")
    );
    store
        .append(&record(5))
        .expect("appending continues after reopen");
}

fn check_invalid_record_is_refused_before_anything_is_written(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=1);
    let mut oversized = record(2);
    oversized
        .entries
        .push(event("too-big", &"x".repeat(LOG_ENTRY_BODY_BYTES_MAX + 1)));
    match store.append(&oversized) {
        Err(StoreError::InvalidRecord {
            seq: 2,
            source: RecordError::BodyTooLarge { index: 3, .. },
        }) => {}
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    let mut crowded = record(2);
    crowded.entries = vec![event("e", "{}"); LOG_ENTRIES_PER_RECORD_MAX + 1];
    assert!(matches!(
        store.append(&crowded),
        Err(StoreError::InvalidRecord { .. })
    ));
    let mut nul_id = record(2);
    nul_id.entries[0].id = "a\0b".to_owned();
    assert!(matches!(
        store.append(&nul_id),
        Err(StoreError::InvalidRecord { .. })
    ));
    assert_eq!(store.last_seq().unwrap(), 1);
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 2);
    store
        .append(&record(2))
        .expect("the valid record takes the free seq");
}

fn check_a_failed_append_leaves_no_trace(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=1);
    let mut doomed = record(2);
    doomed.entries.push(event("boom", "{}")); // last entry: the header and others are written first
    backend.arm_failure_on_entry_id("boom");
    let error = store
        .append(&doomed)
        .expect_err("the database refuses the record");
    assert!(error.to_string().contains("armed failure"), "{error}");
    backend.disarm_failure();
    assert_eq!(store.last_seq().unwrap(), 1);
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 2);
    assert_eq!(store.count_entries(EntryKind::Rider).unwrap(), 1);
    store.append(&record(2)).expect("seq 2 is still free");
    assert_eq!(read_all(store.as_mut()), vec![record(1), record(2)]);
}

fn check_corrupted_content_is_detected_on_read(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=3);
    backend.corrupt_record(2);
    assert_eq!(store.read(1, 1).unwrap(), vec![record(1)]);
    match store.read(1, 10) {
        Err(error @ StoreError::Corrupt { seq: 2, .. }) => {
            assert!(error.to_string().contains("seq 2"), "{error}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A retry of the damaged seq must not be mistaken for a conflict or an identical record.
    assert!(matches!(
        store.append(&record(2)),
        Err(StoreError::Corrupt { seq: 2, .. })
    ));
}

fn check_count_entries_counts_each_kind(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=5);
    store.append(&record(5)).unwrap(); // a retry adds nothing
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 10);
    assert_eq!(store.count_entries(EntryKind::Rider).unwrap(), 5);
}

fn check_shop_records_round_trip_and_are_counted(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=2);
    let mut with_shop = record(3);
    with_shop.entries.insert(
        1,
        LogEntry {
            kind: EntryKind::Shop,
            id: "books".to_owned(),
            body: r#"{"id":"books","name":"室蘭書店","name_kana":"ﾑﾛﾗﾝｼﾖﾃﾝ"}"#
                .as_bytes()
                .to_vec(),
        },
    );
    store.append(&with_shop).unwrap();
    assert_eq!(store.read(3, 1).unwrap(), [with_shop]);
    assert_eq!(store.count_entries(EntryKind::Shop).unwrap(), 1);
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 6);
    assert_eq!(store.count_entries(EntryKind::Rider).unwrap(), 3);
}

fn check_device_key_records_round_trip_and_are_counted(backend: &dyn Backend) {
    let mut store = backend.open();
    append_records(store.as_mut(), 1..=2);
    let mut with_key = record(3);
    with_key.entries.push(LogEntry {
        kind: EntryKind::DeviceKey,
        id: "r-1".to_owned(),
        body: br#"{"rider":"r-1","public_key":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
            .to_vec(),
    });
    store.append(&with_key).unwrap();
    assert_eq!(store.read(3, 1).unwrap(), [with_key]);
    assert_eq!(store.count_entries(EntryKind::DeviceKey).unwrap(), 1);
    assert_eq!(store.count_entries(EntryKind::Shop).unwrap(), 0);
    assert_eq!(store.count_entries(EntryKind::Event).unwrap(), 6);
}

fn check_migrate_is_idempotent(backend: &dyn Backend) {
    let first = store::migrate(&backend.target()).unwrap();
    let second = store::migrate(&backend.target()).unwrap();
    assert_eq!(
        second,
        Vec::<String>::new(),
        "already migrated (first run applied {first:?})"
    );
    let mut store = backend.open();
    assert_eq!(store.last_seq().unwrap(), 0);
}

fn check_append_many_stores_consecutive_records_and_skips_retries(backend: &dyn Backend) {
    let mut store = backend.open();
    store.append(&record(1)).unwrap();
    store
        .append_many(&[record(1), record(2), record(3)])
        .expect("a retried record among new ones is skipped, the new ones stored");
    assert_eq!(store.last_seq().unwrap(), 3);
    assert_eq!(
        read_all(store.as_mut()),
        vec![record(1), record(2), record(3)]
    );
    let mut changed = record(3);
    changed.clock_ns += 1;
    assert!(
        store.append_many(&[changed, record(4)]).is_err(),
        "a conflicting record fails the call"
    );
    assert!(
        store.append_many(&[record(5)]).is_err(),
        "a gap is still out of order"
    );
    assert_eq!(store.last_seq().unwrap(), 3);
}

fn check_one_writer_at_a_time(backend: &dyn Backend) {
    let mut first = backend.open();
    first.claim_writer().unwrap();
    first.claim_writer().expect("claiming again is a no-op");
    let mut second = backend.open();
    assert!(
        matches!(second.claim_writer(), Err(store::StoreError::InUse { .. })),
        "a second writer is refused while the first holds the log"
    );
    assert_eq!(second.last_seq().unwrap(), 0, "but it may still read");
    drop(first);
    second
        .claim_writer()
        .expect("the claim is free once its holder is gone");
}

fn check_a_writer_whose_sessions_ended_reconnects_and_keeps_the_log(backend: &dyn Backend) {
    const RECONNECT_WAIT_MS: u64 = 5_000;
    let mut writer = backend.open();
    writer.claim_writer().unwrap();
    writer.append(&record(1)).unwrap();
    backend.end_sessions();
    if let Err(error) = writer.append(&record(2)) {
        assert_eq!(
            error.class(),
            store::ErrorClass::Transient,
            "a lost session may heal: {error}"
        );
    }
    let started = std::time::Instant::now();
    loop {
        match writer.reconnect() {
            Ok(()) => break,
            // The ended session may still be releasing the claim.
            Err(StoreError::InUse { .. })
                if started.elapsed().as_millis() < u128::from(RECONNECT_WAIT_MS) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => panic!("reconnect: {error}"),
        }
    }
    writer
        .append(&record(2))
        .expect("appends go on (an append that got through is an idempotent retry)");
    assert_eq!(writer.last_seq().unwrap(), 2);
    let mut second = backend.open();
    assert!(
        matches!(second.claim_writer(), Err(StoreError::InUse { .. })),
        "the reconnected writer holds the claim again"
    );
}

macro_rules! conformance {
    ($backend:ident, $new:expr, $name:literal) => {
        mod $backend {
            use super::*;

            fn backend() -> impl Backend {
                $new
            }

            #[test]
            fn backend_names_itself() {
                assert_eq!(backend().open().backend(), $name);
            }
            #[test]
            fn empty_store_has_last_seq_zero_and_nothing_to_read() {
                check_empty_store_has_last_seq_zero_and_nothing_to_read(&backend());
            }
            #[test]
            fn appended_records_read_back_exactly() {
                check_appended_records_read_back_exactly(&backend());
            }
            #[test]
            fn a_full_record_round_trips() {
                check_a_full_record_round_trips(&backend());
            }
            #[test]
            fn seq_must_be_last_plus_one() {
                check_seq_must_be_last_plus_one(&backend());
            }
            #[test]
            fn identical_reappend_is_a_noop_and_different_content_conflicts() {
                check_identical_reappend_is_a_noop_and_different_content_conflicts(&backend());
            }
            #[test]
            fn read_pages_in_ascending_order() {
                check_read_pages_in_ascending_order(&backend());
            }
            #[test]
            fn meta_round_trips_and_overwrites() {
                check_meta_round_trips_and_overwrites(&backend());
            }
            #[test]
            fn records_and_meta_survive_reopen() {
                check_records_and_meta_survive_reopen(&backend());
            }
            #[test]
            fn invalid_record_is_refused_before_anything_is_written() {
                check_invalid_record_is_refused_before_anything_is_written(&backend());
            }
            #[test]
            fn a_failed_append_leaves_no_trace() {
                check_a_failed_append_leaves_no_trace(&backend());
            }
            #[test]
            fn corrupted_content_is_detected_on_read() {
                check_corrupted_content_is_detected_on_read(&backend());
            }
            #[test]
            fn count_entries_counts_each_kind() {
                check_count_entries_counts_each_kind(&backend());
            }
            #[test]
            fn shop_records_round_trip_and_are_counted() {
                check_shop_records_round_trip_and_are_counted(&backend());
            }
            #[test]
            fn device_key_records_round_trip_and_are_counted() {
                check_device_key_records_round_trip_and_are_counted(&backend());
            }
            #[test]
            fn migrate_is_idempotent() {
                check_migrate_is_idempotent(&backend());
            }
            #[test]
            fn append_many_stores_consecutive_records_and_skips_retries() {
                check_append_many_stores_consecutive_records_and_skips_retries(&backend());
            }
            #[test]
            fn every_record_is_chained_to_its_predecessor() {
                check_every_record_is_chained_to_its_predecessor(&backend());
            }
            #[test]
            fn the_chain_continues_after_reopen() {
                check_the_chain_continues_after_reopen(&backend());
            }
            #[test]
            fn read_links_reads_past_a_corrupt_record() {
                check_read_links_reads_past_a_corrupt_record(&backend());
            }
            #[test]
            fn an_old_log_is_chained_on_upgrade() {
                check_an_old_log_is_chained_on_upgrade(&backend());
            }
            #[test]
            fn one_writer_at_a_time() {
                check_one_writer_at_a_time(&backend());
            }
            #[test]
            fn a_writer_whose_sessions_ended_reconnects_and_keeps_the_log() {
                check_a_writer_whose_sessions_ended_reconnects_and_keeps_the_log(&backend());
            }
        }
    };
}

conformance!(sqlite, SqliteBackend::new(), "sqlite");
conformance!(postgres, PostgresBackend::new(), "postgres");

// ---- backend-specific rules -----------------------------------------------------------------

#[test]
fn sqlite_refuses_a_database_that_is_not_a_kanjo_log() {
    let backend = SqliteBackend::new();
    std::fs::create_dir_all(&backend.data_dir).unwrap();
    backend
        .raw()
        .execute_batch("CREATE TABLE other (x INTEGER)")
        .unwrap();
    match store::open(&backend.target()) {
        Err(StoreError::SqliteNotKanjo { .. }) => {}
        Err(other) => panic!("expected SqliteNotKanjo, got {other:?}"),
        Ok(_) => panic!("a foreign database was accepted"),
    }
}

#[test]
fn postgres_without_migrations_says_to_run_kanjo_migrate() {
    let db = TestDatabase::create_unmigrated().expect("PostgreSQL test database");
    let target = StoreTarget::Postgres {
        url: db.url().to_owned(),
    };
    match store::open(&target) {
        Err(error @ StoreError::SchemaNotMigrated { .. }) => {
            assert!(error.to_string().contains("kanjo migrate"), "{error}");
        }
        Err(other) => panic!("expected SchemaNotMigrated, got {other:?}"),
        Ok(_) => panic!("an unmigrated database was accepted"),
    }
    let applied = store::migrate(&target).unwrap();
    assert_eq!(
        applied,
        store::PG_MIGRATIONS
            .iter()
            .map(|m| m.name.to_owned())
            .collect::<Vec<_>>()
    );
    store::open(&target).expect("open after migrate");
}

#[test]
fn postgres_unreachable_is_a_clear_error_naming_the_url_without_password() {
    let url = "postgres://kanjo:s3cret@127.0.0.1:1/kanjo";
    match store::open(&StoreTarget::Postgres {
        url: url.to_owned(),
    }) {
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("127.0.0.1:1"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        Ok(_) => panic!("nothing listens on port 1"),
    }
}

#[test]
fn postgres_store_works_from_a_tokio_blocking_thread_and_an_async_task() {
    let db = TestDatabase::create().expect("PostgreSQL test database");
    let target = StoreTarget::Postgres {
        url: db.url().to_owned(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let blocking_target = target.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store::open(&blocking_target).expect("open in spawn_blocking");
            store.append(&record(1)).expect("append in spawn_blocking");
        })
        .await
        .expect("blocking task");
        // Discouraged (it stalls the executor thread) but must not panic.
        let mut store = store::open(&target).expect("open in an async task");
        store.append(&record(2)).expect("append in an async task");
        assert_eq!(store.last_seq().unwrap(), 2);
        drop(store);
    });
}
