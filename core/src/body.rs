//! Batch bodies (`POST /v1/events`, `POST /v1/riders`): a JSON array or NDJSON, cut into the
//! text of each item so that every item is parsed on its own. A malformed element of an array
//! (`NaN`, `Infinity`, trailing garbage, the wrong type) then costs only itself, exactly like a
//! bad NDJSON line. Only a body that is neither an array nor NDJSON is refused whole.
//!
//! The array is cut by a scan that follows strings, escapes and nesting but does not parse
//! values: that is left to the item's parser, which names the fault at the item's index.

use thiserror::Error;

/// Deepest `[`/`{` nesting inside one array element: serde_json's own recursion limit, so an
/// element this scan passes on is never refused for depth by the parser.
pub const ELEMENT_DEPTH_MAX: usize = 128;

/// Why a body as a whole is refused (HTTP 400, or 413 for too many items).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BodyError {
    #[error("the body is empty: send a JSON array or NDJSON (one item per line)")]
    Empty,
    #[error("the body holds more than {items_max} items")]
    TooManyItems { items_max: usize },
    #[error("the body is not a JSON array: {reason} (at byte {offset})")]
    NotAnArray { reason: &'static str, offset: usize },
}

/// Why one element of an array is refused before its parser sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ElementError {
    #[error("the array element is empty")]
    Empty,
    #[error("the array element is nested deeper than {ELEMENT_DEPTH_MAX} levels")]
    TooDeep,
}

/// One item's text, in body order.
pub type ItemText<'a> = Result<&'a str, ElementError>;

/// Cuts a body into its items: the elements of a JSON array, or the non-blank lines of NDJSON.
/// At most `items_max` items; more is `TooManyItems`, found before anything is parsed.
pub fn split_items(body: &str, items_max: usize) -> Result<Vec<ItemText<'_>>, BodyError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('[') {
        return split_array(body, body.len() - trimmed.len(), items_max);
    }
    let mut items = Vec::new();
    for line in body.lines().filter(|line| !line.trim().is_empty()) {
        if items.len() == items_max {
            return Err(BodyError::TooManyItems { items_max });
        }
        items.push(Ok(line));
    }
    if items.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(items)
}

/// The scan's position inside the current element.
#[derive(Default)]
struct Scan {
    depth: usize,
    deepest: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Follows one byte outside the top level; returns true when it is a top-level `,` or `]`.
    fn step(&mut self, byte: u8) -> bool {
        if self.in_string {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
            return false;
        }
        match byte {
            b'"' => self.in_string = true,
            b'[' | b'{' => {
                self.depth += 1;
                self.deepest = self.deepest.max(self.depth);
            }
            // A stray `}` at the top level stays in its element, whose parser refuses it.
            b']' | b'}' if self.depth > 0 => self.depth -= 1,
            b',' | b']' if self.depth == 0 => return true,
            _ => {}
        }
        false
    }
}

/// `body[open]` is the array's `[`. Only bytes below 0x80 are cut at, so slices stay UTF-8.
fn split_array(body: &str, open: usize, items_max: usize) -> Result<Vec<ItemText<'_>>, BodyError> {
    debug_assert_eq!(body.as_bytes()[open], b'[');
    let bytes = body.as_bytes();
    let mut items: Vec<ItemText> = Vec::new();
    let mut scan = Scan::default();
    let mut element_start = open + 1;
    for offset in open + 1..bytes.len() {
        if !scan.step(bytes[offset]) {
            continue;
        }
        let element = body[element_start..offset].trim_matches(is_json_whitespace);
        let closing = bytes[offset] == b']';
        if !(closing && items.is_empty() && element.is_empty()) {
            if items.len() == items_max {
                return Err(BodyError::TooManyItems { items_max });
            }
            items.push(match element {
                "" => Err(ElementError::Empty),
                _ if scan.deepest > ELEMENT_DEPTH_MAX => Err(ElementError::TooDeep),
                text => Ok(text),
            });
        }
        if closing {
            let rest = &body[offset + 1..];
            if let Some(garbage) = rest.find(|c: char| !is_json_whitespace(c)) {
                return Err(BodyError::NotAnArray {
                    reason: "text after the closing `]`",
                    offset: offset + 1 + garbage,
                });
            }
            return Ok(items);
        }
        element_start = offset + 1;
        scan.deepest = 0;
    }
    Err(BodyError::NotAnArray {
        reason: if scan.in_string {
            "a string is not closed"
        } else {
            "the array is not closed"
        },
        offset: bytes.len(),
    })
}

