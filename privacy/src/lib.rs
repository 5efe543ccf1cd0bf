//! kanjo's privacy checks, in one place: what kanjo must never store, and what it must never
//! print. Used by the rating crate (rider ids), the engine (rider records, event references) and
//! the CLI and stores (database URLs).
//!
//! - [`contains_my_number`]: a 12-digit number however written (個人番号 / My Number shaped).
//! - [`check_json`]: a My Number, PIN or ballot-content field at any depth of a JSON value, or a
//!   12-digit number anywhere in it.
//! - [`redact_database_url`]: a database URL or connection string without its password.

mod digits;
mod fields;
mod redact;

pub use digits::{MY_NUMBER_DIGITS, SEPARATORS_BETWEEN_DIGITS_MAX, contains_my_number};
pub use fields::{
    FORBIDDEN_FIELD_NAMES, FORBIDDEN_FIELD_PARTS, Refusal, check_json, is_forbidden_field,
    normalise_field_name,
};
pub use redact::redact_database_url;
