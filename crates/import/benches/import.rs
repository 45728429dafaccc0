//! Import throughput on the largest real files in `testdata/`: the Fitbit hourly steps
//! CSV (22,099 rows) and the COROS FIT file (259 KB). Reports rows (or FIT messages
//! with readings) per second through parsing and model validation.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vitalis_import::fit::FitFile;
use vitalis_import::fitbit::FitbitCsv;
use vitalis_import::{ImportOptions, Item};
use vitalis_model::Timestamp;

const HOURLY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/fitbit_mturk_2016/hourlySteps_merged.csv"
);
const COROS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/garmin_fit/coros-pace-2-cycling-misaligned-fields.fit"
);

fn options() -> ImportOptions {
    ImportOptions::new(Timestamp::new(1_767_225_600_000).unwrap())
}

fn count(stream: impl Iterator<Item = vitalis_import::Result<Item>>) -> usize {
    stream
        .map(|item| item.expect("test file imports"))
        .filter(|item| matches!(item, Item::Reading(_)))
        .count()
}

fn bench(c: &mut Criterion) {
    let csv = std::fs::read(HOURLY).unwrap();
    let rows = csv.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    let mut group = c.benchmark_group("import");
    group.throughput(Throughput::Elements(rows));
    group.bench_function("fitbit_hourly_steps_rows", |b| {
        b.iter(|| count(FitbitCsv::new(black_box(&csv[..]), "hourly", options()).unwrap()))
    });

    let fit = std::fs::read(COROS).unwrap();
    let readings = count(FitFile::new(&fit[..], "coros", options())) as u64;
    group.throughput(Throughput::Elements(readings));
    group.bench_function("fit_coros_readings", |b| {
        b.iter(|| count(FitFile::new(black_box(&fit[..]), "coros", options())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
