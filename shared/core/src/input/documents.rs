//! JSON documents out of a byte stream, one at a time, in the memory of the largest document
//! rather than of the input: one document, JSON lines (Firehose dumps), concatenated documents,
//! pretty-printed documents one after another. A broken document is reported with the line it
//! starts on, and reading goes on at the next line that opens a document.
//!
//! Documents are framed by lines: a document ends at the end of the line where its brackets close
//! (strings and escapes are tracked, so a `}` inside a string does not count). JSON strings cannot
//! hold a raw newline, so a line that ends inside a string ends a broken document; so does a line
//! that starts with `{` or `[` while a document is still open (indented lines belong to a
//! pretty-printed document, unindented ones start the next).

use std::collections::VecDeque;
use std::io::BufRead;

use serde_json::Value;

use crate::input::envelope::{json_reason, InputError};
use crate::input::ses::SesMessage;

/// One document, with the line it starts on (1-based).
pub type Document<T = Value> = (usize, Result<T, InputError>);

/// What each document is read into.
pub trait DocumentKind: Sized {
    /// The document read straight from its text, when `text` is exactly one document this kind
    /// can read so; `None` reads the text through `serde_json::Value`s.
    fn from_text(text: &str) -> Option<Self>;
    fn from_value(value: Value) -> Self;
}

impl DocumentKind for Value {
    fn from_text(_: &str) -> Option<Self> {
        None
    }
    fn from_value(value: Value) -> Self {
        value
    }
}

/// A bare SES message read straight from its text ([`SesMessage::parse_bare_text`]), or any
/// other document as a `Value`: what `normalise` reads dumps with.
// Documents are handed over one at a time, so the size of the larger variant costs nothing, where
// boxing it would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum SesDocument {
    Ses(SesMessage),
    Other(Value),
}

impl DocumentKind for SesDocument {
    fn from_text(text: &str) -> Option<Self> {
        SesMessage::parse_bare_text(text).map(SesDocument::Ses)
    }
    fn from_value(value: Value) -> Self {
        SesDocument::Other(value)
    }
}

/// The documents of `reader`, in order (see the module documentation), each read as a `T`.
pub struct Documents<R, T = Value> {
    reader: R,
    /// Lines read so far.
    line: usize,
    /// The open document's text and the line it starts on.
    open: String,
    open_line: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// After a broken document: lines are skipped until one opens a document.
    resyncing: bool,
    /// `T::from_text` already declined the open text (the one line it holds), so parsing it
    /// goes straight to the `Value` path.
    text_declined: bool,
    ready: VecDeque<Document<T>>,
    done: bool,
    /// The last line read, kept for its capacity.
    line_buffer: Vec<u8>,
}

impl<R: BufRead> Documents<R> {
    pub fn new(reader: R) -> Self {
        Documents::of_kind(reader)
    }
}

impl<R: BufRead, T: DocumentKind> Documents<R, T> {
    pub fn of_kind(reader: R) -> Self {
        Documents {
            reader,
            line: 0,
            open: String::new(),
            open_line: 1,
            depth: 0,
            in_string: false,
            escaped: false,
            resyncing: false,
            text_declined: false,
            ready: VecDeque::new(),
            done: false,
            line_buffer: Vec::new(),
        }
    }

    /// Reads one line and frames it; false at the end of the input. The line's buffer is kept
    /// from line to line, so reading allocates only when a line is longer than any before.
    fn read_line(&mut self) -> bool {
        let mut bytes = std::mem::take(&mut self.line_buffer);
        bytes.clear();
        let more = self.frame_line(&mut bytes);
        self.line_buffer = bytes;
        more
    }

    fn frame_line(&mut self, bytes: &mut Vec<u8>) -> bool {
        match self.reader.read_until(b'\n', bytes) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) => {
                self.close_open();
                self.ready.push_back((
                    self.line + 1,
                    Err(InputError::Unreadable {
                        reason: format!("reading line {}: {e}", self.line + 1),
                    }),
                ));
                return false;
            }
        }
        self.line += 1;
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let start = if self.open.trim().is_empty() {
                    self.line
                } else {
                    self.open_line
                };
                self.reset();
                self.ready.push_back((
                    start,
                    Err(InputError::NotJson {
                        what: format!("the document starting at line {start}"),
                        reason: format!(
                            "line {} is not UTF-8 text (invalid byte at column {})",
                            self.line,
                            e.valid_up_to() + 1
                        ),
                    }),
                ));
                self.resyncing = true;
                return true;
            }
        };
        let text = if self.line == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let opens = text.starts_with('{') || text.starts_with('[');
        if self.resyncing {
            if !opens {
                return true;
            }
            self.resyncing = false;
        }
        if self.depth > 0 && opens {
            // An unindented document start: the open one broke off, and this line starts anew.
            self.close_open();
            self.resyncing = false;
        }
        self.text_declined = false;
        if self.open.trim().is_empty() {
            self.open.clear();
            self.open_line = self.line;
            // A line that is a whole document (every line of a JSON-lines dump) is read as it
            // stands: scanning it and copying it into `open` would only find that out again.
            if opens {
                if let Some(doc) = T::from_text(text) {
                    self.ready.push_back((self.line, Ok(doc)));
                    return true;
                }
                self.text_declined = true;
            }
        }
        self.scan(text);
        self.open.push_str(text);
        if self.in_string || (self.depth == 0 && !self.open.trim().is_empty()) {
            self.close_open();
        }
        true
    }

    /// Tracks bracket depth outside strings.
    fn scan(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    at += 1;
                    continue;
                }
                // Most of a line is string contents: jump to the next quote or escape.
                let Some(next) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                    return;
                };
                at += next;
                if bytes[at] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                at += 1;
                continue;
            }
            match bytes[at] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            at += 1;
        }
    }

    fn reset(&mut self) {
        self.open.clear();
        self.text_declined = false;
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    /// Parses the open text (one document or several on its lines) into `ready`, and keeps the
    /// text's buffer for the next document.
    fn close_open(&mut self) {
        let mut text = std::mem::take(&mut self.open);
        let first_line = self.open_line;
        let declined = self.text_declined;
        self.reset();
        self.parse(&text, first_line, declined);
        text.clear();
        self.open = text;
    }

    fn parse(&mut self, text: &str, first_line: usize, declined: bool) {
        if text.trim().is_empty() {
            return;
        }
        if let Some(doc) = (!declined).then(|| T::from_text(text)).flatten() {
            let leading = text.len() - text.trim_start().len();
            let line = first_line + text[..leading].matches('\n').count();
            self.ready.push_back((line, Ok(doc)));
            return;
        }
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        loop {
            let offset = stream.byte_offset();
            let start = offset
                + text
                    .get(offset..)
                    .map_or(0, |rest| rest.len() - rest.trim_start().len());
            let line = first_line
                + text
                    .as_bytes()
                    .get(..start)
                    .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
            match stream.next() {
                None => return,
                Some(Ok(value)) => self.ready.push_back((line, Ok(T::from_value(value)))),
                Some(Err(e)) => {
                    self.ready.push_back((
                        line,
                        Err(InputError::NotJson {
                            what: format!("the document starting at line {line}"),
                            reason: json_reason(&e, first_line),
                        }),
                    ));
                    self.resyncing = true;
                    return;
                }
            }
        }
    }
}

