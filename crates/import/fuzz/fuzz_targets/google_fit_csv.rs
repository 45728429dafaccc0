//! Fuzz target: the Google Fit CSV reader (daily and per-day layouts) must end every input with items or an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitalis_import::ImportOptions;
use vitalis_model::Timestamp;

fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

fuzz_target!(|data: &[u8]| {
    for day in [None, chrono::NaiveDate::from_ymd_opt(2020, 1, 1)] {
        if let Ok(s) = vitalis_import::google_fit::GoogleFitCsv::new(data, "fuzz", day, options()) {
            s.for_each(drop);
        }
    }
});