fn is_json_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<ItemText<'_>> {
        split_items(body, 100).expect("a batch body")
    }

    #[test]
    fn an_array_is_cut_at_its_top_level_commas_only() {
        let body = r#" [ {"id":"a,b","x":[1,2]} , "s\",]" ,{"n":{"m":[]}} ] "#;
        assert_eq!(
            texts(body),
            [
                Ok(r#"{"id":"a,b","x":[1,2]}"#),
                Ok(r#""s\",]""#),
                Ok(r#"{"n":{"m":[]}}"#)
            ]
        );
    }

    #[test]
    fn malformed_elements_are_cut_out_alone() {
        let body = r#"[{"id":"a"}, NaN, Infinity, {"id":"b"} garbage, 5, , {"id":"c"}]"#;
        assert_eq!(
            texts(body),
            [
                Ok(r#"{"id":"a"}"#),
                Ok("NaN"),
                Ok("Infinity"),
                Ok(r#"{"id":"b"} garbage"#),
                Ok("5"),
                Err(ElementError::Empty),
                Ok(r#"{"id":"c"}"#),
            ]
        );
        assert_eq!(texts("[]"), []);
        assert_eq!(texts("[1,]"), [Ok("1"), Err(ElementError::Empty)]);
        assert_eq!(texts("[1}, 2]"), [Ok("1}"), Ok("2")]);
    }

    #[test]
    fn an_element_nested_too_deep_is_refused_alone() {
        let deep = format!(
            "{}{}",
            "[".repeat(ELEMENT_DEPTH_MAX + 1),
            "]".repeat(ELEMENT_DEPTH_MAX + 1)
        );
        let limit = format!(
            "{}{}",
            "[".repeat(ELEMENT_DEPTH_MAX),
            "]".repeat(ELEMENT_DEPTH_MAX)
        );
        let body = format!("[{deep}, {limit}, 1]");
        let items = texts(&body);
        assert_eq!(items[0], Err(ElementError::TooDeep));
        assert_eq!(items[1], Ok(limit.as_str()));
        assert_eq!(items[2], Ok("1"));
    }

    #[test]
    fn a_body_that_is_no_array_or_ndjson_is_refused_whole() {
        assert_eq!(split_items("", 10), Err(BodyError::Empty));
        assert_eq!(split_items(" \n\r\n ", 10), Err(BodyError::Empty));
        assert!(matches!(
            split_items(r#"[{"id":"#, 10),
            Err(BodyError::NotAnArray { .. })
        ));
        assert!(matches!(
            split_items(r#"[{"id":"a}]"#, 10),
            Err(BodyError::NotAnArray {
                reason: "a string is not closed",
                ..
            })
        ));
        assert_eq!(
            split_items("[1] x", 10),
            Err(BodyError::NotAnArray {
                reason: "text after the closing `]`",
                offset: 4
            })
        );
    }

    #[test]
    fn ndjson_is_cut_into_its_non_blank_lines() {
        assert_eq!(
            texts("{\"a\":1}\n\n  \nnot json\r\n{\"b\":[\n"),
            [Ok("{\"a\":1}"), Ok("not json"), Ok("{\"b\":[")]
        );
    }

    #[test]
    fn more_items_than_allowed_is_found_before_parsing() {
        assert_eq!(
            split_items("[1,2,3]", 2),
            Err(BodyError::TooManyItems { items_max: 2 })
        );
        assert_eq!(
            split_items("1\n2\n3", 2),
            Err(BodyError::TooManyItems { items_max: 2 })
        );
        assert_eq!(split_items("[1,2]", 2).map(|items| items.len()), Ok(2));
    }
}
