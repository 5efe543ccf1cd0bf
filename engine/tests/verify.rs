//! `kanjo verify` names the first bad seq of a tampered log, with the reason, on SQLite and
//! PostgreSQL alike; an intact log verifies (exit 0) to the head `kanjo report trial-balance`
//! printed; the chain survives restarts and upgrades of logs written before it.
//!
//! Each test writes a log of `RECORDS` records (one topup per commit) through the engine, damages
//! it behind the store's back, and runs the `kanjo` binary. PostgreSQL needs a reachable server
//! (`KANJO_TEST_PG_URL`): its tests fail, never skip, when it is down.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TempDir, event, kanjo, start_engine, topup};
use kanjo_engine::store::testdb::TestDatabase;
use kanjo_engine::store::{self, ChainHead, SQLITE_FILE_NAME, StoreTarget, chain_hash};
use kanjo_engine::verify::{EXIT_LOG_DIFFERS, head_line, parse_head};

/// Records in each test's log.
const RECORDS: u64 = 6;
/// A seq no record has, to park one while two trade places (seq has CHECK (seq >= 1)).
const PARKING_SEQ: u64 = 1_000_000;

/// One store under test and the ways to damage it.
trait Backend {
    fn target(&self) -> StoreTarget;
    fn store_args(&self) -> Vec<String>;
    /// Flips one bit of one byte of record `seq`'s content.
    fn flip_byte(&self, seq: u64);
    fn delete(&self, seq: u64);
    /// Exchanges two records, each with its stored hashes.
    fn swap(&self, a: u64, b: u64);
    fn set_hash(&self, seq: u64, hash: [u8; 32]);
    /// Rewrites the log as it was before the chain existed (records kept).
    fn make_unchained(&self);
    /// What an operator runs after installing the new binary.
    fn upgrade(&self);
}

struct Sqlite {
    dir: TempDir,
}

impl Sqlite {
    fn new() -> Sqlite {
        Sqlite {
            dir: TempDir::new("verify"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir().join(SQLITE_FILE_NAME))
            .expect("open the log file")
    }

    fn run(&self, sql: &str, params: impl rusqlite::Params) {
        self.raw().execute(sql, params).expect("damage the log");
    }
}

impl Backend for Sqlite {
    fn target(&self) -> StoreTarget {
        StoreTarget::Sqlite {
            data_dir: self.data_dir(),
        }
    }

    fn store_args(&self) -> Vec<String> {
        vec!["--data".into(), self.data_dir().display().to_string()]
    }

    fn flip_byte(&self, seq: u64) {
        let mut payload: Vec<u8> = self
            .raw()
            .query_row(
                "SELECT payload FROM kanjo_log WHERE seq = ?1",
                [seq as i64],
                |row| row.get(0),
            )
            .expect("read a payload");
        *payload.last_mut().expect("a payload is never empty") ^= 1;
        self.run(
            "UPDATE kanjo_log SET payload = ?2 WHERE seq = ?1",
            rusqlite::params![seq as i64, payload],
        );
    }

    fn delete(&self, seq: u64) {
        self.run("DELETE FROM kanjo_log WHERE seq = ?1", [seq as i64]);
    }

    fn swap(&self, a: u64, b: u64) {
        let moves = [(a, PARKING_SEQ), (b, a), (PARKING_SEQ, b)];
        for (from, to) in moves {
            self.run(
                "UPDATE kanjo_log SET seq = ?2 WHERE seq = ?1",
                [from as i64, to as i64],
            );
        }
    }

    fn set_hash(&self, seq: u64, hash: [u8; 32]) {
        self.run(
            "UPDATE kanjo_log SET hash = ?2 WHERE seq = ?1",
            rusqlite::params![seq as i64, &hash[..]],
        );
    }

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

    /// Nothing to run: opening the file (here, `kanjo verify`) upgrades it.
    fn upgrade(&self) {}
}

struct Postgres {
    db: TestDatabase,
}

impl Postgres {
    fn new() -> Postgres {
        Postgres {
            db: TestDatabase::create().expect("PostgreSQL test database"),
        }
    }
}

impl Backend for Postgres {
    fn target(&self) -> StoreTarget {
        StoreTarget::Postgres {
            url: self.db.url().to_owned(),
        }
    }

    fn store_args(&self) -> Vec<String> {
        vec!["--database-url".into(), self.db.url().to_owned()]
    }

    fn flip_byte(&self, seq: u64) {
        self.db
            .execute(&format!(
                "UPDATE kanjo_log_entry SET body = set_byte(body, 0, get_byte(body, 0) # 1)
                 WHERE seq = {seq} AND idx = 0"
            ))
            .expect("damage an entry");
    }

