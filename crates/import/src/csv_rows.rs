//! Reading CSV rows one at a time, with line numbers, and telling a file that ends inside
//! a row (truncated) from one that ends with a line break.
//!
//! Every exporter this crate reads ends its files with a line break, so a last row
//! without one is taken for a cut-off row: it is not imported, and the stream ends with
//! [`ImportError::Truncated`] naming its line. A cut-off number such as `37` for `373`
//! would otherwise pass as a valid value.

use std::io::{self, Read};

use csv::{ByteRecord, ReaderBuilder};

use crate::error::{ImportError, Location, Result};

/// Remembers the last byte that went through, to see how the input ended.
#[derive(Debug)]
struct LastByte<R> {
    inner: R,
    last: Option<u8>,
}

impl<R: Read> Read for LastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// Rows of one CSV input, each with the line it starts on.
pub(crate) struct CsvRows<R> {
    reader: csv::Reader<LastByte<R>>,
    file: String,
    /// The row to hand out next, read ahead so the end of the input is known in time.
    current: ByteRecord,
    current_line: u64,
    has_current: bool,
    /// The row handed out last.
    out: ByteRecord,
    primed: bool,
}

impl<R: Read> CsvRows<R> {
    /// Rows of `input`, named `file` in errors. Fields are trimmed; rows may differ in
    /// length (the caller checks).
    pub(crate) fn new(input: R, file: impl Into<String>) -> CsvRows<R> {
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            // Lines end at `\n`; a `\r` before it is trimmed with the last field. (With
            // the default CRLF terminator the csv crate counts a CRLF file's lines one
            // behind.)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(LastByte {
                inner: input,
                last: None,
            });
        CsvRows {
            reader,
            file: file.into(),
            current: ByteRecord::new(),
            current_line: 0,
            has_current: false,
            out: ByteRecord::new(),
            primed: false,
        }
    }

    /// The file name used in errors.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    fn read_ahead(&mut self) -> Result<bool> {
        match self.reader.read_byte_record(&mut self.current) {
            Ok(more) => {
                self.current_line = self.current.position().map_or(0, |p| p.line());
                Ok(more)
            }
            Err(err) => {
                let line = err.position().map_or(self.current_line + 1, |p| p.line());
                Err(match err.into_kind() {
                    csv::ErrorKind::Io(source) => ImportError::Io {
                        file: self.file.clone(),
                        at: Location::Line(line),
                        source,
                    },
                    other => ImportError::Malformed {
                        file: self.file.clone(),
                        at: Location::Line(line),
                        detail: format!("{other:?}"),
                    },
                })
            }
        }
    }

    /// The next row and its line, `None` at the end of a complete file, or the error that
    /// ends the file (a cut-off last row, malformed CSV, I/O).
    pub(crate) fn next_row(&mut self) -> Result<Option<(&ByteRecord, u64)>> {
        if !self.primed {
            self.primed = true;
            self.has_current = self.read_ahead()?;
        }
        if !self.has_current {
            return Ok(None);
        }
        std::mem::swap(&mut self.current, &mut self.out);
        let line = self.current_line;
        self.has_current = self.read_ahead()?;
        if !self.has_current && !matches!(self.reader.get_ref().last, Some(b'\n' | b'\r')) {
            return Err(ImportError::Truncated {
                file: self.file.clone(),
                at: Location::Line(line),
                detail: format!("the file ends inside line {line}, which was not imported"),
            });
        }
        Ok(Some((&self.out, line)))
    }
}

/// A field as text, trimmed, with a UTF-8 byte-order mark removed.
pub(crate) fn field(record: &ByteRecord, i: usize) -> &str {
    let bytes = record.get(i).unwrap_or_default();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).unwrap_or("\u{FFFD}").trim()
}

/// The row as a `,`-joined string.
#[cfg(test)]
pub(crate) fn header_text(record: &ByteRecord) -> String {
    (0..record.len())
        .map(|i| field(record, i))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(input: &str) -> (Vec<(String, u64)>, Option<String>) {
        let mut rows = CsvRows::new(input.as_bytes(), "t.csv");
        let mut out = Vec::new();
        loop {
            match rows.next_row() {
                Ok(Some((r, line))) => out.push((header_text(r), line)),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn complete_file() {
        let (rows, err) = rows("a,b\r\n1,2\r\n3,4\r\n");
        assert_eq!(err, None);
        assert_eq!(
            rows,
            vec![("a,b".into(), 1), ("1,2".into(), 2), ("3,4".into(), 3)]
        );
    }

    #[test]
    fn last_row_without_line_break_is_truncation() {
        let (rows, err) = rows("a,b\n1,2\n3,4");
        assert_eq!(rows.len(), 2);
        let err = err.unwrap();
        assert!(err.contains("truncated at line 3"), "{err}");
    }

    #[test]
    fn empty_input_has_no_rows() {
        assert_eq!(rows(""), (vec![], None));
    }
}
