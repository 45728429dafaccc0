//! Importers: streaming parsers that turn wearable health-data exports into validated
//! Vitalis [`Reading`](vitalis_model::Reading)s.
//!
//! Each format has a module with a stream type: open a file (or wrap any reader), then
//! iterate. Files are read piece by piece, so exports of any size never sit in memory.
//!
//! | format | module | input |
//! |---|---|---|
//! | Apple Health `export.xml` | [`apple`] | [`AppleHealthXml`](apple::AppleHealthXml) |
//! | Apple Health `export.zip` | [`apple_zip`] | [`open_zip`](apple_zip::open_zip) |
//! | Fitbit CSV (Fitabase layout) | [`fitbit`] | [`FitbitCsv`](fitbit::FitbitCsv) |
//! | FIT (Garmin, COROS, …) | [`fit`] | [`FitFile`](fit::FitFile) |
//! | Google Fit Takeout CSV | [`google_fit`] | [`GoogleFitCsv`](google_fit::GoogleFitCsv) |
//! | Empatica E4 session | [`empatica`] | [`EmpaticaFolder`](empatica::EmpaticaFolder), [`EmpaticaCsv`](empatica::EmpaticaCsv) |
//!
//! Every stream implements [`Importer`]: an iterator of `Result<`[`Item`]`>`.
//!
//! - [`Item::Reading`]: a reading built with the model's constructors, so it is checked
//!   exactly as ingest checks it (canonical unit, finite, plausible, not from the
//!   future), with a `source` label, the `subject` where the file names one (the Fitbit
//!   `Id`), and its place in the input.
//! - [`Item::Skipped`]: a value left out, with a [`SkipReason`] (out of range, unknown
//!   type or unit, unparsable field) and its place. Skipping never stops the stream.
//! - `Err(`[`ImportError`]`)`: the input cannot be read on — truncated, malformed, a
//!   wrong CSV header (named in the error). Everything before it has been yielded; the
//!   stream ends there.
//!
//! [`Importer::summary`] counts what was taken and skipped per reason, with examples.
//! Parsing is deterministic: the same bytes give the same items in the same order. The
//! store, not the importer, removes duplicates (same device, metric and time).
//!
//! ```
//! use vitalis_import::fitbit::{FitbitCsv, FitbitLayout};
//! use vitalis_import::{ImportOptions, Importer, Item, SkipReason};
//! use vitalis_model::{Metric, Timestamp, Value};
//!
//! let csv = "Id,ActivityHour,StepTotal\r\n\
//!            1503960366,4/12/2016 12:00:00 AM,373\r\n\
//!            1503960366,4/12/2016 1:00:00 AM,-5\r\n\
//!            1503960366,4/12/2016 2:00:0";
//!
//! // The crate reads no clock: pass `now`. Fitbit times are local; here UTC-07:00.
//! let now = Timestamp::new(1_767_225_600_000).unwrap();
//! let options = ImportOptions::new(now).with_utc_offset_seconds(-7 * 3600).unwrap();
//! let mut stream = FitbitCsv::new(csv.as_bytes(), "hourlySteps_merged.csv", options)?;
//! assert_eq!(stream.layout(), FitbitLayout::HourlySteps);
//!
//! let Some(Ok(Item::Reading(first))) = stream.next() else { panic!() };
//! assert_eq!(first.metric(), Metric::Steps);
//! assert_eq!(first.value(), Value::Scalar(373.0));
//! assert_eq!(first.t_millis(), 1_460_444_400_000); // 2016-04-12 07:00 UTC
//! assert_eq!(first.subject.as_deref(), Some("1503960366"));
//!
//! // Negative steps are out of the catalog's range: skipped, counted, not fatal.
//! assert!(matches!(stream.next(), Some(Ok(Item::Skipped(s))) if s.reason == SkipReason::OutOfRange));
//!
//! // The file stops inside line 4: an error says so, and the stream ends.
//! let err = stream.next().unwrap().unwrap_err();
//! assert!(err.to_string().contains("truncated at line 4"));
//! assert!(stream.next().is_none());
//!
//! let summary = stream.summary();
//! assert_eq!((summary.taken(), summary.skipped(SkipReason::OutOfRange)), (1, 1));
//! # Ok::<(), vitalis_import::ImportError>(())
//! ```
//!
//! The crate is pure parsing: no async, no database, no network, no clock. Beyond
//! opening the path it is given (`open` constructors), it touches no file system.

pub mod apple;
pub mod apple_zip;
mod convert;
mod csv_rows;
pub mod empatica;
mod error;
pub mod fit;
pub mod fitbit;
pub mod google_fit;
mod item;
pub mod sheet;
mod summary;

pub use chrono::FixedOffset;
pub use convert::ImportOptions;
pub use error::{ImportError, Location, Result};
pub use item::{ImportedReading, Item, Skip, SkipReason};
pub use summary::{EXAMPLES_PER_REASON, Importer, SkipTally, Summary};