    fn delete(&self, seq: u64) {
        self.db
            .execute(&format!(
                "DELETE FROM kanjo_log_entry WHERE seq = {seq};
                 DELETE FROM kanjo_log_record WHERE seq = {seq};"
            ))
            .expect("delete a record");
    }

    fn swap(&self, a: u64, b: u64) {
        let mut sql = String::new();
        for (from, to) in [(a, PARKING_SEQ), (b, a), (PARKING_SEQ, b)] {
            sql.push_str(&format!(
                "UPDATE kanjo_log_record SET seq = {to} WHERE seq = {from};
                 UPDATE kanjo_log_entry SET seq = {to} WHERE seq = {from};"
            ));
        }
        self.db.execute(&sql).expect("swap two records");
    }

    fn set_hash(&self, seq: u64, hash: [u8; 32]) {
        let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
        self.db
            .execute(&format!(
                "UPDATE kanjo_log_record SET hash = '\\x{hex}'::bytea WHERE seq = {seq}"
            ))
            .expect("set a hash");
    }

    fn make_unchained(&self) {
        self.db
            .execute(
                "DROP INDEX kanjo_log_record_unchained;
                 ALTER TABLE kanjo_log_record DROP COLUMN prev_hash, DROP COLUMN hash;
                 DELETE FROM kanjo_schema_migrations WHERE name = '0005_hash_chain';",
            )
            .expect("undo 0005_hash_chain");
    }

    fn upgrade(&self) {
        let args = self.store_args();
        let migrated = kanjo(&[&["migrate"], &args_ref(&args)[..]].concat());
        assert!(migrated.status.success(), "{}", text(&migrated));
        assert!(
            String::from_utf8_lossy(&migrated.stdout).contains("applied 0005_hash_chain"),
            "{}",
            text(&migrated)
        );
    }
}

fn args_ref(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes `records` more records, one topup per commit, through an engine that is then stopped.
/// Returns the ledger digest the engine had.
fn write_records(backend: &dyn Backend, first: u64, records: u64) -> String {
    let engine = start_engine(backend.target());
    for n in first..first + records {
        let topup = topup(&format!("t-{n}"), "r-001", "JPY", 1_000 + n, &common::at(n));
        engine
            .submit(vec![event(&topup)])
            .expect("the topup commits");
    }
    assert_eq!(
        engine.committed_seq(),
        first + records - 1,
        "one record per commit"
    );
    let digest = engine
        .query_blocking(|machine| format!("{:032x}", machine.ledger().digest()))
        .expect("the engine answers");
    engine.shutdown();
    digest
}

fn verify(backend: &dyn Backend, extra: &[&str]) -> Output {
    let args = backend.store_args();
    kanjo(&[&["verify"], &args_ref(&args)[..], extra].concat())
}

/// The head line of `kanjo report trial-balance` (its last line), parsed.
fn published_head(backend: &dyn Backend) -> ChainHead {
    let args = backend.store_args();
    let report = kanjo(&[&["report", "trial-balance"], &args_ref(&args)[..]].concat());
    assert!(report.status.success(), "{}", text(&report));
    let stdout = String::from_utf8_lossy(&report.stdout);
    let last = stdout.lines().last().expect("the report has lines");
    let head = last
        .strip_prefix("chain head: ")
        .unwrap_or_else(|| panic!("the report ends with the chain head:\n{stdout}"));
    assert!(stdout.contains("balanced"), "{stdout}");
    parse_head(head).expect("the printed head parses")
}

/// `kanjo verify` exits 5 and names `seq` and `code` as the first bad record.
fn assert_broken_at(output: &Output, seq: u64, code: &str) {
    assert_eq!(
        output.status.code(),
        Some(i32::from(EXIT_LOG_DIFFERS)),
        "{}",
        text(output)
    );
    let expected = format!("NOT VERIFIED: chain broken at seq {seq}: {code} (");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&expected),
        "expected {expected:?}:\n{}",
        text(output)
    );
}

// ---- the rules ------------------------------------------------------------------------------

fn check_an_intact_log_verifies_to_the_published_head(backend: &dyn Backend) {
    write_records(backend, 1, 4);
    // A restart in between: the chain continues from the stored head.
    let digest = write_records(backend, 5, RECORDS - 4);
    let head = published_head(backend);
    assert_eq!(head.seq, RECORDS);
    let output = verify(backend, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&head_line(&head)), "{stdout}");
    assert!(
        stdout.contains(&format!("ledger digest {digest}")),
        "{stdout}"
    );
    let expected = format!("{}:{}", head.seq, head.hash_hex());
    let output = verify(backend, &["--expect-head", &expected]);
    assert!(output.status.success(), "{}", text(&output));
}

