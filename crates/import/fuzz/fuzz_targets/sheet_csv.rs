//! Fuzz target: a CSV sheet followed by `vitalis watch` — the column mapping parser, the
//! header lookup and the row reader — must end every input with rows or an error, never a
//! panic.
//!
//! The input's first line is the `--map` value (empty for the original layout:
//! `Time`, cumulative `Steps`, `Heart Rate`); the rest is the sheet, read as
//! `vitalis watch` reads it: up to its last newline, with fields of any count per row.

#![no_main]

mod sheet_rows;

use libfuzzer_sys::fuzz_target;
use vitalis_import::sheet::{Cell, ColumnMap};

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(spec) = std::str::from_utf8(&data[..newline]) else {
        return;
    };
    let map = if spec.trim().is_empty() {
        ColumnMap::original()
    } else {
        match ColumnMap::parse(spec) {
            Ok(map) => map,
            Err(err) => {
                let _ = err.to_string();
                return;
            }
        }
    };
    if let Some(rows) = csv_rows(&data[newline + 1..]) {
        sheet_rows::read(&map, &rows);
    }
});

/// The complete lines of a CSV as numbered rows of cells, as `vitalis watch` reads them;
/// `None` where it gives up (no complete line, or a record the CSV reader refuses).
fn csv_rows(bytes: &[u8]) -> Option<sheet_rows::Rows> {
    let end = bytes.iter().rposition(|&b| b == b'\n')?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..=end]);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).ok()? {
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record.iter().map(Cell::from_text).collect()));
    }
    Some(rows)
}
