//! `kanjo-zengin`: 全銀協 総合振込 (Zengin general transfer, 種別コード 21) files.
//!
//! Finance pays shops and bus operators by uploading one of these files to the town's bank. This
//! crate is pure: it validates a batch, writes the file to any `impl Write`, and reads such files
//! back. It reads no clock (the caller passes the 振込指定日) and does no other I/O.
//!
//! ```text
//! 1 header   振込依頼人 (the town's account), 振込指定日
//! 2 data     one per payee: bank, branch, account, 受取人名, 振込金額
//! 8 trailer  合計件数, 合計金額
//! 9 end
//! ```
//!
//! Each record is exactly [`RECORD_LEN_BYTES`] = 120 bytes of Shift_JIS (every character one
//! byte, JIS X 0201), followed by CR LF, which is not part of the 120. The byte layout is in
//! [`layout`] and in `ops/formats/zengin-sogo-furikomi.md`.
//!
//! - [`SogoFurikomi::build`] checks the remitter and every payee first. A batch with any bad
//!   field is refused whole with every bad payee named ([`BuildError::Invalid`]); nothing is
//!   written.
//! - [`SogoFurikomi::write_to`] / [`SogoFurikomi::to_bytes`] write a built file.
//! - [`read`] parses a file back, checking structure, every field and the trailer's totals.
//! - [`to_zengin_kana`] turns display names (katakana, hiragana, romaji) into the half-width
//!   upper-case kana banks register, and reports what it can't convert.
//!
//! ```
//! use kanjo_zengin::{Payee, PayeeReference, Remitter, SogoFurikomi, TransferDate, TransferMethod};
//!
//! let remitter = Remitter {
//!     code: "1234567890".into(),
//!     name_kana: "ﾑﾛﾗﾝｼ".into(),
//!     bank_code: "0116".into(),
//!     bank_name_kana: "ﾎﾂｶｲﾄﾞｳ".into(),
//!     branch_code: "401".into(),
//!     branch_name_kana: "ﾑﾛﾗﾝ".into(),
//!     account_type: 1,
//!     account_number: "1234567".into(),
//! };
//! let payee = Payee {
//!     display_name: "道南バス".into(),
//!     bank_code: "0116".into(),
//!     bank_name_kana: String::new(),
//!     branch_code: "402".into(),
//!     branch_name_kana: String::new(),
//!     account_type: 2,
//!     account_number: "7654321".into(),
//!     account_holder_kana: "ﾄﾞｳﾅﾝﾊﾞｽ(ｶ".into(),
//!     amount_yen: 1_234_567,
//!     reference: PayeeReference::Edi("KANJO SETTLE 42".into()),
//!     transfer_method: TransferMethod::BankDefault,
//! };
//! let date = TransferDate::new(12, 10).unwrap();
//! let file = SogoFurikomi::build(&remitter, date, &[payee]).unwrap();
//! let bytes = file.to_bytes();
//! assert_eq!(bytes.len(), 4 * 122);
//! assert_eq!(kanjo_zengin::read(&bytes).unwrap(), file);
//! ```

pub mod charset;
mod error;
mod file;
pub mod kana;
pub mod layout;
mod model;
mod read;
mod record;
mod validate;

pub use error::{BadTransferDate, BuildError, FieldError, PayeeRejection, ReadError};
pub use file::SogoFurikomi;
pub use kana::{KanaConversion, UnconvertibleChars, to_zengin_kana};
pub use layout::{FieldSpec, RECORD_LEN_BYTES, RECORD_STRIDE_BYTES};
pub use model::{
    AccountType, DataRecord, Header, NewCode, Payee, PayeeReference, Remitter, Trailer,
    TransferDate, TransferMethod,
};
pub use read::read;

use layout::{data, numeric_max, trailer};

/// Data records one file may hold: 合計件数 has 6 digits.
pub const PAYEES_PER_FILE_MAX: usize = numeric_max(trailer::TOTAL_COUNT.width) as usize;
/// Largest single transfer: 振込金額 has 10 digits (¥9 999 999 999).
pub const AMOUNT_YEN_MAX: u64 = numeric_max(data::AMOUNT.width);
/// Largest batch total: 合計金額 has 12 digits (¥999 999 999 999).
pub const TOTAL_YEN_MAX: u64 = numeric_max(trailer::TOTAL_AMOUNT.width);
/// Largest file [`read`] accepts: header, [`PAYEES_PER_FILE_MAX`] data records, trailer, end.
pub const FILE_BYTES_MAX: usize = (PAYEES_PER_FILE_MAX + 3) * RECORD_STRIDE_BYTES;

const _: () = assert!(PAYEES_PER_FILE_MAX == 999_999);
const _: () = assert!(AMOUNT_YEN_MAX == 9_999_999_999);
const _: () = assert!(TOTAL_YEN_MAX == 999_999_999_999);
