//! The tamper-evident chain over the command log.
//!
//! Each log record `seq` (1, 2, 3, …) stores, beside its canonical bytes, the hash it was chained
//! to (`prev_hash`, its predecessor's hash; [`GENESIS`] for seq 1) and its own hash:
//!
//! ```text
//! hash(seq) = SHA-256( prev_hash ‖ seq as 8 bytes big-endian ‖ canonical record bytes )
//! ```
//!
//! **Why SHA-256** rather than BLAKE3: this crate already uses it for token hashes (one hash
//! function, one crate, `sha2`), and it is what a town's auditor can recompute with any
//! standard tool (`sha256sum`, `openssl dgst`, a spreadsheet add-in), without kanjo. Its speed
//! (hundreds of MB/s per core, with SHA extensions several GB/s) is far beyond the log's rate,
//! which is counted in group-committed records, not events.
//!
//! The seq is hashed so that a record can't be moved to another place in the chain; the
//! previous hash, so that nothing before it can change without changing every hash after it.
//! The head (the last seq and its hash) therefore commits to the whole history: a town that
//! publishes it daily makes a quiet rewrite detectable.
//!
//! **Why each record also stores `prev_hash`**: with the hashes alone, a record replaced by a
//! forgery whose own hash was recomputed ("re-hashed") breaks the chain only at its successor,
//! and the verifier could not tell that forgery from a change to the successor. With the link
//! stored, the successor is seen to be intact but chained to a different hash, so the verifier
//! names the forged record itself ([`ChainBreak::Rehashed`]).
//!
//! [`verify_chain`] (or a [`ChainVerifier`] fed one record at a time) reports the first bad seq
//! and why:
//!
//! | tampering | reported seq | reason |
//! |---|---|---|
//! | a byte of a record (or of its stored hashes) altered | that record | [`ChainBreak::Altered`] |
//! | a record deleted | the deleted seq | [`ChainBreak::Missing`] |
//! | two records' contents swapped | the first of the two | [`ChainBreak::Altered`] |
//! | records out of seq order | the seq expected | [`ChainBreak::Missing`] or [`ChainBreak::OutOfOrder`] |
//! | the tail cut off (given the expected head) | the first missing seq | [`ChainBreak::Truncated`] |
//! | a record re-hashed, its successor untouched | the re-hashed record | [`ChainBreak::Rehashed`] |
//! | seq 1 (or the first after a trusted start) not chained to the start | that record | [`ChainBreak::BrokenLink`] |
//! | a published head that the recomputed chain does not reach | the head's seq | [`ChainBreak::HeadMismatch`] |

use std::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// What seq 1 is chained to: 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];
/// The first record's seq (the store's seqs are 1-based).
pub const FIRST_SEQ: u64 = 1;

/// The hash of record `seq`, chained to `prev` (see the module docs for the layout).
pub fn chain_hash(prev: &[u8; 32], seq: u64, canonical_record_bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(canonical_record_bytes);
    hasher.finalize().into()
}

/// The last seq of a chain and its hash. The empty chain's head is seq 0, [`GENESIS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl ChainHead {
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: GENESIS,
    };

    /// The head after appending `canonical_record_bytes` as the next record: what the store
    /// writes with it (`prev_hash` = `self.hash`, `hash` = the returned head's hash).
    pub fn next(&self, canonical_record_bytes: &[u8]) -> ChainHead {
        let seq = self.seq.checked_add(1).expect("seq overflows u64");
        ChainHead {
            seq,
            hash: chain_hash(&self.hash, seq, canonical_record_bytes),
        }
    }

    /// The hash in lowercase hex, as `kanjo report trial-balance` prints it.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} sha256:{}", self.seq, self.hash_hex())
    }
}

/// One stored record as the verifier reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLink<'a> {
    pub seq: u64,
    /// The hash the record was chained to when it was written.
    pub prev_hash: [u8; 32],
    /// The canonical bytes the hash covers.
    pub record: &'a [u8],
    /// The record's own stored hash.
    pub hash: [u8; 32],
}

/// Why the chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ChainBreak {
    #[error("its bytes or stored hashes were altered: the hash does not match")]
    Altered,
    #[error("it is missing: the next record found is seq {found_seq}")]
    Missing { found_seq: u64 },
    #[error("a record with seq {found_seq} came where this seq was expected")]
    OutOfOrder { found_seq: u64 },
    #[error(
        "it was replaced and re-hashed: its successor is intact but chained to a different hash"
    )]
    Rehashed,
    #[error("it is not chained to the hash the chain starts from")]
    BrokenLink,
    #[error("the chain ends at seq {last_seq}, before the expected head")]
    Truncated { last_seq: u64 },
    #[error("its hash is not the expected head's")]
    HeadMismatch,
}

