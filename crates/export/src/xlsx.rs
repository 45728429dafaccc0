//! XLSX export: one worksheet per metric, named by the metric's wire name, in catalog
//! order; a metric with more readings than a sheet holds (1,048,575 below the header)
//! continues on `heart_rate_2`, `heart_rate_3`, ….
//!
//! Columns by the metric's kind of value (the unit is in the header, not on every row):
//! - a number: `time_utc`, `value (<UCUM unit>)`, `source`;
//! - a sleep stage: `time_utc`, `stage`, `source`;
//! - a location: `time_utc`, `lat (deg)`, `lon (deg)`, `accuracy (m)`, `source`.
//!
//! `time_utc` cells are real Excel dates: the date serial number (days since
//! 1899-12-30, UTC) with the number format `yyyy-mm-dd hh:mm:ss.000`, so they sort,
//! filter and compute as dates. The header row is bold and frozen.
//!
//! The workbook is built in memory (rust_xlsxwriter) and written to the sink at
//! [`XlsxWriter::finish`]: an XLSX file is a zip archive whose directory comes last.

use std::collections::BTreeMap;
use std::io::Write;

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};
use vitalis_model::{Metric, Value, ValueKind};

use crate::time::excel_serial;
use crate::{ExportError, ExportReading, Result, finite};

/// Data rows per sheet: Excel's 1,048,576 rows less the header.
pub const ROWS_PER_SHEET: u32 = 1_048_575;

fn xlsx_error(e: XlsxError) -> ExportError {
    ExportError::Xlsx(e.to_string())
}

/// The sheet a metric is being written to.
struct OpenSheet {
    sheet: Worksheet,
    /// Next data row (1-based: row 0 is the header).
    row: u32,
    /// 1 for the metric's first sheet, 2 for its continuation, ….
    part: u32,
}

/// Collects readings into a workbook; writes it to `W` at [`finish`](Self::finish).
pub struct XlsxWriter<W: Write> {
    sink: W,
    open: BTreeMap<Metric, OpenSheet>,
    full: Vec<(Metric, u32, Worksheet)>,
    time: CellFormat,
    header: CellFormat,
}

impl<W: Write> XlsxWriter<W> {
    /// An empty workbook that will be written to `sink`.
    pub fn new(sink: W) -> XlsxWriter<W> {
        XlsxWriter {
            sink,
            open: BTreeMap::new(),
            full: Vec::new(),
            time: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
            header: CellFormat::new().set_bold(),
        }
    }

