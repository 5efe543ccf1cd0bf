//! One error per wrong thing in a payload, each with a stable snake_case [`EmvError::code`].
//!
//! Positions are 0-based **character** offsets into the whole payload, like EMVCo lengths.

use std::fmt;

/// Where a data object sits: at the top level or inside a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Top,
    /// Inside the template with this tag (26–51, 62, 64, 80–99).
    Template(u8),
}

/// A data object's address: `59` at the top level, `26.01` for sub-tag 01 of template 26.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagPath {
    pub scope: Scope,
    pub tag: u8,
}

impl TagPath {
    pub const fn top(tag: u8) -> TagPath {
        TagPath {
            scope: Scope::Top,
            tag,
        }
    }

    pub const fn sub(template: u8, tag: u8) -> TagPath {
        TagPath {
            scope: Scope::Template(template),
            tag,
        }
    }
}

impl fmt::Display for TagPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Top => write!(f, "{:02}", self.tag),
            Scope::Template(template) => write!(f, "{template:02}.{:02}", self.tag),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Top => f.write_str("payload"),
            Scope::Template(template) => write!(f, "template {template:02}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmvError {
    #[error("payload is {chars} characters; EMVCo allows at most {max}")]
    TooLong { chars: usize, max: usize },
    #[error("payload is not UTF-8 (invalid byte at offset {byte_offset})")]
    NotUtf8 { byte_offset: usize },
    #[error("control character U+{code_point:04X} at character {position}")]
    ControlCharacter { position: usize, code_point: u32 },
    #[error("{scope}: tag at character {position} is {found:?}, not two digits")]
    BadTag {
        scope: Scope,
        position: usize,
        found: String,
    },
    #[error(
        "{scope}: {remaining} character(s) left at character {position}, too few for a tag and a length"
    )]
    TruncatedHeader {
        scope: Scope,
        position: usize,
        remaining: usize,
    },
    #[error("tag {path}: length field at character {position} is {found:?}, not two digits")]
    BadLength {
        path: TagPath,
        position: usize,
        found: String,
    },
    #[error("tag {path}: length {length} runs past the end ({available} character(s) left)")]
    LengthPastEnd {
        path: TagPath,
        length: usize,
        available: usize,
    },
    #[error("tag {path}: length is 00; a value holds 1 to 99 characters")]
    EmptyValue { path: TagPath },
    #[error("no CRC: the last data object is {last_tag:02}, not 63")]
    CrcMissing { last_tag: u8 },
    #[error("CRC (tag 63) at character {position} is not the last data object")]
    CrcNotLast { position: usize },
    #[error("CRC (tag 63) is {found:?}, not four hexadecimal digits")]
    BadCrcField { found: String },
    #[error("CRC mismatch: the payload's CRC is {expected}, tag 63 says {found}")]
    CrcMismatch { expected: String, found: String },
    #[error("tag {path} appears more than once")]
    DuplicateTag { path: TagPath },
    #[error("required tag {path} ({name}) is missing")]
    MissingTag { path: TagPath, name: &'static str },
    #[error("no merchant account information (tags 02–51)")]
    MissingMerchantAccount,
    #[error("the payload format indicator (tag 00) is not the first data object")]
    PayloadFormatIndicatorNotFirst,
    #[error("payload format indicator (tag 00) is {found:?}, not \"01\"")]
    BadPayloadFormatIndicator { found: String },
    #[error("point of initiation (tag 01) is {found:?}, not \"11\" (static) or \"12\" (dynamic)")]
    BadPointOfInitiation { found: String },
    #[error("merchant category code (tag 52) is {found:?}, not four digits")]
    BadMerchantCategoryCode { found: String },
    #[error("currency (tag 53) is {found:?}, not a three-digit ISO 4217 code")]
    BadCurrency { found: String },
    #[error("amount (tag {path}) {found:?}: {reason}")]
    BadAmount {
        path: TagPath,
        found: String,
        reason: &'static str,
    },
    #[error("tip or convenience fee (tags 55–57): {reason}")]
    BadTip { reason: &'static str },
    #[error("country (tag 58) is {found:?}, not two capital letters (ISO 3166-1 alpha-2)")]
    BadCountry { found: String },
    #[error("language (tag 64.00) is {found:?}, not two letters (ISO 639-1)")]
    BadLanguage { found: String },
    #[error("tag {path} is {chars} characters; at most {max} allowed")]
    ValueTooLong {
        path: TagPath,
        chars: usize,
        max: usize,
    },
    #[error("tag {path} has characters outside the EMV common character set (printable ASCII)")]
    BadCharacters { path: TagPath },
    #[error("tag {path} cannot hold this field; allowed: {allowed}")]
    TagOutOfRange {
        path: TagPath,
        allowed: &'static str,
    },
}

impl EmvError {
    /// The stable reject code.
    pub fn code(&self) -> &'static str {
        match self {
            EmvError::TooLong { .. } => "payload_too_long",
            EmvError::NotUtf8 { .. } => "not_utf8",
            EmvError::ControlCharacter { .. } => "control_character",
            EmvError::BadTag { .. } => "bad_tag",
            EmvError::TruncatedHeader { .. } => "truncated_header",
            EmvError::BadLength { .. } => "bad_length",
            EmvError::LengthPastEnd { .. } => "length_past_end",
            EmvError::EmptyValue { .. } => "empty_value",
            EmvError::CrcMissing { .. } => "crc_missing",
            EmvError::CrcNotLast { .. } => "crc_not_last",
            EmvError::BadCrcField { .. } => "bad_crc_field",
            EmvError::CrcMismatch { .. } => "crc_mismatch",
            EmvError::DuplicateTag { .. } => "duplicate_tag",
            EmvError::MissingTag { .. } => "missing_tag",
            EmvError::MissingMerchantAccount => "missing_merchant_account",
            EmvError::PayloadFormatIndicatorNotFirst => "payload_format_indicator_not_first",
            EmvError::BadPayloadFormatIndicator { .. } => "bad_payload_format_indicator",
            EmvError::BadPointOfInitiation { .. } => "bad_point_of_initiation",
            EmvError::BadMerchantCategoryCode { .. } => "bad_merchant_category_code",
            EmvError::BadCurrency { .. } => "bad_currency",
            EmvError::BadAmount { .. } => "bad_amount",
            EmvError::BadTip { .. } => "bad_tip",
            EmvError::BadCountry { .. } => "bad_country",
            EmvError::BadLanguage { .. } => "bad_language",
            EmvError::ValueTooLong { .. } => "value_too_long",
            EmvError::BadCharacters { .. } => "bad_characters",
            EmvError::TagOutOfRange { .. } => "tag_out_of_range",
        }
    }
}
