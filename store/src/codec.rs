//! Packed, checksummed encoding of a record's content (everything but its seq).
//!
//! ```text
//! payload := format:u8 (=1) clock_ns:u64le entry_count:u32le entry*
//! entry   := kind:u8 id_len:u8 body_len:u16le id body
//! checksum = xxh3_64(payload, seed = seq)   // binds the content to its position in the log
//! ```
//! SQLite stores the payload itself; PostgreSQL stores entries as rows and the checksum of this
//! encoding in the header, so both detect edited or torn content on read.
//!
//! The payload is also a record's canonical bytes for the hash chain (`kanjo_auth::chain_hash`):
//! the encoding is deterministic, and PostgreSQL rebuilds it from its rows ([`encode_rows`]).

use super::{
    EntryKind, LOG_ENTRIES_PER_RECORD_MAX, LOG_ENTRY_BODY_BYTES_MAX, LOG_ENTRY_ID_BYTES_MAX,
    LogEntry, LogRecord,
};

const PAYLOAD_FORMAT_V1: u8 = 1;
const PAYLOAD_HEADER_BYTES: usize = 1 + 8 + 4;
const ENTRY_HEADER_BYTES: usize = 1 + 1 + 2;

// The length fields must hold every allowed length.
const _: () = assert!(LOG_ENTRY_ID_BYTES_MAX <= u8::MAX as usize);
const _: () = assert!(LOG_ENTRY_BODY_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(LOG_ENTRIES_PER_RECORD_MAX <= u32::MAX as usize);

/// Bytes `encode` will write for `record`.
pub(crate) fn encoded_len(record: &LogRecord) -> usize {
    let entries: usize = record
        .entries
        .iter()
        .map(|entry| ENTRY_HEADER_BYTES + entry.id.len() + entry.body.len())
        .sum();
    PAYLOAD_HEADER_BYTES + entries
}

/// Appends the payload of a validated record to `out`.
pub(crate) fn encode(record: &LogRecord, out: &mut Vec<u8>) {
    debug_assert_eq!(record.validate(), Ok(()));
    let start = out.len();
    out.reserve(encoded_len(record));
    out.push(PAYLOAD_FORMAT_V1);
    out.extend_from_slice(&record.clock_ns.to_le_bytes());
    let count = u32::try_from(record.entries.len()).expect("validated: entries fit u32");
    out.extend_from_slice(&count.to_le_bytes());
    for entry in &record.entries {
        let id_len = u8::try_from(entry.id.len()).expect("validated: id fits u8");
        let body_len = u16::try_from(entry.body.len()).expect("validated: body fits u16");
        out.push(entry.kind as u8);
        out.push(id_len);
        out.extend_from_slice(&body_len.to_le_bytes());
        out.extend_from_slice(entry.id.as_bytes());
        out.extend_from_slice(&entry.body);
    }
    debug_assert_eq!(out.len() - start, encoded_len(record));
}

/// First byte of the bytes [`encode_rows`] gives for rows that no valid record has. It is never
/// a format byte, so such bytes never hash like any record that was appended.
pub(crate) const UNENCODABLE_MARKER: u8 = 0xFF;
const _: () = assert!(UNENCODABLE_MARKER != PAYLOAD_FORMAT_V1);

/// One entry row of PostgreSQL, as stored (nothing checked).
pub(crate) struct EntryRow<'a> {
    pub idx: i32,
    pub kind: i16,
    pub id: &'a str,
    pub body: &'a [u8],
}