    fn new_sheet(&self, metric: Metric, part: u32) -> Result<Worksheet> {
        let mut sheet = Worksheet::new();
        let name = if part == 1 {
            metric.name().to_owned()
        } else {
            format!("{}_{part}", metric.name())
        };
        sheet.set_name(name).map_err(xlsx_error)?;
        let spec = metric.spec();
        let value_header = format!("value ({})", spec.unit);
        let columns: &[&str] = match spec.kind {
            ValueKind::Scalar => &["time_utc", &value_header, "source"],
            ValueKind::SleepStage => &["time_utc", "stage", "source"],
            ValueKind::Location => &[
                "time_utc",
                "lat (deg)",
                "lon (deg)",
                "accuracy (m)",
                "source",
            ],
        };
        for (col, title) in columns.iter().enumerate() {
            let col = col as u16;
            sheet
                .write_string_with_format(0, col, *title, &self.header)
                .map_err(xlsx_error)?;
            let width = if col == 0 { 24.0 } else { 14.0 };
            sheet.set_column_width(col, width).map_err(xlsx_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        Ok(sheet)
    }

    /// Adds one reading to its metric's sheet.
    pub fn write(&mut self, r: &ExportReading<'_>) -> Result<()> {
        let kind = r.metric.spec().kind;
        // Check the value before a sheet is made for it.
        match (kind, r.value) {
            (ValueKind::Scalar, Value::Scalar(v)) => {
                finite(v, r.metric, r.t)?;
            }
            (ValueKind::SleepStage, Value::SleepStage(_)) => {}
            (ValueKind::Location, Value::Position(p)) => {
                finite(p.lat, r.metric, r.t)?;
                finite(p.lon, r.metric, r.t)?;
                if let Some(a) = p.accuracy {
                    finite(a, r.metric, r.t)?;
                }
            }
            _ => {
                return Err(ExportError::WrongKind {
                    metric: r.metric,
                    t: r.t.millis(),
                });
            }
        }
        let part = match self.open.get(&r.metric) {
            None => Some(1),
            Some(open) if open.row > ROWS_PER_SHEET => Some(open.part + 1),
            Some(_) => None,
        };
        if let Some(part) = part {
            let sheet = self.new_sheet(r.metric, part)?;
            if let Some(done) = self.open.insert(
                r.metric,
                OpenSheet {
                    sheet,
                    row: 1,
                    part,
                },
            ) {
                self.full.push((r.metric, done.part, done.sheet));
            }
        }
        let Some(open) = self.open.get_mut(&r.metric) else {
            unreachable!("a sheet was opened above");
        };
        let (sheet, row) = (&mut open.sheet, open.row);
        sheet
            .write_number_with_format(row, 0, excel_serial(r.t), &self.time)
            .map_err(xlsx_error)?;
        let source_col = match r.value {
            Value::Scalar(v) => {
                sheet.write_number(row, 1, v).map_err(xlsx_error)?;
                2
            }
            Value::SleepStage(stage) => {
                sheet
                    .write_string(row, 1, stage.name())
                    .map_err(xlsx_error)?;
                2
            }
            Value::Position(p) => {
                sheet.write_number(row, 1, p.lat).map_err(xlsx_error)?;
                sheet.write_number(row, 2, p.lon).map_err(xlsx_error)?;
                if let Some(a) = p.accuracy {
                    sheet.write_number(row, 3, a).map_err(xlsx_error)?;
                }
                4
            }
        };
        sheet
            .write_string(row, source_col, r.source)
            .map_err(xlsx_error)?;
        open.row += 1;
        Ok(())
    }

    /// The sink (untouched until [`finish`](Self::finish)).
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }

    /// Assembles the workbook (an empty export gets one empty sheet named `readings`),
    /// writes it to the sink and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        let mut sheets = self.full;
        sheets.extend(
            self.open
                .into_iter()
                .map(|(metric, open)| (metric, open.part, open.sheet)),
        );
        sheets.sort_by_key(|(metric, part, _)| (*metric, *part));
        let mut workbook = Workbook::new();
        if sheets.is_empty() {
            workbook
                .add_worksheet()
                .set_name("readings")
                .map_err(xlsx_error)?;
        }
        for (_, _, sheet) in sheets {
            workbook.push_worksheet(sheet);
        }
        let bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
        self.sink.write_all(&bytes)?;
        self.sink.flush()?;
        Ok(self.sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use vitalis_model::{Position, SleepStage, Timestamp};

    /// The XML of each sheet, by the workbook's order.
    pub(crate) fn sheets(bytes: &[u8]) -> Vec<String> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        for i in 1.. {
            let Ok(mut file) = zip.by_name(&format!("xl/worksheets/sheet{i}.xml")) else {
                break;
            };
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            out.push(text);
        }
        out
    }

    fn workbook_xml(bytes: &[u8]) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        zip.by_name("xl/workbook.xml")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn one_sheet_per_metric_in_catalog_order() {
        let t = Timestamp::new(1_459_512_000_000).unwrap();
        let mut w = XlsxWriter::new(Vec::new());
        let readings = [
            (
                Metric::Location,
                Value::Position(Position {
                    lat: 52.1,
                    lon: 5.1,
                    accuracy: None,
                }),
            ),
            (Metric::HeartRate, Value::Scalar(72.0)),
            (Metric::SleepStage, Value::SleepStage(SleepStage::Deep)),
            (Metric::HeartRate, Value::Scalar(75.0)),
        ];
        for (metric, value) in readings {
            w.write(&ExportReading {
                metric,
                t,
                value,
                source: "w1",
            })
            .unwrap();
        }
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip archive");
        let book = workbook_xml(&bytes);
        let names: Vec<usize> = ["heart_rate", "sleep_stage", "location"]
            .iter()
            .map(|n| book.find(&format!("name=\"{n}\"")).unwrap())
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{book}");
        let sheets = sheets(&bytes);
        assert_eq!(sheets.len(), 3);
        // Header + two rows; the time is the serial 42461.5 with a date format.
        assert_eq!(sheets[0].matches("<row ").count(), 3);
        assert!(sheets[0].contains("<v>42461.5</v>"), "{}", sheets[0]);
        assert!(sheets[0].contains("<v>75</v>"));
    }

    #[test]
    fn empty_export_is_a_valid_workbook() {
        let bytes = XlsxWriter::new(Vec::new()).finish().unwrap();
        assert!(workbook_xml(&bytes).contains("name=\"readings\""));
    }

    #[test]
    fn refuses_nan() {
        let mut w = XlsxWriter::new(Vec::new());
        let r = ExportReading {
            metric: Metric::Weight,
            t: Timestamp::new(0).unwrap(),
            value: Value::Scalar(f64::INFINITY),
            source: "s",
        };
        assert!(matches!(w.write(&r), Err(ExportError::NotFinite { .. })));
    }
}
