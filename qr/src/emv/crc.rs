//! The payload checksum: CRC-16/CCITT-FALSE, which the `crc` crate's catalogue calls
//! `CRC_16_IBM_3740` (poly 0x1021, init 0xFFFF, no reflection, no final xor).

use crc::{CRC_16_IBM_3740, Crc};

const CCITT_FALSE: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// The CRC of `text`'s UTF-8 bytes. For a payload, `text` runs from its start through `6304`.
pub fn crc16_ccitt_false(text: &str) -> u16 {
    CCITT_FALSE.checksum(text.as_bytes())
}

/// As tag 63 writes it: four upper-case hexadecimal digits.
pub(crate) fn crc_text(text: &str) -> String {
    format!("{:04X}", crc16_ccitt_false(text))
}
