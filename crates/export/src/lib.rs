//! Vitalis exports: a patient's readings (and, in FHIR, clinical notes) as CSV, XLSX or
//! FHIR R4 JSON, written into any [`std::io::Write`].
//!
//! Pure like `vitalis-model`: no I/O of its own (the caller hands in the writer), no
//! async, no clock. Each format has a writer ([`CsvWriter`], [`XlsxWriter`],
//! [`FhirWriter`]) with the same three steps: create it over a sink, feed it readings
//! one by one, `finish` it to get the sink back. [`Exporter`] picks one by [`Format`].
//!
//! ```
//! use vitalis_export::{ExportReading, Exporter, Format};
//! use vitalis_model::{Metric, Timestamp, Value};
//!
//! let mut export = Exporter::new(Format::Csv, Vec::new(), "p1").unwrap();
//! export
//!     .write(&ExportReading {
//!         metric: Metric::HeartRate,
//!         t: Timestamp::new(1_459_497_245_000).unwrap(),
//!         value: Value::Scalar(91.0),
//!         source: "watch-1",
//!     })
//!     .unwrap();
//! let csv = String::from_utf8(export.finish().unwrap()).unwrap();
//! assert_eq!(
//!     csv,
//!     "time_utc,metric,value,unit,source,lat,lon,accuracy\r\n\
//!      2016-04-01T07:54:05.000Z,heart_rate,91,/min,watch-1,,,\r\n"
//! );
//! ```
//!
//! What each format holds:
//!
//! - **CSV** ([RFC 4180](csv)): one row per reading, columns
//!   `time_utc,metric,value,unit,source,lat,lon,accuracy`, times in ISO 8601 UTC with
//!   milliseconds, values in the metric's canonical UCUM unit. A sleep stage's value is
//!   its name (`deep`); a location leaves `value` empty and fills `lat`, `lon` (degrees,
//!   WGS 84) and `accuracy` (metres, empty when the device gave none); other rows leave
//!   those three empty. Streamed: memory does not grow with the export.
//! - **XLSX** ([`xlsx`]): one sheet per metric, named by its wire name, in catalog
//!   order; times are real Excel dates (UTC). Assembled in memory and written at
//!   `finish` (a workbook is a zip archive, complete only at its end).
//! - **FHIR R4** ([`fhir`]): a `Bundle` of type `collection` whose entries are
//!   `Observation`s with LOINC codes and UCUM quantities, streamed entry by entry.
//!   Clinical notes are exported in this format only.
//! - **CAR v1** ([`car`]): not readings but the stored records themselves: every payload
//!   as a block under its CIDv1, with a DAG-CBOR manifest (headers, commitments,
//!   openings, anchor proofs) as the root, readable by standard IPFS tooling.

pub mod car;
pub mod csv;
pub mod fhir;
pub mod time;
pub mod xlsx;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use vitalis_model::{ClinicalNote, Metric, Timestamp, Value};

pub use crate::csv::CsvWriter;
pub use crate::fhir::FhirWriter;
pub use crate::xlsx::XlsxWriter;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The sink refused bytes.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// A number that is not finite; exports never contain NaN or infinities.
    #[error("{metric} at {t} ms has a value that is not a finite number")]
    NotFinite {
        /// The reading's metric (or a clinical result's LOINC code).
        metric: String,
        /// Its time.
        t: i64,
    },
    /// A value whose shape is not its metric's (a sleep stage for heart rate, …).
    #[error("{metric} at {t} ms has a value of the wrong kind")]
    WrongKind {
        /// The reading's metric.
        metric: Metric,
        /// Its time.
        t: i64,
    },
    /// A CAR archive could not be built.
    #[error("CAR export: {0}")]
    Car(String),
    /// The spreadsheet library refused the workbook.
    #[error("building the workbook: {0}")]
    Xlsx(String),
    /// Clinical notes have no place in this format.
    #[error("clinical notes are exported in FHIR only")]
    NotesUnsupported,
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, ExportError>;