impl<R: BufRead, T: DocumentKind> Iterator for Documents<R, T> {
    type Item = Document<T>;

    fn next(&mut self) -> Option<Document<T>> {
        loop {
            if let Some(doc) = self.ready.pop_front() {
                return Some(doc);
            }
            if self.done {
                return None;
            }
            if !self.read_line() {
                self.done = true;
                self.close_open();
            }
        }
    }
}

/// Every document of `text` (see [`Documents`]); each `Err` names the line its document starts on.
pub fn parse_documents(text: &str) -> Vec<Result<Value, InputError>> {
    Documents::new(text.as_bytes())
        .map(|(_, doc)| doc)
        .collect()
}

/// [`parse_documents`], with the line each document starts on (1-based), so a caller can point
/// at a document that parsed but holds a bad message.
pub fn parse_documents_with_lines(text: &str) -> Vec<Document> {
    Documents::new(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_in_strings_do_not_frame() {
        let text = "{\"a\": \"}]{[\\\"\"}\n{\"b\": 1}\n";
        let docs = parse_documents_with_lines(text);
        assert_eq!(
            docs,
            vec![(1, Ok(json!({"a": "}]{[\""}))), (2, Ok(json!({"b": 1})))]
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_bad_document_and_the_rest_is_kept() {
        let mut bytes = b"{\"a\":1}\n{\"b\":\"".to_vec();
        bytes.extend([0xff, 0xfe]);
        bytes.extend(b"\"}\n{\"c\":3}\n");
        let docs: Vec<Document> = Documents::new(&bytes[..]).collect();
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(docs[0], (1, Ok(json!({"a": 1}))));
        match &docs[1] {
            (2, Err(InputError::NotJson { reason, .. })) => {
                assert_eq!(
                    reason,
                    "line 2 is not UTF-8 text (invalid byte at column 7)"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(docs[2], (3, Ok(json!({"c": 3}))));
    }

    #[test]
    fn a_read_error_ends_the_input_with_an_error() {
        struct Failing(usize);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk gone"));
                }
                self.0 = 0;
                let line = b"{\"a\":1}\n";
                buf[..line.len()].copy_from_slice(line);
                Ok(line.len())
            }
        }
        let docs: Vec<Document> = Documents::new(std::io::BufReader::new(Failing(1))).collect();
        assert_eq!(docs[0], (1, Ok(json!({"a": 1}))));
        assert!(
            matches!(&docs[1], (2, Err(InputError::Unreadable { reason })) if reason.contains("disk gone")),
            "{docs:?}"
        );
    }

    mod framing {
        use super::*;
        use proptest::prelude::*;

        /// JSON values whose strings are full of what framing must not be fooled by.
        fn values() -> impl Strategy<Value = Value> {
            let text = "[a-z{}\\[\\]\"\\\\/ ]{0,12}";
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(|n| json!(n)),
                text.prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map(text, inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// One document per line or pretty-printed over many, one after another: each comes
            /// back whole, at the line it starts on.
            #[test]
            fn every_document_comes_back_at_its_line(
                docs in prop::collection::vec(
                    (prop::collection::btree_map("[a-z]{1,4}", values(), 0..4), any::<bool>()),
                    1..6,
                ),
            ) {
                let mut text = String::new();
                let mut expected = Vec::new();
                for (fields, pretty) in docs {
                    let doc = Value::Object(fields.into_iter().collect());
                    expected.push((text.matches('\n').count() + 1, Ok(doc.clone())));
                    let written = if pretty {
                        serde_json::to_string_pretty(&doc)
                    } else {
                        serde_json::to_string(&doc)
                    };
                    text.push_str(&written.expect("serialises"));
                    text.push('\n');
                }
                prop_assert_eq!(parse_documents_with_lines(&text), expected);
            }
        }
    }
}
