//! The command log's per-entry limits. Every parser checks input against these, and the store's
//! `LogRecord::validate` checks them again, so they live here, below both: one set of constants.

/// Most entries one record may hold (one group-committed batch).
pub const LOG_ENTRIES_PER_RECORD_MAX: usize = 8190;
/// Longest entry id, in UTF-8 bytes. Entry ids are event ids and rider ids, and the rater keys
/// its riders by the same ids, so its rider-id limit is this one: the number is written once.
pub const LOG_ENTRY_ID_BYTES_MAX: usize = kanjo_rules::limits::MAX_RIDER_ID_BYTES;
/// Largest entry body (canonical JSON), in bytes.
pub const LOG_ENTRY_BODY_BYTES_MAX: usize = 16 * 1024;

/// Why one input can't be an entry of the log. The parsers refuse such an input alone with this
/// error, so it never reaches a record (a record with one would fail whole at commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("id is {id_bytes} bytes, must be 1..={LOG_ENTRY_ID_BYTES_MAX}")]
    IdLength { id_bytes: usize },
    #[error("id contains a NUL character")]
    IdHasNul,
    #[error("body is {body_bytes} bytes as canonical JSON, at most {LOG_ENTRY_BODY_BYTES_MAX}")]
    BodyTooLarge { body_bytes: usize },
}

/// An entry id: 1..=`LOG_ENTRY_ID_BYTES_MAX` bytes, no NUL (PostgreSQL text can't hold it).
pub fn check_entry_id(id: &str) -> Result<(), EntryError> {
    if id.is_empty() || id.len() > LOG_ENTRY_ID_BYTES_MAX {
        return Err(EntryError::IdLength { id_bytes: id.len() });
    }
    if id.contains('\0') {
        return Err(EntryError::IdHasNul);
    }
    Ok(())
}

/// Every per-entry limit: what `LogRecord::validate` checks for each entry.
pub fn check_entry(id: &str, body_bytes: usize) -> Result<(), EntryError> {
    check_entry_id(id)?;
    if body_bytes > LOG_ENTRY_BODY_BYTES_MAX {
        return Err(EntryError::BodyTooLarge { body_bytes });
    }
    Ok(())
}
