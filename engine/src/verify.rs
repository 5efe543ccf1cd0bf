//! `kanjo verify`: recomputes the log's hash chain from the stored bytes, replays the log as a
//! start does, and says whether the two agree. `kanjo report trial-balance` prints the head this
//! checks (see ops/runbooks/operations.md, "Publishing the chain head").
//!
//! The chain is read with `Store::read_links`, which checks nothing, so a damaged record is named
//! by the chain verifier at its own seq with its reason (`ChainBreak::code`), rather than by the
//! store's checksum on the way in. Only an intact chain is replayed.

use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use kanjo_store::{
    self as store, ChainError, ChainHead, ChainVerifier, Store, StoreError, StoreTarget,
};

use crate::pipeline::{Engine, EngineConfig, StartError};

/// Links read per page: a record can be ~1.2 MB, so a page stays around 10 MB.
const VERIFY_PAGE_RECORDS: usize = 8;
/// Exit status of `kanjo verify` when the log differs from its chain, its replay or the
/// expected head (1 is left for "could not check": the store unreachable, no programme).
pub const EXIT_LOG_DIFFERS: u8 = 5;

/// Why a log did not verify.
#[derive(Debug, thiserror::Error)]
pub enum Difference {
    /// The first bad seq and why (`reason.code()`).
    #[error("chain broken at seq {}: {} ({})", .0.seq, .0.reason.code(), .0.reason)]
    Chain(ChainError),
    /// The chain is intact but the log does not replay (e.g. a checksum column altered).
    #[error("the chain is intact to seq {chain_seq} but the log does not replay: {message}")]
    Replay { chain_seq: u64, message: String },
}

/// What an intact log verified to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub head: ChainHead,
    /// `Ledger::digest()` after the replay, as 32 hex digits.
    pub ledger_digest: String,
    pub events: u64,
}

/// `SEQ:HEX`, as `kanjo report trial-balance` prints the head and `--expect-head` takes it.
pub fn parse_head(text: &str) -> Result<ChainHead, String> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected SEQ:HEX (e.g. 47:5d3a…, 64 hex digits)"))?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("{seq:?} is not a seq (a whole number)"))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hash, &mut bytes)
        .map_err(|_| format!("{hash:?} is not a SHA-256 (64 hex digits)"))?;
    Ok(ChainHead { seq, hash: bytes })
}

/// The head line `kanjo report trial-balance` ends with: `chain head: SEQ:HEX`.
pub fn head_line(head: &ChainHead) -> String {
    format!("chain head: {}:{}", head.seq, head.hash_hex())
}

/// `report` as pretty JSON with a `chain_head` field (`{"seq", "hash"}`) after its own fields,
/// which keep their order.
pub fn json_with_head<T: serde::Serialize>(
    report: &T,
    head: &ChainHead,
) -> serde_json::Result<String> {
    #[derive(serde::Serialize)]
    struct HeadJson {
        seq: u64,
        hash: String,
    }
    #[derive(serde::Serialize)]
    struct WithHead<'a, T> {
        #[serde(flatten)]
        report: &'a T,
        chain_head: HeadJson,
    }
    serde_json::to_string_pretty(&WithHead {
        report,
        chain_head: HeadJson {
            seq: head.seq,
            hash: head.hash_hex(),
        },
    })
}

/// The chain head of `target` as of record `seq` (the last one a report replayed).
pub fn head_at(target: &StoreTarget, seq: u64) -> Result<ChainHead, store::StoreError> {
    store::open(target)?.chain_head_at(seq)
}

/// Verifies the log of `target` (replayed with `programme`), printing what it finds to `out`.
/// `Ok(Err(_))` is a difference; `Err` means the check itself could not run.
pub fn run(
    target: &StoreTarget,
    programme: PathBuf,
    expected: Option<ChainHead>,
    out: &mut dyn Write,
) -> anyhow::Result<Result<Verified, Difference>> {
    let verified = verify(target, programme, expected)?;
    match &verified {
        Ok(verified) => {
            writeln!(
                out,
                "chain: intact, {} records\nreplay: {} events, ledger digest {}\n{}",
                verified.head.seq,
                verified.events,
                verified.ledger_digest,
                head_line(&verified.head)
            )?;
            if let Some(expected) = expected {
                writeln!(
                    out,
                    "expected head {}:{} reached",
                    expected.seq,
                    expected.hash_hex()
                )?;
            }
            writeln!(out, "verified")?;
        }
        Err(difference) => writeln!(out, "NOT VERIFIED: {difference}")?,
    }
    Ok(verified)
}

