//! The data-object reader: `ID` (2 digits) `length` (2 digits) `value` (length characters),
//! positions and lengths in characters.

use super::error::{EmvError, Scope, TagPath};

/// One data object as read: its tag, its value, and where it starts (character offset of the
/// tag in the whole payload) and where its value starts (byte offset within the text read).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DataObject<'a> {
    pub tag: u8,
    pub value: &'a str,
    pub position: usize,
    pub value_byte_offset: usize,
    pub value_position: usize,
}

/// Reads the data objects of one level (the payload, or one template's value) in order.
pub(crate) struct Reader<'a> {
    text: &'a str,
    scope: Scope,
    byte_offset: usize,
    /// Character offset of `text[byte_offset..]` in the whole payload.
    position: usize,
}

impl<'a> Reader<'a> {
    /// `base_position`: the character offset of `text` in the whole payload.
    pub fn new(text: &'a str, scope: Scope, base_position: usize) -> Reader<'a> {
        Reader {
            text,
            scope,
            byte_offset: 0,
            position: base_position,
        }
    }

    pub fn at_end(&self) -> bool {
        self.byte_offset == self.text.len()
    }

    /// The next data object, or `None` at the end of the text.
    pub fn next_object(&mut self) -> Option<Result<DataObject<'a>, EmvError>> {
        if self.at_end() {
            return None;
        }
        Some(self.read_object())
    }

    fn read_object(&mut self) -> Result<DataObject<'a>, EmvError> {
        let position = self.position;
        let rest = &self.text[self.byte_offset..];
        let remaining = rest.chars().count();
        if remaining < 4 {
            return Err(EmvError::TruncatedHeader {
                scope: self.scope,
                position,
                remaining,
            });
        }
        // Four characters are there; the header is ASCII digits or it is wrong.
        let header: String = rest.chars().take(4).collect();
        let tag_text: String = header.chars().take(2).collect();
        let Some(tag) = two_digits(&tag_text) else {
            return Err(EmvError::BadTag {
                scope: self.scope,
                position,
                found: tag_text,
            });
        };
        let path = TagPath {
            scope: self.scope,
            tag,
        };
        let length_text: String = header.chars().skip(2).collect();
        let Some(length) = two_digits(&length_text) else {
            return Err(EmvError::BadLength {
                path,
                position: position + 2,
                found: length_text,
            });
        };
        let length = usize::from(length);
        if length == 0 {
            return Err(EmvError::EmptyValue { path });
        }
        let available = remaining - 4;
        if length > available {
            return Err(EmvError::LengthPastEnd {
                path,
                length,
                available,
            });
        }
        // The header was 4 ASCII bytes.
        let value_start = self.byte_offset + 4;
        let value_len_bytes = byte_len_of_chars(&self.text[value_start..], length);
        let value = &self.text[value_start..value_start + value_len_bytes];
        self.byte_offset = value_start + value_len_bytes;
        self.position += 4 + length;
        Ok(DataObject {
            tag,
            value,
            position,
            value_byte_offset: value_start,
            value_position: position + 4,
        })
    }
}

/// `00`..=`99` as a number; `None` unless both characters are ASCII digits.
pub(crate) fn two_digits(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((bytes[0] - b'0') * 10 + (bytes[1] - b'0'))
}

/// Byte length of the first `chars` characters of `text` (which has at least that many).
fn byte_len_of_chars(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(offset, _)| offset)
}

/// Writes one data object; the value must hold 1..=99 characters.
pub(crate) fn write_object(out: &mut String, tag: u8, value: &str) {
    let chars = value.chars().count();
    assert!(tag <= 99, "tag {tag} has more than two digits");
    assert!(
        (1..=super::VALUE_CHARS_MAX).contains(&chars),
        "value length {chars} out of 1..=99"
    );
    out.push_str(&format!("{tag:02}{chars:02}"));
    out.push_str(value);
}
