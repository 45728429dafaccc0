//! Why an import stopped, and where in the input it was.
//!
//! A problem with one row or value (out of range, unknown type, unparsable field) does not
//! stop an import: it becomes a [`Skipped`](crate::Item::Skipped) item and is counted in
//! the [`Summary`](crate::Summary). An [`ImportError`] is what ends a stream: the input
//! cannot be read further (truncated, malformed, wrong header, I/O failure).

use std::fmt;
use std::io;

/// Where in an input something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// A line of a text file, counted from 1 (CSV rows; the header is line 1).
    Line(u64),
    /// A byte offset from the start of the input (XML elements).
    Byte(u64),
    /// A message of a FIT file, counted from 1, and the byte offset where it starts.
    Message {
        /// Index of the FIT message (definition and data messages alike), from 1.
        index: u64,
        /// Byte offset of the message in the file.
        byte: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Byte(byte) => write!(f, "byte {byte}"),
            Location::Message { index, byte } => write!(f, "message {index} (byte {byte})"),
        }
    }
}

/// What ended an import early. Every variant names the place in the input.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the input failed.
    #[error("{file}: read failed at {at}: {source}")]
    Io {
        /// The file or entry being read.
        file: String,
        /// How far reading had come.
        at: Location,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The input ends in the middle of a row, element or message: everything before `at`
    /// was imported, nothing after it.
    #[error("{file}: input is truncated at {at}: {detail}")]
    Truncated {
        /// The file or entry being read.
        file: String,
        /// Where the incomplete part starts.
        at: Location,
        /// What was incomplete.
        detail: String,
    },
    /// The input is not well-formed for its format (XML syntax, FIT structure, CSV quoting).
    #[error("{file}: malformed input at {at}: {detail}")]
    Malformed {
        /// The file or entry being read.
        file: String,
        /// Where the parser stopped.
        at: Location,
        /// The parser's explanation.
        detail: String,
    },
    /// A CSV header does not have the column the recognised layout requires.
    #[error(
        "{file}: header column {index} is {found:?}, expected {expected:?} for a {layout} file"
    )]
    WrongColumn {
        /// The file being read.
        file: String,
        /// The layout the header was taken for.
        layout: &'static str,
        /// Position of the column, from 1.
        index: usize,
        /// The column name the layout expects there.
        expected: &'static str,
        /// The column name found (empty when the header is too short).
        found: String,
    },
    /// A CSV header matches none of the supported layouts.
    #[error("{file}: unrecognised header {header:?}; supported layouts: {supported}")]
    UnknownLayout {
        /// The file being read.
        file: String,
        /// The header as found.
        header: String,
        /// The supported layouts, for the message.
        supported: &'static str,
    },
    /// An archive does not hold the file an importer needs.
    #[error("{archive}: no entry named {entry:?}")]
    MissingEntry {
        /// The archive.
        archive: String,
        /// The entry looked for.
        entry: String,
    },
    /// An archive could not be opened or one of its entries not read.
    #[error("{archive}: {detail}")]
    Archive {
        /// The archive.
        archive: String,
        /// What went wrong.
        detail: String,
    },
}

/// Result of this crate's fallible operations.
pub type Result<T> = std::result::Result<T, ImportError>;
