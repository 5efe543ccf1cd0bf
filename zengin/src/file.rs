//! [`SogoFurikomi`]: a validated 総合振込 file, built from a batch or read from bytes.

use crate::error::{BuildError, PayeeRejection};
use crate::layout::{RECORD_LEN_BYTES, RECORD_STRIDE_BYTES, RECORD_TERMINATOR};
use crate::model::{DataRecord, Header, Payee, Remitter, Trailer, TransferDate};
use crate::{PAYEES_PER_FILE_MAX, TOTAL_YEN_MAX, record, validate};
use std::io::{self, Write};

/// A whole 総合振込 file: one header, 1 ..= [`PAYEES_PER_FILE_MAX`] data records, the trailer
/// (whose count and total always agree with the data records) and the end record.
///
/// Only [`SogoFurikomi::build`] and [`crate::read`] make one, so every value that exists can be
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SogoFurikomi {
    header: Header,
    records: Vec<DataRecord>,
    trailer: Trailer,
}

impl SogoFurikomi {
    /// Validates the remitter and every payee, and totals the batch. A batch with any bad field
    /// is refused whole, naming the remitter's bad fields and every bad payee with all its bad
    /// fields.
    pub fn build(
        remitter: &Remitter,
        transfer_date: TransferDate,
        payees: &[Payee],
    ) -> Result<Self, BuildError> {
        if payees.is_empty() {
            return Err(BuildError::NoPayees);
        }
        if payees.len() > PAYEES_PER_FILE_MAX {
            return Err(BuildError::TooManyPayees {
                count: payees.len(),
                max: PAYEES_PER_FILE_MAX,
            });
        }
        let header = validate::remitter(remitter, transfer_date);
        let mut records = Vec::with_capacity(payees.len());
        let mut rejections = Vec::new();
        for (index, payee) in payees.iter().enumerate() {
            match validate::payee(payee) {
                Ok(record) => records.push(record),
                Err(errors) => rejections.push(PayeeRejection {
                    index,
                    display_name: payee.display_name.clone(),
                    errors,
                }),
            }
        }
        let header = match header {
            Ok(header) if rejections.is_empty() => header,
            Ok(_) => return Err(invalid(Vec::new(), rejections)),
            Err(remitter_errors) => return Err(invalid(remitter_errors, rejections)),
        };
        // ≤ 999 999 amounts of ≤ 10 digits each: the sum fits u64, but not always 12 digits.
        let total_yen: u128 = records.iter().map(|r| u128::from(r.amount_yen)).sum();
        if total_yen > u128::from(TOTAL_YEN_MAX) {
            return Err(BuildError::TotalTooLarge {
                total_yen,
                max_yen: TOTAL_YEN_MAX,
            });
        }
        let trailer = Trailer {
            record_count: records.len() as u64,
            total_yen: total_yen as u64,
        };
        Ok(Self::from_parts(header, records, trailer))
    }

    /// Assembles a file whose parts the caller (builder or reader) checked.
    pub(crate) fn from_parts(header: Header, records: Vec<DataRecord>, trailer: Trailer) -> Self {
        assert!(!records.is_empty() && records.len() <= PAYEES_PER_FILE_MAX);
        assert_eq!(trailer.record_count, records.len() as u64);
        assert_eq!(
            u128::from(trailer.total_yen),
            records
                .iter()
                .map(|r| u128::from(r.amount_yen))
                .sum::<u128>()
        );
        Self {
            header,
            records,
            trailer,
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn records(&self) -> &[DataRecord] {
        &self.records
    }

    pub fn trailer(&self) -> Trailer {
        self.trailer
    }

    /// Size of the file in bytes: (records + header, trailer, end) × (120 + CR LF).
    pub fn len_bytes(&self) -> usize {
        (self.records.len() + 3) * RECORD_STRIDE_BYTES
    }

    /// Writes the file: each record's 120 Shift_JIS bytes followed by CR LF. An I/O error can
    /// leave part of the file written; write to a temporary file and rename it.
    pub fn write_to<W: Write>(&self, out: &mut W) -> io::Result<()> {
        write_record(out, &record::header(&self.header))?;
        for data in &self.records {
            write_record(out, &record::data(data))?;
        }
        write_record(out, &record::trailer(&self.trailer))?;
        write_record(out, &record::end())
    }

    /// The whole file in memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.len_bytes());
        self.write_to(&mut bytes)
            .expect("writing to a Vec does not fail");
        assert_eq!(bytes.len(), self.len_bytes());
        bytes
    }
}

fn invalid(remitter: Vec<crate::error::FieldError>, payees: Vec<PayeeRejection>) -> BuildError {
    BuildError::Invalid { remitter, payees }
}

fn write_record<W: Write>(out: &mut W, record: &[u8; RECORD_LEN_BYTES]) -> io::Result<()> {
    // The record is a fixed array: 120 bytes by type. Checked again where it matters.
    assert_eq!(record.len(), RECORD_LEN_BYTES);
    out.write_all(record)?;
    out.write_all(RECORD_TERMINATOR)
}
