//! No input makes an importer panic: random bytes, and real files cut short or with
//! bytes changed, go through every parser. (The fuzz targets in `fuzz/` do the same
//! for longer.)

use std::io::Cursor;

use proptest::prelude::*;
use vitalis_import::apple::AppleHealthXml;
use vitalis_import::apple_zip::open_zip;
use vitalis_import::empatica::{E4Signal, EmpaticaCsv};
use vitalis_import::fit::FitFile;
use vitalis_import::fitbit::FitbitCsv;
use vitalis_import::google_fit::GoogleFitCsv;

use crate::support::{options, testdata};

/// Runs `bytes` through every importer to the end.
fn every_parser(bytes: &[u8]) {
    let o = options;
    AppleHealthXml::new(bytes, "x", o()).for_each(drop);
    if let Ok(s) = open_zip(Cursor::new(bytes), "x", o()) {
        s.for_each(drop);
    }
    FitFile::new(bytes, "x", o()).for_each(drop);
    if let Ok(s) = FitbitCsv::new(bytes, "x", o()) {
        s.for_each(drop);
    }
    if let Ok(s) = GoogleFitCsv::new(bytes, "x", None, o()) {
        s.for_each(drop);
    }
    let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1);
    if let Ok(s) = GoogleFitCsv::new(bytes, "x", day, o()) {
        s.for_each(drop);
    }
    for signal in E4Signal::ALL {
        if let Ok(s) = EmpaticaCsv::new(bytes, "x", signal, o()) {
            s.for_each(drop);
        }
    }
}

const SEEDS: &[&str] = &[
    testdata!("apple_health/dogsheep_healthkit-to-sqlite/export.xml"),
    testdata!("garmin_fit/garmin-fenix-5-run.fit"),
    testdata!("fitbit_mturk_2016/weightLogInfo_merged.csv"),
    testdata!("physionet_wearable_exam_stress/Data/S2/Final/IBI.csv"),
];

fn seeds() -> Vec<Vec<u8>> {
    SEEDS.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        every_parser(&bytes);
    }

    #[test]
    fn real_files_cut_and_changed(
        seed in 0..SEEDS.len(),
        cut in any::<prop::sample::Index>(),
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut bytes = seeds().swap_remove(seed);
        for (at, b) in changes {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let cut = cut.index(bytes.len() + 1);
        every_parser(&bytes[..cut]);
    }
}
