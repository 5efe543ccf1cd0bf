//! The unit of the command log and its limits.

use super::{EntryError, LOG_ENTRIES_PER_RECORD_MAX, RecordError, check_entry};

/// What an entry carries; stored as this `u8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    Event = 1,
    Rider = 2,
    /// A shop record (`POST /v1/shops`): an upsert of one shop, replayed like a rider record.
    Shop = 3,
    /// A rider's device public key (`POST /v1/riders/{id}/keys`), for customer-presented
    /// one-time tokens; replayed like rider records.
    DeviceKey = 4,
    /// A programme version (`kanjo programme apply`): `{digest, effective}`; its source is kept
    /// in the store's programme source table under the digest.
    Programme = 5,
    /// A period close (`POST /v1/settlements`, `kanjo settle`): `{"through":"YYYY-MM-DD"}`,
    /// entry id `settle-YYYY-MM-DD`; replayed like every other entry.
    Settlement = 6,
    /// A payout the bank confirmed (`POST /v1/payouts`, `kanjo payout --confirm`).
    Payout = 7,
    /// A reconciliation run against an outside file (`kanjo reconcile`): its matched count and
    /// exceptions, replayed into the run book.
    Reconciliation = 8,
    /// A clerk's resolution of one exception of a run (entry id `{run}#{n}`), for the audit trail.
    Resolution = 9,
    /// An API key change (`kanjo keys create` / `revoke`, `POST /v1/keys`): a
    /// `kanjo_auth::KeyChange` as canonical JSON, by key id; replayed into the key book.
    KeyChange = 10,
}

impl EntryKind {
    pub fn from_u8(value: u8) -> Option<EntryKind> {
        match value {
            1 => Some(EntryKind::Event),
            2 => Some(EntryKind::Rider),
            3 => Some(EntryKind::Shop),
            4 => Some(EntryKind::DeviceKey),
            5 => Some(EntryKind::Programme),
            6 => Some(EntryKind::Settlement),
            7 => Some(EntryKind::Payout),
            8 => Some(EntryKind::Reconciliation),
            9 => Some(EntryKind::Resolution),
            10 => Some(EntryKind::KeyChange),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event => "event",
            EntryKind::Rider => "rider",
            EntryKind::Shop => "shop",
            EntryKind::DeviceKey => "device_key",
            EntryKind::Programme => "programme",
            EntryKind::Settlement => "settlement",
            EntryKind::Payout => "payout",
            EntryKind::Reconciliation => "reconciliation",
            EntryKind::Resolution => "resolution",
            EntryKind::KeyChange => "key_change",
        }
    }
}

/// One input of a batch: an event, a rider, shop or device-key record, by its idempotency id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub kind: EntryKind,
    /// Idempotency id: 1..=`LOG_ENTRY_ID_BYTES_MAX` bytes of UTF-8, no NUL (PostgreSQL text can't hold it).
    pub id: String,
    /// Canonical JSON, at most `LOG_ENTRY_BODY_BYTES_MAX` bytes; the store treats it as opaque bytes.
    pub body: Vec<u8>,
}

/// One group-committed batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// 1-based, gap-free.
    pub seq: u64,
    /// The engine's clock for this batch; replay takes time from here.
    pub clock_ns: u64,
    pub entries: Vec<LogEntry>,
}

/// One record as stored, for verifying the hash chain: its seq, the hashes stored beside it and
/// its canonical bytes (the codec's packed encoding), read without checking its checksum, so a
/// damaged record reaches the chain verifier and is named there by its seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLink {
    pub seq: u64,
    /// `None` when the stored value is missing or not 32 bytes.
    pub prev_hash: Option<[u8; 32]>,
    /// `None` when the stored value is missing or not 32 bytes.
    pub hash: Option<[u8; 32]>,
    /// What `kanjo_auth::chain_hash` covers. PostgreSQL rebuilds it from the entry rows; rows that
    /// no valid record can have (a kind beyond a byte, missing entries) give bytes starting with
    /// `codec::UNENCODABLE_MARKER`, which no record's encoding starts with.
    pub canonical_bytes: Vec<u8>,
}

impl StoredLink {
    /// The link as the verifier reads it. A missing or malformed stored hash is replaced by a
    /// value that can't verify (the complement of the recomputed hash), so the verifier reports
    /// the record as altered, after its seq was checked for order like any other.
    pub fn chain_link(&self) -> kanjo_auth::ChainLink<'_> {
        let prev_hash = self.prev_hash.unwrap_or([0xFF; 32]);
        let hash = match (self.prev_hash, self.hash) {
            (Some(_), Some(hash)) => hash,
            _ => kanjo_auth::chain_hash(&prev_hash, self.seq, &self.canonical_bytes).map(|b| !b),
        };
        kanjo_auth::ChainLink {
            seq: self.seq,
            prev_hash,
            record: &self.canonical_bytes,
            hash,
        }
    }
}

