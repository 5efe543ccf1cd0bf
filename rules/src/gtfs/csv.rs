//! A small RFC 4180 CSV reader for GTFS text files: UTF-8 with or without a BOM, LF or CRLF
//! line ends, quoted fields with doubled quotes. Fields borrow from the file text unless they
//! contain an escaped quote. The workspace's one CSV reader: the fare tables, the load
//! generators' timetable and the benches all read GTFS through it.

use std::borrow::Cow;

/// Reads records from `text`, calling `on_record(line_no, fields)` for each non-empty record
/// (the header included; `line_no` is 1-based, the line where the record starts).
pub fn for_each_record<'a, E>(
    text: &'a str,
    mut on_record: impl FnMut(usize, &[Cow<'a, str>]) -> Result<(), E>,
) -> Result<(), CsvError<E>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut fields: Vec<Cow<'a, str>> = Vec::with_capacity(16);
    let mut pos = 0usize;
    let mut line_no = 1usize;
    while pos < bytes.len() {
        let record_line = line_no;
        fields.clear();
        loop {
            // One field.
            if bytes.get(pos) == Some(&b'"') {
                pos += 1;
                let start = pos;
                let mut owned: Option<String> = None;
                loop {
                    let Some(&b) = bytes.get(pos) else {
                        return Err(CsvError::UnclosedQuote {
                            line_no: record_line,
                        });
                    };
                    if b == b'"' {
                        if bytes.get(pos + 1) == Some(&b'"') {
                            let buf = owned.get_or_insert_with(String::new);
                            if buf.is_empty() {
                                buf.push_str(&text[start..pos]);
                            }
                            buf.push('"');
                            pos += 2;
                            continue;
                        }
                        break;
                    }
                    if b == b'\n' {
                        line_no += 1;
                    }
                    if let Some(buf) = owned.as_mut() {
                        // Copy one whole UTF-8 character.
                        let ch_len = utf8_len(b);
                        buf.push_str(&text[pos..pos + ch_len]);
                        pos += ch_len;
                    } else {
                        pos += 1;
                    }
                }
                let field = match owned {
                    Some(buf) => Cow::Owned(buf),
                    None => Cow::Borrowed(&text[start..pos]),
                };
                pos += 1; // closing quote
                fields.push(field);
            } else {
                let start = pos;
                while pos < bytes.len() && !matches!(bytes[pos], b',' | b'\n' | b'\r') {
                    pos += 1;
                }
                fields.push(Cow::Borrowed(&text[start..pos]));
            }
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'\r') if bytes.get(pos + 1) == Some(&b'\n') => {
                    pos += 2;
                    line_no += 1;
                    break;
                }
                Some(b'\n') => {
                    pos += 1;
                    line_no += 1;
                    break;
                }
                None => break,
                Some(_) => {
                    return Err(CsvError::AfterQuote {
                        line_no: record_line,
                    });
                }
            }
        }
        let blank = fields.len() == 1 && fields[0].trim().is_empty();
        if !blank {
            on_record(record_line, &fields).map_err(CsvError::Record)?;
        }
    }
    Ok(())
}

fn utf8_len(first_byte: u8) -> usize {
    match first_byte {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// What stopped the reading: the text is not CSV at a line, or the record callback failed.
#[derive(Debug)]
pub enum CsvError<E> {
    /// A quoted field starting in the record at `line_no` never ends.
    UnclosedQuote { line_no: usize },
    /// Something other than a comma or a line end follows a closing quote.
    AfterQuote { line_no: usize },
    /// The callback's own error.
    Record(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for_each_record::<()>(text, |_, fields| {
            out.push(fields.iter().map(|f| f.to_string()).collect());
            Ok(())
        })
        .expect("valid csv");
        out
    }

    #[test]
    fn reads_bom_crlf_quotes_and_empty_fields() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\" 室蘭\",\r\n\n2,,z";
        assert_eq!(
            records(text),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, \"y\" 室蘭", ""],
                vec!["2", "", "z"],
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error_with_its_line() {
        let result = for_each_record::<()>("a\n\"x", |_, _| Ok(()));
        assert!(matches!(
            result,
            Err(CsvError::UnclosedQuote { line_no: 2 })
        ));
    }
}
