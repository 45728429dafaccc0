//! Helpers shared by the tests: test data paths, options, collecting a stream.

use vitalis_import::{ImportError, ImportOptions, ImportedReading, Importer, Item, Skip, Summary};
use vitalis_model::Timestamp;

/// A path under the repository's `testdata/`.
macro_rules! testdata {
    ($path:literal) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/", $path)
    };
}
pub(crate) use testdata;

/// 2026-01-01, later than every test file.
pub(crate) fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

/// Everything a stream yielded.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) readings: Vec<ImportedReading>,
    pub(crate) skipped: Vec<Skip>,
    pub(crate) error: Option<ImportError>,
    pub(crate) summary: Summary,
}

/// Drains `stream`, checking that nothing follows an error.
pub(crate) fn collect(mut stream: impl Importer) -> Collected {
    let mut readings = Vec::new();
    let mut skipped = Vec::new();
    let mut error = None;
    for next in stream.by_ref() {
        match next {
            Ok(Item::Reading(r)) => readings.push(r),
            Ok(Item::Skipped(s)) => skipped.push(s),
            Err(e) => {
                assert!(error.is_none(), "a second error: {e}");
                error = Some(e);
            }
        }
    }
    assert!(stream.next().is_none(), "stream resumed after its end");
    Collected {
        readings,
        skipped,
        error,
        summary: stream.summary().clone(),
    }
}
