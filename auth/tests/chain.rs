//! The tamper-evident chain: each kind of tampering is reported at the exact seq.

use kanjo_auth::chain::FIRST_SEQ;
use kanjo_auth::{
    ChainBreak, ChainError, ChainHead, ChainLink, ChainVerifier, GENESIS, chain_hash, verify_chain,
};
use proptest::prelude::*;

/// A stored log record: what a store keeps per seq.
#[derive(Clone, Debug)]
struct Stored {
    seq: u64,
    prev_hash: [u8; 32],
    record: Vec<u8>,
    hash: [u8; 32],
}

impl Stored {
    fn link(&self) -> ChainLink<'_> {
        ChainLink {
            seq: self.seq,
            prev_hash: self.prev_hash,
            record: &self.record,
            hash: self.hash,
        }
    }
}

/// Appends records as a store would: each chained to the head before it.
fn log_of(records: &[Vec<u8>]) -> Vec<Stored> {
    let mut head = ChainHead::GENESIS;
    records
        .iter()
        .map(|record| {
            let next = head.next(record);
            let stored = Stored {
                seq: next.seq,
                prev_hash: head.hash,
                record: record.clone(),
                hash: next.hash,
            };
            head = next;
            stored
        })
        .collect()
}

fn ten_records() -> Vec<Stored> {
    log_of(
        &(1..=10)
            .map(|n| format!(r#"{{"batch":{n},"events":["e-{n}a","e-{n}b"]}}"#).into_bytes())
            .collect::<Vec<_>>(),
    )
}

fn verify(log: &[Stored], expected: Option<ChainHead>) -> Result<ChainHead, ChainError> {
    verify_chain(log.iter().map(Stored::link), expected)
}

fn head_of(log: &[Stored]) -> ChainHead {
    let last = log.last().unwrap();
    ChainHead {
        seq: last.seq,
        hash: last.hash,
    }
}

fn at(seq: u64, reason: ChainBreak) -> Result<ChainHead, ChainError> {
    Err(ChainError { seq, reason })
}

#[test]
fn the_chain_hash_is_sha256_of_prev_then_seq_big_endian_then_the_record() {
    // Computed independently: hashlib.sha256(bytes(32) + (1).to_bytes(8, 'big') + b'abc').
    assert_eq!(
        hex(&chain_hash(&GENESIS, 1, b"abc")),
        "328976acf07e9b1c4a8967f2d63902c9a724235b6363ac83087246ad84cd222a"
    );
    assert_eq!(GENESIS, [0; 32]);
    assert_eq!(FIRST_SEQ, 1);
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn an_untouched_log_verifies_and_its_head_is_the_last_record() {
    let log = ten_records();
    assert_eq!(verify(&log, None), Ok(head_of(&log)));
    assert_eq!(verify(&log, Some(head_of(&log))), Ok(head_of(&log)));
    assert_eq!(verify(&[], None), Ok(ChainHead::GENESIS));
    assert_eq!(
        head_of(&log).to_string(),
        format!("seq 10 sha256:{}", hex(&head_of(&log).hash))
    );
}

#[test]
fn one_altered_byte_is_reported_at_its_record() {
    for seq in 1..=10u64 {
        let mut log = ten_records();
        log[seq as usize - 1].record[5] ^= 0x01;
        assert_eq!(
            verify(&log, None),
            at(seq, ChainBreak::Altered),
            "seq {seq}"
        );
    }
}

#[test]
fn an_altered_stored_hash_or_link_is_reported_at_its_record() {
    let mut log = ten_records();
    log[3].hash[0] ^= 0x80;
    assert_eq!(verify(&log, None), at(4, ChainBreak::Altered));
    let mut log = ten_records();
    log[6].prev_hash[31] ^= 0x01;
    assert_eq!(verify(&log, None), at(7, ChainBreak::Altered));
}

#[test]
fn a_deleted_record_is_reported_at_its_seq() {
    let mut log = ten_records();
    log.remove(4);
    assert_eq!(
        verify(&log, None),
        at(5, ChainBreak::Missing { found_seq: 6 })
    );
    let mut log = ten_records();
    log.remove(0);
    assert_eq!(
        verify(&log, None),
        at(1, ChainBreak::Missing { found_seq: 2 })
    );
}

#[test]
fn a_deleted_record_with_the_later_seqs_renumbered_is_reported_at_its_seq() {
    let mut log = ten_records();
    log.remove(4);
    for stored in &mut log[4..] {
        stored.seq -= 1;
    }
    assert_eq!(verify(&log, None), at(5, ChainBreak::Altered));
}

#[test]
fn two_swapped_records_are_reported_at_the_first() {
    // The rows' contents exchanged, the seq column left in place.
    let mut log = ten_records();
    let (third, fourth) = (log[2].clone(), log[3].clone());
    log[2] = Stored { seq: 3, ..fourth };
    log[3] = Stored { seq: 4, ..third };
    assert_eq!(verify(&log, None), at(3, ChainBreak::Altered));
    // The rows exchanged whole and read in storage order.
    let mut log = ten_records();
    log.swap(2, 3);
    assert_eq!(
        verify(&log, None),
        at(3, ChainBreak::Missing { found_seq: 4 })
    );
}

#[test]
fn a_record_read_twice_is_out_of_order() {
    let mut log = ten_records();
    log.insert(5, log[4].clone());
    assert_eq!(
        verify(&log, None),
        at(6, ChainBreak::OutOfOrder { found_seq: 5 })
    );
}

#[test]
fn a_truncated_tail_is_reported_at_the_first_missing_seq_given_the_expected_head() {
    let full = ten_records();
    let expected = head_of(&full);
    let cut = &full[..7];
    // Alone, a shorter log is a valid log: the expected head is what shows the loss.
    assert_eq!(verify(cut, None), Ok(head_of(cut)));
    assert_eq!(
        verify(cut, Some(expected)),
        at(8, ChainBreak::Truncated { last_seq: 7 })
    );
    assert_eq!(
        verify(&[], Some(expected)),
        at(1, ChainBreak::Truncated { last_seq: 0 })
    );
}

/// Replaces record `seq` with other bytes and recomputes its own hash, leaving its successor.
fn rehash(log: &mut [Stored], seq: u64, forged: &[u8]) {
    let stored = &mut log[seq as usize - 1];
    stored.record = forged.to_vec();
    stored.hash = chain_hash(&stored.prev_hash, stored.seq, forged);
}

#[test]
fn a_rehashed_forgery_without_its_successor_is_reported_at_the_forgery() {
    for seq in 1..=9u64 {
        let mut log = ten_records();
        rehash(
            &mut log,
            seq,
            br#"{"batch":0,"events":["topup 5000000 SUZU"]}"#,
        );
        assert_eq!(
            verify(&log, None),
            at(seq, ChainBreak::Rehashed),
            "seq {seq}"
        );
    }
}

#[test]
fn a_rehashed_last_record_is_caught_only_against_an_expected_head() {
    let honest = ten_records();
    let mut log = honest.clone();
    rehash(&mut log, 10, b"forged");
    assert!(verify(&log, None).is_ok());
    assert_eq!(
        verify(&log, Some(head_of(&honest))),
        at(10, ChainBreak::HeadMismatch)
    );
}

#[test]
fn a_whole_rewritten_history_is_caught_at_the_published_head() {
    let honest = ten_records();
    let published = ChainHead {
        seq: 6,
        hash: honest[5].hash,
    };
    // Everything from seq 3 on re-written and re-chained: internally consistent.
    let mut records: Vec<Vec<u8>> = honest.iter().map(|s| s.record.clone()).collect();
    records[2] = b"rewritten".to_vec();
    let rewritten = log_of(&records);
    assert!(verify(&rewritten, None).is_ok());
    assert_eq!(
        verify(&rewritten, Some(published)),
        at(6, ChainBreak::HeadMismatch)
    );
    // The honest log passes through the published head and goes on past it.
    assert_eq!(verify(&honest, Some(published)), Ok(head_of(&honest)));
}

#[test]
fn the_first_record_must_be_chained_to_genesis() {
    let mut log = ten_records();
    log[0].prev_hash = [7; 32];
    log[0].hash = chain_hash(&log[0].prev_hash, 1, &log[0].record);
    assert_eq!(verify(&log, None), at(1, ChainBreak::BrokenLink));
}

#[test]
fn a_verifier_can_continue_from_a_trusted_head() {
    let log = ten_records();
    let trusted = ChainHead {
        seq: 4,
        hash: log[3].hash,
    };
    let mut verifier = ChainVerifier::new(trusted, None);
    for stored in &log[4..] {
        verifier.push(&stored.link()).unwrap();
    }
    assert_eq!(verifier.finish(), Ok(head_of(&log)));

    let mut verifier = ChainVerifier::new(
        ChainHead {
            seq: 4,
            hash: [1; 32],
        },
        None,
    );
    assert_eq!(
        verifier.push(&log[4].link()),
        Err(ChainError {
            seq: 5,
            reason: ChainBreak::BrokenLink
        })
    );
}

#[test]
fn after_the_first_break_the_verifier_keeps_reporting_it() {
    let mut log = ten_records();
    log[2].record[0] ^= 1;
    let mut verifier = ChainVerifier::new(ChainHead::GENESIS, None);
    verifier.push(&log[0].link()).unwrap();
    verifier.push(&log[1].link()).unwrap();
    let first = verifier.push(&log[2].link()).unwrap_err();
    assert_eq!(verifier.push(&log[3].link()), Err(first));
    assert_eq!(verifier.head().seq, 2);
    assert_eq!(verifier.finish(), Err(first));
}

#[test]
fn every_break_has_a_code_and_a_message_with_its_seq() {
    let error = ChainError {
        seq: 42,
        reason: ChainBreak::Rehashed,
    };
    assert_eq!(error.reason.code(), "rehashed");
    assert!(
        error
            .to_string()
            .starts_with("log record seq 42: it was replaced")
    );
}

proptest! {
    /// Any single flipped bit anywhere in any record is reported at that record.
    #[test]
    fn any_flipped_bit_is_found_at_its_seq(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..64), 1..20),
        pick in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut log = log_of(&records);
        let victim = pick.index(log.len());
        let byte = offset.index(log[victim].record.len());
        log[victim].record[byte] ^= 1 << bit;
        prop_assert_eq!(verify(&log, None), at(victim as u64 + 1, ChainBreak::Altered));
    }

    /// Any re-hashed record other than the last is named, whatever the log.
    #[test]
    fn any_rehashed_record_is_found_at_its_seq(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 2..20),
        pick in any::<prop::sample::Index>(),
        forged in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut log = log_of(&records);
        let victim = pick.index(log.len() - 1);
        prop_assume!(log[victim].record != forged);
        rehash(&mut log, victim as u64 + 1, &forged);
        prop_assert_eq!(verify(&log, None), at(victim as u64 + 1, ChainBreak::Rehashed));
    }
}
