//! What `vitalis watch` does with the rows of a sheet once they are read (shared by the
//! `sheet_csv` and `sheet_xlsx` targets): the first row is the header the column map is
//! resolved against, every other row goes through a [`SheetReader`].

use vitalis_import::ImportOptions;
use vitalis_import::sheet::{Cell, ColumnMap, SheetReader, SheetRow, StepsCounting};
use vitalis_model::Timestamp;

pub use vitalis_import::sheet::Rows;

/// Reads `rows` with `map`, steps counted both ways, and checks that a second pass over
/// the same rows gives the same hashes (`vitalis watch` keeps them between runs).
pub fn read(map: &ColumnMap, rows: &Rows) {
    let Some(((_, header), body)) = rows.split_first() else {
        return;
    };
    let header: Vec<String> = header.iter().map(cell_text).collect();
    for steps in [StepsCounting::Cumulative, StepsCounting::PerRow] {
        let layout = match map.clone().with_steps(steps).resolve(&header) {
            Ok(layout) => layout,
            Err(err) => {
                let _ = err.to_string();
                return;
            }
        };
        let pass = || {
            let mut reader = SheetReader::new(layout.clone(), options());
            body.iter()
                .map(|(number, cells)| reader.row(*number, cells))
                .collect::<Vec<SheetRow>>()
        };
        let (first, second) = (pass(), pass());
        assert_eq!(first, second, "two passes over the same rows differ");
    }
}

/// Times at a half-hour offset, so the local-to-UTC shift is not a whole hour.
fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
        .with_utc_offset_seconds(5 * 3600 + 1800)
        .unwrap()
}

/// A header cell as `vitalis watch` turns it into a column name.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Number(n) => n.to_string(),
        Cell::Text(t) => t.clone(),
    }
}