/// One reading to export: what the store's read index holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportReading<'a> {
    /// The metric measured.
    pub metric: Metric,
    /// When (UTC).
    pub t: Timestamp,
    /// The value, in the metric's canonical unit.
    pub value: Value,
    /// Where it came from (a device id or import source label).
    pub source: &'a str,
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values (RFC 4180).
    Csv,
    /// Office Open XML workbook.
    Xlsx,
    /// FHIR R4 JSON Bundle.
    Fhir,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Csv, Format::Xlsx, Format::Fhir];

    /// The name used on the command line and in queries.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Fhir => "fhir",
        }
    }

    /// The media type to send it with.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Fhir => "application/fhir+json; fhirVersion=4.0",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Fhir => "json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown export format {s:?} (csv, xlsx or fhir)"))
    }
}

/// Fails unless `v` is finite.
pub(crate) fn finite(v: f64, metric: impl fmt::Display, t: Timestamp) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ExportError::NotFinite {
            metric: metric.to_string(),
            t: t.millis(),
        })
    }
}

/// One of the three writers, chosen at run time. There is one per export, so the size
/// of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Exporter<W: Write> {
    /// CSV.
    Csv(CsvWriter<W>),
    /// XLSX.
    Xlsx(XlsxWriter<W>),
    /// FHIR R4.
    Fhir(FhirWriter<W>),
}

impl<W: Write> Exporter<W> {
    /// A writer of `format` into `sink`; `patient` is the FHIR subject's id.
    pub fn new(format: Format, sink: W, patient: &str) -> Result<Exporter<W>> {
        Ok(match format {
            Format::Csv => Exporter::Csv(CsvWriter::new(sink)?),
            Format::Xlsx => Exporter::Xlsx(XlsxWriter::new(sink)),
            Format::Fhir => Exporter::Fhir(FhirWriter::new(sink, patient)?),
        })
    }

    /// The format written.
    pub fn format(&self) -> Format {
        match self {
            Exporter::Csv(_) => Format::Csv,
            Exporter::Xlsx(_) => Format::Xlsx,
            Exporter::Fhir(_) => Format::Fhir,
        }
    }

    /// Adds one reading.
    pub fn write(&mut self, reading: &ExportReading<'_>) -> Result<()> {
        match self {
            Exporter::Csv(w) => w.write(reading),
            Exporter::Xlsx(w) => w.write(reading),
            Exporter::Fhir(w) => w.write(reading),
        }
    }

    /// Adds a clinical note (FHIR only; the others answer [`ExportError::NotesUnsupported`]).
    pub fn write_note(&mut self, note: &ClinicalNote) -> Result<()> {
        match self {
            Exporter::Fhir(w) => w.write_note(note),
            _ => Err(ExportError::NotesUnsupported),
        }
    }

    /// The sink: a caller streaming into a `Vec<u8>` takes the bytes out after each
    /// [`flush`](Self::flush) (`std::mem::take(export.sink_mut())`).
    pub fn sink_mut(&mut self) -> &mut W {
        match self {
            Exporter::Csv(w) => w.sink_mut(),
            Exporter::Xlsx(w) => w.sink_mut(),
            Exporter::Fhir(w) => w.sink_mut(),
        }
    }

    /// Passes what is complete on to the sink (nothing, for XLSX, before `finish`).
    pub fn flush(&mut self) -> Result<()> {
        match self {
            Exporter::Csv(w) => w.flush(),
            Exporter::Xlsx(_) => Ok(()),
            Exporter::Fhir(w) => w.flush(),
        }
    }

    /// Completes the export and returns the sink.
    pub fn finish(self) -> Result<W> {
        match self {
            Exporter::Csv(w) => w.finish(),
            Exporter::Xlsx(w) => w.finish(),
            Exporter::Fhir(w) => w.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!("pdf".parse::<Format>().is_err());
    }

    #[test]
    fn notes_only_in_fhir() {
        let note = ClinicalNote {
            t: 0,
            institution: "h".into(),
            results: vec![],
            note: "x".into(),
        };
        for f in [Format::Csv, Format::Xlsx] {
            let mut e = Exporter::new(f, Vec::new(), "p").unwrap();
            assert!(matches!(
                e.write_note(&note),
                Err(ExportError::NotesUnsupported)
            ));
        }
    }
}
