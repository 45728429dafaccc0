//! Throughput of each writer: 100,000 readings of a typical wearable mix (heart rate each
//! second, steps and SpO2 each minute, a blood-pressure pair every ten minutes) into an
//! in-memory sink, reported by criterion as readings per second.
//!
//! `cargo bench -p vitalis-export --bench writers`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vitalis_export::{CsvWriter, ExportReading, FhirWriter, XlsxWriter};
use vitalis_model::{Metric, Timestamp, Value};

const N: usize = 100_000;

fn readings() -> Vec<ExportReading<'static>> {
    let t0 = 1_763_900_000_000;
    let mut out = Vec::with_capacity(N);
    let mut s = 0i64;
    while out.len() < N {
        let t = Timestamp::new(t0 + s * 1000).unwrap();
        let mut push = |metric, v: f64| {
            out.push(ExportReading {
                metric,
                t,
                value: Value::Scalar(v),
                source: "dev_0123456789",
            })
        };
        push(Metric::HeartRate, 60.0 + (s % 40) as f64);
        if s % 60 == 0 {
            push(Metric::Steps, (s % 120) as f64);
            push(Metric::Spo2, 97.0);
        }
        if s % 600 == 0 {
            push(Metric::BloodPressureDiastolic, 79.0);
            push(Metric::BloodPressureSystolic, 121.0);
        }
        s += 1;
    }
    out.truncate(N);
    out
}

fn writers(c: &mut Criterion) {
    let readings = readings();
    let mut group = c.benchmark_group("export_100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("csv", |b| {
        b.iter(|| {
            let mut w = CsvWriter::new(Vec::with_capacity(8 << 20)).unwrap();
            for r in &readings {
                w.write(r).unwrap();
            }
            w.finish().unwrap().len()
        })
    });
    group.bench_function("fhir", |b| {
        b.iter(|| {
            let mut w = FhirWriter::new(Vec::with_capacity(64 << 20), "p1").unwrap();
            for r in &readings {
                w.write(r).unwrap();
            }
            w.finish().unwrap().len()
        })
    });
    group.bench_function("xlsx", |b| {
        b.iter(|| {
            let mut w = XlsxWriter::new(Vec::new());
            for r in &readings {
                w.write(r).unwrap();
            }
            w.finish().unwrap().len()
        })
    });
    group.finish();
}

criterion_group!(benches, writers);
criterion_main!(benches);
