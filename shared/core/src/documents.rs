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

use crate::envelope::{json_reason, InputError};

/// One document, with the line it starts on (1-based).
pub type Document = (usize, Result<Value, InputError>);

/// The documents of `reader`, in order (see the module documentation).
pub struct Documents<R> {
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
    ready: VecDeque<Document>,
    done: bool,
}

impl<R: BufRead> Documents<R> {
    pub fn new(reader: R) -> Self {
        Documents {
            reader,
            line: 0,
            open: String::new(),
            open_line: 1,
            depth: 0,
            in_string: false,
            escaped: false,
            resyncing: false,
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// Reads one line and frames it; false at the end of the input.
    fn read_line(&mut self) -> bool {
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
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
        let text = match String::from_utf8(bytes) {
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
                            e.utf8_error().valid_up_to() + 1
                        ),
                    }),
                ));
                self.resyncing = true;
                return true;
            }
        };
        let text = if self.line == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(&text).to_string()
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
        if self.open.trim().is_empty() {
            self.open.clear();
            self.open_line = self.line;
        }
        self.scan(&text);
        self.open.push_str(&text);
        if self.in_string || (self.depth == 0 && !self.open.trim().is_empty()) {
            self.close_open();
        }
        true
    }

    /// Tracks bracket depth outside strings.
    fn scan(&mut self, text: &str) {
        for b in text.bytes() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn reset(&mut self) {
        self.open.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    /// Parses the open text (one document or several on its lines) into `ready`.
    fn close_open(&mut self) {
        let text = std::mem::take(&mut self.open);
        let first_line = self.open_line;
        self.reset();
        if text.trim().is_empty() {
            return;
        }
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
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
                Some(Ok(value)) => self.ready.push_back((line, Ok(value))),
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

impl<R: BufRead> Iterator for Documents<R> {
    type Item = Document;

    fn next(&mut self) -> Option<Document> {
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
}