/// A stored hash column: exactly 32 bytes, else `None`.
pub(crate) fn hash_from_column(value: Option<&[u8]>) -> Option<[u8; 32]> {
    value.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
}

/// Both stores keep seq and clock in signed 64-bit columns.
const COLUMN_I64_MAX: u64 = i64::MAX as u64;

/// Names the entry that broke a per-entry limit.
fn entry_error_at(error: EntryError, index: usize) -> RecordError {
    match error {
        EntryError::IdLength { id_bytes } => RecordError::IdLength { index, id_bytes },
        EntryError::IdHasNul => RecordError::IdHasNul { index },
        EntryError::BodyTooLarge { body_bytes } => RecordError::BodyTooLarge { index, body_bytes },
    }
}

impl LogRecord {
    /// Checks every limit, so a bad record is refused before anything is written.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.seq == 0 || self.seq > COLUMN_I64_MAX {
            return Err(RecordError::SeqOutOfRange);
        }
        if self.clock_ns > COLUMN_I64_MAX {
            return Err(RecordError::ClockOutOfRange);
        }
        if self.entries.len() > LOG_ENTRIES_PER_RECORD_MAX {
            return Err(RecordError::TooManyEntries {
                count: self.entries.len(),
            });
        }
        for (index, entry) in self.entries.iter().enumerate() {
            check_entry(&entry.id, entry.body.len())
                .map_err(|error| entry_error_at(error, index))?;
        }
        Ok(())
    }

    /// Entries of `kind` in this record.
    pub fn count(&self, kind: EntryKind) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.kind == kind)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX};

    fn record_with(entry: LogEntry) -> LogRecord {
        LogRecord {
            seq: 1,
            clock_ns: 5,
            entries: vec![entry],
        }
    }

    fn entry(id: &str, body_bytes: usize) -> LogEntry {
        LogEntry {
            kind: EntryKind::Event,
            id: id.to_owned(),
            body: vec![b'x'; body_bytes],
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let id = "あ".repeat(42) + "ab"; // 128 bytes
        assert_eq!(id.len(), LOG_ENTRY_ID_BYTES_MAX);
        assert_eq!(
            record_with(entry(&id, LOG_ENTRY_BODY_BYTES_MAX)).validate(),
            Ok(())
        );
        let full = LogRecord {
            seq: 1,
            clock_ns: i64::MAX as u64,
            entries: vec![entry("e", 0); LOG_ENTRIES_PER_RECORD_MAX],
        };
        assert_eq!(full.validate(), Ok(()));
    }

    #[test]
    fn each_limit_is_enforced_with_the_entry_index() {
        let long_id = "x".repeat(LOG_ENTRY_ID_BYTES_MAX + 1);
        assert_eq!(
            record_with(entry(&long_id, 0)).validate(),
            Err(RecordError::IdLength {
                index: 0,
                id_bytes: 129
            })
        );
        assert_eq!(
            record_with(entry("", 0)).validate(),
            Err(RecordError::IdLength {
                index: 0,
                id_bytes: 0
            })
        );
        assert_eq!(
            record_with(entry("a\0b", 0)).validate(),
            Err(RecordError::IdHasNul { index: 0 })
        );
        assert_eq!(
            record_with(entry("a", LOG_ENTRY_BODY_BYTES_MAX + 1)).validate(),
            Err(RecordError::BodyTooLarge {
                index: 0,
                body_bytes: LOG_ENTRY_BODY_BYTES_MAX + 1
            })
        );
        let crowded = LogRecord {
            seq: 1,
            clock_ns: 0,
            entries: vec![entry("e", 0); LOG_ENTRIES_PER_RECORD_MAX + 1],
        };
        assert_eq!(
            crowded.validate(),
            Err(RecordError::TooManyEntries {
                count: LOG_ENTRIES_PER_RECORD_MAX + 1
            })
        );
    }

    #[test]
    fn seq_is_one_based_and_numbers_fit_signed_columns() {
        let mut record = record_with(entry("a", 1));
        record.seq = 0;
        assert_eq!(record.validate(), Err(RecordError::SeqOutOfRange));
        record.seq = i64::MAX as u64 + 1;
        assert_eq!(record.validate(), Err(RecordError::SeqOutOfRange));
        record.seq = 1;
        record.clock_ns = i64::MAX as u64 + 1;
        assert_eq!(record.validate(), Err(RecordError::ClockOutOfRange));
    }
}
