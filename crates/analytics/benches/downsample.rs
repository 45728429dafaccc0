//! Benchmarks over 30 days of 1 Hz heart rate (2,592,000 samples): LTTB down to 1,000
//! points for a chart, daily summaries, and a minute rollup of the same data.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vitalis_analytics::{
    DailyConfig, Granularity, Rollup, Sample, UtcOffset, daily_summaries, lttb,
};

const SAMPLES: i64 = 30 * 86_400;

/// A day-night rhythm with deterministic noise (a 64-bit LCG), one sample a second.
fn heart_rate() -> Vec<Sample> {
    let t0 = 1_704_067_200_000i64;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..SAMPLES)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (state >> 40) as f64 / (1u64 << 24) as f64 * 10.0 - 5.0;
            let phase = (i % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            Sample::new(t0 + i * 1_000, 68.0 + 12.0 * phase.sin() + noise)
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let hr = heart_rate();
    let mut group = c.benchmark_group("30 days of 1 Hz heart rate");
    group.sample_size(10);
    group.bench_function("lttb to 1,000 points", |b| {
        b.iter(|| lttb(black_box(&hr), 1_000))
    });
    let config = DailyConfig::new(UtcOffset::UTC, 1_000).unwrap();
    group.bench_function("daily summaries", |b| {
        b.iter(|| daily_summaries(black_box(&hr), &config))
    });
    group.bench_function("minute rollup", |b| {
        b.iter(|| Rollup::of(Granularity::Minute, black_box(&hr)))
    });
    group.finish();
}

criterion_group!(downsample, benches);
criterion_main!(downsample);
