//! Fuzz target: the first sheet of an `.xlsx` workbook followed by `vitalis watch` (read
//! by calamine, then the header lookup and the row reader of the original layout) must
//! end every input with rows or an error, never a panic.

#![no_main]

mod sheet_rows;

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use libfuzzer_sys::fuzz_target;
use vitalis_import::sheet::ColumnMap;

fuzz_target!(|data: &[u8]| {
    let Ok(mut workbook) = Xlsx::new(Cursor::new(data)) else {
        return;
    };
    let Some(Ok(range)) = workbook.worksheet_range_at(0) else {
        return;
    };
    let rows = vitalis_import::sheet::rows_of_range(&range);
    sheet_rows::read(&ColumnMap::original(), &rows);
});