/// The canonical bytes of a PostgreSQL record rebuilt from its header and entry rows, as stored:
/// the same bytes as [`encode`] when the rows are a valid record's, else bytes that start with
/// [`UNENCODABLE_MARKER`] and still depend on every stored value (so the chain reports the
/// record as altered, never as intact).
pub(crate) fn encode_rows(
    clock_ns: i64,
    entry_count: i32,
    rows: &[EntryRow<'_>],
    out: &mut Vec<u8>,
) {
    let encodable = clock_ns >= 0
        && usize::try_from(entry_count).is_ok_and(|count| count == rows.len())
        && rows.len() <= LOG_ENTRIES_PER_RECORD_MAX
        && rows.iter().enumerate().all(|(index, row)| {
            usize::try_from(row.idx).is_ok_and(|idx| idx == index)
                && u8::try_from(row.kind).is_ok()
                && row.id.len() <= u8::MAX as usize
                && row.body.len() <= u16::MAX as usize
        });
    if !encodable {
        out.push(UNENCODABLE_MARKER);
        out.extend_from_slice(&clock_ns.to_le_bytes());
        out.extend_from_slice(&entry_count.to_le_bytes());
        for row in rows {
            out.extend_from_slice(&row.idx.to_le_bytes());
            out.extend_from_slice(&row.kind.to_le_bytes());
            out.extend_from_slice(&(row.id.len() as u64).to_le_bytes());
            out.extend_from_slice(row.id.as_bytes());
            out.extend_from_slice(&(row.body.len() as u64).to_le_bytes());
            out.extend_from_slice(row.body);
        }
        return;
    }
    out.push(PAYLOAD_FORMAT_V1);
    out.extend_from_slice(&(clock_ns as u64).to_le_bytes());
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for row in rows {
        out.push(row.kind as u8);
        out.push(row.id.len() as u8);
        out.extend_from_slice(&(row.body.len() as u16).to_le_bytes());
        out.extend_from_slice(row.id.as_bytes());
        out.extend_from_slice(row.body);
    }
}

pub(crate) fn checksum(seq: u64, payload: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(payload, seq)
}

/// Decodes a payload whose checksum was verified; every length is bounds-checked anyway so a
/// damaged payload is an error, never a panic.
pub(crate) fn decode(seq: u64, payload: &[u8]) -> Result<LogRecord, String> {
    let mut reader = Reader {
        bytes: payload,
        at: 0,
    };
    let format = reader.u8()?;
    if format != PAYLOAD_FORMAT_V1 {
        return Err(format!("unknown payload format {format}"));
    }
    let clock_ns = u64::from_le_bytes(reader.array::<8>()?);
    let count = u32::from_le_bytes(reader.array::<4>()?) as usize;
    if count > LOG_ENTRIES_PER_RECORD_MAX {
        return Err(format!("entry count {count} exceeds the limit"));
    }
    let mut entries = Vec::with_capacity(count);
    for index in 0..count {
        let kind_byte = reader.u8()?;
        let kind = EntryKind::from_u8(kind_byte)
            .ok_or_else(|| format!("entry {index}: unknown kind {kind_byte}"))?;
        let id_len = reader.u8()? as usize;
        let body_len = u16::from_le_bytes(reader.array::<2>()?) as usize;
        let id = std::str::from_utf8(reader.take(id_len)?)
            .map_err(|_| format!("entry {index}: id is not UTF-8"))?
            .to_owned();
        let body = reader.take(body_len)?.to_vec();
        entries.push(LogEntry { kind, id, body });
    }
    if reader.at != payload.len() {
        return Err(format!("{} trailing bytes", payload.len() - reader.at));
    }
    let record = LogRecord {
        seq,
        clock_ns,
        entries,
    };
    record
        .validate()
        .map_err(|error| format!("decoded record is invalid: {error}"))?;
    Ok(record)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogRecord {
        LogRecord {
            seq: 7,
            clock_ns: 1_700_000_000_000_000_000,
            entries: vec![
                LogEntry {
                    kind: EntryKind::Event,
                    id: "tap-1".into(),
                    body: b"{\"a\":1}".to_vec(),
                },
                LogEntry {
                    kind: EntryKind::Rider,
                    id: "利用者-9".into(),
                    body: Vec::new(),
                },
            ],
        }
    }

    #[test]
    fn decode_inverts_encode() {
        let mut payload = Vec::new();
        encode(&sample(), &mut payload);
        assert_eq!(payload.len(), encoded_len(&sample()));
        assert_eq!(decode(7, &payload), Ok(sample()));
    }

    #[test]
    fn checksum_depends_on_seq() {
        let mut payload = Vec::new();
        encode(&sample(), &mut payload);
        assert_ne!(checksum(7, &payload), checksum(8, &payload));
    }

    #[test]
    fn rows_of_a_valid_record_encode_like_the_record() {
        let record = sample();
        let rows: Vec<EntryRow<'_>> = record
            .entries
            .iter()
            .enumerate()
            .map(|(idx, entry)| EntryRow {
                idx: idx as i32,
                kind: entry.kind as u8 as i16,
                id: &entry.id,
                body: &entry.body,
            })
            .collect();
        let (mut from_record, mut from_rows) = (Vec::new(), Vec::new());
        encode(&record, &mut from_record);
        encode_rows(record.clock_ns as i64, 2, &rows, &mut from_rows);
        assert_eq!(from_rows, from_record);

        let mut missing_entry = Vec::new();
        encode_rows(record.clock_ns as i64, 2, &rows[..1], &mut missing_entry);
        assert_eq!(missing_entry[0], UNENCODABLE_MARKER);
        let kind_beyond_a_byte = [EntryRow {
            idx: 0,
            kind: 257,
            id: "tap-1",
            body: b"{}",
        }];
        let mut bytes = Vec::new();
        encode_rows(0, 1, &kind_beyond_a_byte, &mut bytes);
        assert_eq!(bytes[0], UNENCODABLE_MARKER);
    }

    #[test]
    fn damaged_payloads_are_errors_not_panics() {
        let mut payload = Vec::new();
        encode(&sample(), &mut payload);
        for cut in 0..payload.len() {
            assert!(decode(7, &payload[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = payload.clone();
        extra.push(0);
        assert!(decode(7, &extra).is_err());
        let mut bad_kind = payload.clone();
        bad_kind[PAYLOAD_HEADER_BYTES] = 200;
        assert!(
            decode(7, &bad_kind)
                .unwrap_err()
                .contains("unknown kind 200")
        );
    }
}