fn verify(
    target: &StoreTarget,
    programme: PathBuf,
    expected: Option<ChainHead>,
) -> anyhow::Result<Result<Verified, Difference>> {
    let mut store = store::open(target)?;
    let mut verifier = ChainVerifier::new(ChainHead::GENESIS, expected);
    let bar = progress(store.last_seq()?);
    let pushed = push_links(store.as_mut(), &mut verifier, None, &bar);
    bar.finish_and_clear();
    if let Err(error) = pushed? {
        return Ok(Err(Difference::Chain(error)));
    }
    if let Err(error) = verifier.clone().finish() {
        return Ok(Err(Difference::Chain(error)));
    }
    let chain_seq = verifier.head().seq;
    let mut config = EngineConfig::new(target.clone(), programme);
    config.read_only = true;
    let engine = match Engine::start(config) {
        Ok(engine) => engine,
        // The log's own content does not replay: a difference. Anything else (the programme,
        // an unreachable store) means the check could not run.
        Err(
            error @ (StartError::Replay { .. } | StartError::Store(StoreError::Corrupt { .. })),
        ) => {
            let message = error.to_string();
            return Ok(Err(Difference::Replay { chain_seq, message }));
        }
        Err(error) => return Err(anyhow::Error::new(error).context("replaying the log")),
    };
    let (ledger_digest, events) = engine.query_blocking(|machine| {
        (
            format!("{:032x}", machine.ledger().digest()),
            machine.events_seen(),
        )
    })?;
    let replayed_seq = engine.committed_seq();
    engine.shutdown();
    if replayed_seq < chain_seq {
        let message = format!("the replay ended at seq {replayed_seq}, the chain at {chain_seq}");
        return Ok(Err(Difference::Replay { chain_seq, message }));
    }
    // A live writer appended after the chain was read: the replay covered those records too.
    if let Err(error) = push_links(store.as_mut(), &mut verifier, Some(replayed_seq), &bar)? {
        return Ok(Err(Difference::Chain(error)));
    }
    let head = match verifier.finish() {
        Ok(head) if head.seq == replayed_seq => head,
        Ok(head) => {
            let message = format!(
                "the replay ended at seq {replayed_seq}, the chain at {}",
                head.seq
            );
            return Ok(Err(Difference::Replay {
                chain_seq: head.seq,
                message,
            }));
        }
        Err(error) => return Ok(Err(Difference::Chain(error))),
    };
    Ok(Ok(Verified {
        head,
        ledger_digest,
        events: events as u64,
    }))
}

/// Feeds the stored links after the verifier's head to it, up to `last_seq` or the log's end.
/// The outer error is the store's, the inner one the chain's.
fn push_links(
    store: &mut dyn Store,
    verifier: &mut ChainVerifier,
    last_seq: Option<u64>,
    bar: &ProgressBar,
) -> Result<Result<(), ChainError>, store::StoreError> {
    loop {
        let from_seq = verifier.head().seq + 1;
        if last_seq.is_some_and(|last| from_seq > last) {
            return Ok(Ok(()));
        }
        let links = store.read_links(from_seq, VERIFY_PAGE_RECORDS)?;
        if links.is_empty() {
            return Ok(Ok(()));
        }
        for link in links
            .iter()
            .filter(|link| last_seq.is_none_or(|last| link.seq <= last))
        {
            if let Err(error) = verifier.push(&link.chain_link()) {
                return Ok(Err(error));
            }
            bar.inc(1);
        }
        if links.len() < VERIFY_PAGE_RECORDS {
            return Ok(Ok(()));
        }
    }
}

fn progress(records: u64) -> ProgressBar {
    let bar = ProgressBar::new(records);
    if let Ok(style) =
        ProgressStyle::with_template("  [{bar:40}] {pos}/{len} records chained ({per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_line_parses_back_to_its_head() {
        let head = ChainHead {
            seq: 47,
            hash: [0xAB; 32],
        };
        let line = head_line(&head);
        assert_eq!(line, format!("chain head: 47:{}", "ab".repeat(32)));
        assert_eq!(
            parse_head(line.trim_start_matches("chain head: ")),
            Ok(head)
        );
    }

    #[test]
    fn a_malformed_head_is_refused_with_the_expected_form() {
        assert!(parse_head("47").unwrap_err().contains("SEQ:HEX"));
        assert!(parse_head("x:00").unwrap_err().contains("not a seq"));
        assert!(parse_head("4:abc").unwrap_err().contains("64 hex digits"));
    }
}