fn check_an_altered_byte_is_named_at_its_seq(backend: &dyn Backend) {
    write_records(backend, 1, RECORDS);
    backend.flip_byte(3);
    assert_broken_at(&verify(backend, &[]), 3, "altered");
}

fn check_a_deleted_record_is_named_missing(backend: &dyn Backend) {
    write_records(backend, 1, RECORDS);
    backend.delete(3);
    assert_broken_at(&verify(backend, &[]), 3, "missing");
}

fn check_swapped_records_are_named_at_the_first(backend: &dyn Backend) {
    write_records(backend, 1, RECORDS);
    backend.swap(2, 4);
    assert_broken_at(&verify(backend, &[]), 2, "altered");
}

fn check_a_truncated_tail_is_caught_by_the_published_head(backend: &dyn Backend) {
    write_records(backend, 1, RECORDS);
    let head = published_head(backend);
    backend.delete(RECORDS);
    backend.delete(RECORDS - 1);
    let expected = format!("{}:{}", head.seq, head.hash_hex());
    assert_broken_at(
        &verify(backend, &["--expect-head", &expected]),
        RECORDS - 1,
        "truncated",
    );
    // Without the published head a shorter log is a consistent log: publishing is the defence.
    let output = verify(backend, &[]);
    assert!(output.status.success(), "{}", text(&output));
}

fn check_a_rehashed_forgery_is_named_at_its_own_seq(backend: &dyn Backend) {
    write_records(backend, 1, RECORDS);
    backend.flip_byte(3);
    let link = store::open(&backend.target())
        .expect("open the store")
        .read_links(3, 1)
        .expect("read the forged record")
        .remove(0);
    let prev = link.prev_hash.expect("a stored prev_hash");
    backend.set_hash(3, chain_hash(&prev, 3, &link.canonical_bytes));
    assert_broken_at(&verify(backend, &[]), 3, "rehashed");
}

fn check_an_upgraded_old_log_verifies(backend: &dyn Backend) {
    let digest = write_records(backend, 1, RECORDS);
    let head = published_head(backend);
    backend.make_unchained();
    backend.upgrade();
    let output = verify(backend, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The upgrade chains the records exactly as appending them did.
    assert!(stdout.contains(&head_line(&head)), "{stdout}");
    assert!(
        stdout.contains(&format!("ledger digest {digest}")),
        "{stdout}"
    );
}

macro_rules! on_both_stores {
    ($($name:ident => $check:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $name() { $check(&Sqlite::new()); })*
        }
        mod postgres {
            use super::*;
            $(#[test] fn $name() { $check(&Postgres::new()); })*
        }
    };
}

on_both_stores!(
    an_intact_log_verifies_to_the_published_head => check_an_intact_log_verifies_to_the_published_head,
    an_altered_byte_is_named_at_its_seq => check_an_altered_byte_is_named_at_its_seq,
    a_deleted_record_is_named_missing => check_a_deleted_record_is_named_missing,
    swapped_records_are_named_at_the_first => check_swapped_records_are_named_at_the_first,
    a_truncated_tail_is_caught_by_the_published_head => check_a_truncated_tail_is_caught_by_the_published_head,
    a_rehashed_forgery_is_named_at_its_own_seq => check_a_rehashed_forgery_is_named_at_its_own_seq,
    an_upgraded_old_log_verifies => check_an_upgraded_old_log_verifies,
);

/// The fixture written before the chain existed (see `log_fixture.rs`) is upgraded on open and
/// verifies to the digest it always replayed to.
#[test]
fn the_log_written_before_the_chain_verifies_after_its_upgrade() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v1");
    let dir = TempDir::new("verify-fixture");
    std::fs::copy(fixture.join(SQLITE_FILE_NAME), dir.join(SQLITE_FILE_NAME))
        .expect("copy the fixture log");
    let data = dir.path().display().to_string();
    let programme = fixture.join("programme.toml").display().to_string();
    let output = kanjo(&["verify", "--data", &data, "--programme", &programme]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ledger digest 5dbc13931b50172fe07afdfd9769e395"),
        "{stdout}"
    );
    assert!(stdout.contains("chain: intact, "), "{stdout}");
}

#[test]
fn a_malformed_expected_head_is_a_usage_error() {
    let dir = TempDir::new("verify-usage");
    let data = dir.path().display().to_string();
    let output = kanjo(&["verify", "--data", &data, "--expect-head", "12"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SEQ:HEX"),
        "{}",
        text(&output)
    );
}