impl ChainBreak {
    pub fn code(&self) -> &'static str {
        match self {
            ChainBreak::Altered => "altered",
            ChainBreak::Missing { .. } => "missing",
            ChainBreak::OutOfOrder { .. } => "out_of_order",
            ChainBreak::Rehashed => "rehashed",
            ChainBreak::BrokenLink => "broken_link",
            ChainBreak::Truncated { .. } => "truncated",
            ChainBreak::HeadMismatch => "head_mismatch",
        }
    }
}

/// The first bad seq and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("log record seq {seq}: {reason}")]
pub struct ChainError {
    pub seq: u64,
    pub reason: ChainBreak,
}

/// Verifies a chain one record at a time, in seq order, so a store can stream its log.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    /// The trusted point the chain continues from ([`ChainHead::GENESIS`] for a whole log).
    start: ChainHead,
    /// The last record accepted so far (its hashes are self-consistent and linked).
    head: ChainHead,
    /// A head the chain must pass through (a published head, or the store's own).
    expected: Option<ChainHead>,
    /// After the first error, every call answers it again.
    failed: Option<ChainError>,
}

impl ChainVerifier {
    /// A verifier of the records after `start`, which must pass through `expected` if given.
    pub fn new(start: ChainHead, expected: Option<ChainHead>) -> ChainVerifier {
        ChainVerifier {
            start,
            head: start,
            expected,
            failed: None,
        }
    }

    /// Checks the next record. Its own error may name the previous seq (a re-hashed record is
    /// only seen at its successor).
    pub fn push(&mut self, link: &ChainLink<'_>) -> Result<(), ChainError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        self.check(link)
            .inspect_err(|error| self.failed = Some(*error))
    }

    fn check(&mut self, link: &ChainLink<'_>) -> Result<(), ChainError> {
        let Some(expected_seq) = self.head.seq.checked_add(1) else {
            return Err(self.error_at(
                self.head.seq,
                ChainBreak::OutOfOrder {
                    found_seq: link.seq,
                },
            ));
        };
        if link.seq != expected_seq {
            let reason = if link.seq > expected_seq {
                ChainBreak::Missing {
                    found_seq: link.seq,
                }
            } else {
                ChainBreak::OutOfOrder {
                    found_seq: link.seq,
                }
            };
            return Err(self.error_at(expected_seq, reason));
        }
        if chain_hash(&link.prev_hash, link.seq, link.record) != link.hash {
            return Err(self.error_at(link.seq, ChainBreak::Altered));
        }
        if link.prev_hash != self.head.hash {
            // This record is intact, so the fault is its predecessor's: re-hashed after this
            // record was chained to it. The start is trusted, so there the fault is this link.
            return Err(if self.head.seq == self.start.seq {
                self.error_at(link.seq, ChainBreak::BrokenLink)
            } else {
                self.error_at(self.head.seq, ChainBreak::Rehashed)
            });
        }
        if let Some(expected) = self.expected
            && expected.seq == link.seq
            && expected.hash != link.hash
        {
            return Err(self.error_at(link.seq, ChainBreak::HeadMismatch));
        }
        self.head = ChainHead {
            seq: link.seq,
            hash: link.hash,
        };
        Ok(())
    }

    fn error_at(&self, seq: u64, reason: ChainBreak) -> ChainError {
        ChainError { seq, reason }
    }

    /// The head reached, once every record was pushed; refuses a chain that stops before the
    /// expected head.
    pub fn finish(self) -> Result<ChainHead, ChainError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if let Some(expected) = self.expected
            && self.head.seq < expected.seq
        {
            return Err(self.error_at(
                self.head.seq + 1,
                ChainBreak::Truncated {
                    last_seq: self.head.seq,
                },
            ));
        }
        Ok(self.head)
    }

    /// The last record accepted so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }
}

/// Verifies a whole log from [`GENESIS`], in the order given (the store's seq order). With
/// `expected`, the chain must reach it: same hash at its seq, and at least that long.
pub fn verify_chain<'a, I>(links: I, expected: Option<ChainHead>) -> Result<ChainHead, ChainError>
where
    I: IntoIterator<Item = ChainLink<'a>>,
{
    let mut verifier = ChainVerifier::new(ChainHead::GENESIS, expected);
    for link in links {
        verifier.push(&link)?;
    }
    verifier.finish()
}
