//! Property tests of the three writers: N readings give N CSV rows, N XLSX rows and N
//! Observations less one per blood-pressure pair, and no output holds NaN or infinity.

use std::collections::BTreeMap;
use std::io::Read;

use proptest::prelude::*;
use vitalis_export::{CsvWriter, ExportReading, FhirWriter, XlsxWriter};
use vitalis_model::{CATALOG, Metric, Position, SleepStage, Timestamp, Value, ValueKind};

const SOURCES: [&str; 3] = ["watch-a", "watch-b", "import:\"odd, name\""];

/// A valid value of `metric` from a fraction in 0..1.
fn value(metric: Metric, x: f64) -> Value {
    let spec = metric.spec();
    match spec.kind {
        ValueKind::Scalar => Value::Scalar(spec.min + (spec.max - spec.min) * x),
        ValueKind::SleepStage => Value::SleepStage(SleepStage::ALL[(x * 3.99) as usize]),
        ValueKind::Location => Value::Position(Position {
            lat: -90.0 + 180.0 * x,
            lon: 180.0 - 360.0 * x,
            accuracy: (x > 0.5).then_some(x * 100.0),
        }),
    }
}

/// Readings as the store gives them: one per (time, metric, source), ordered by time,
/// metric name and source.
fn readings() -> impl Strategy<Value = Vec<(Metric, i64, Value, &'static str)>> {
    prop::collection::vec(
        (0..CATALOG.len(), 0i64..20, 0..SOURCES.len(), 0.0f64..1.0),
        0..200,
    )
    .prop_map(|raw| {
        let mut unique = BTreeMap::new();
        for (m, t, s, x) in raw {
            let metric = CATALOG[m].metric;
            let t = 1_459_497_245_000 + t * 1000;
            unique.insert(
                (t, metric.name(), SOURCES[s]),
                (metric, t, value(metric, x), SOURCES[s]),
            );
        }
        unique.into_values().collect()
    })
}

fn as_export(r: &(Metric, i64, Value, &'static str)) -> ExportReading<'static> {
    ExportReading {
        metric: r.0,
        t: Timestamp::new(r.1).unwrap(),
        value: r.2,
        source: r.3,
    }
}

fn pairs(readings: &[(Metric, i64, Value, &str)]) -> usize {
    let mut by_key: BTreeMap<(i64, &str), (bool, bool)> = BTreeMap::new();
    for (metric, t, _, source) in readings {
        let entry = by_key.entry((*t, source)).or_default();
        match metric {
            Metric::BloodPressureSystolic => entry.0 = true,
            Metric::BloodPressureDiastolic => entry.1 = true,
            _ => {}
        }
    }
    by_key.values().filter(|(s, d)| *s && *d).count()
}

fn no_nan(text: &str) {
    let lower = text.to_ascii_lowercase();
    assert!(!lower.contains("nan") && !lower.contains("inf"), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csv_has_one_row_per_reading(readings in readings()) {
        let mut w = CsvWriter::new(Vec::new()).unwrap();
        for r in &readings {
            w.write(&as_export(r)).unwrap();
        }
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        // The quoted source holds no line break, so rows are lines.
        prop_assert_eq!(text.matches("\r\n").count(), readings.len() + 1);
        // Every row has the header's eight fields (the odd source has one comma inside).
        for line in text.lines().skip(1) {
            let commas = line.matches(',').count() - usize::from(line.contains("odd, name"));
            prop_assert_eq!(commas, 7, "{}", line);
        }
        no_nan(&text.replace("{stage}", ""));
    }

    #[test]
    fn fhir_has_one_observation_per_reading_less_pairs(readings in readings()) {
        let mut w = FhirWriter::new(Vec::new(), "p1").unwrap();
        for r in &readings {
            w.write(&as_export(r)).unwrap();
        }
        let bytes = w.finish().unwrap();
        let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let entries = bundle.get("entry").and_then(|e| e.as_array()).map_or(0, Vec::len);
        prop_assert_eq!(entries, readings.len() - pairs(&readings));
        let panels = bundle
            .get("entry")
            .and_then(|e| e.as_array())
            .map_or(0, |e| {
                e.iter()
                    .filter(|e| e["resource"]["code"]["coding"][0]["code"] == "85354-9")
                    .count()
            });
        prop_assert_eq!(panels, pairs(&readings));
        no_nan(&String::from_utf8(bytes).unwrap());
    }
}

proptest! {
    // Each case builds and unzips a workbook.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn xlsx_has_one_row_per_reading(readings in readings()) {
        let mut w = XlsxWriter::new(Vec::new());
        for r in &readings {
            w.write(&as_export(r)).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let sheets: Vec<String> = (1..)
            .map(|i| format!("xl/worksheets/sheet{i}.xml"))
            .take_while(|name| zip.by_name(name).is_ok())
            .collect();
        let mut metrics: Vec<Metric> = readings.iter().map(|r| r.0).collect();
        metrics.sort();
        metrics.dedup();
        prop_assert_eq!(sheets.len(), metrics.len().max(1));
        let mut rows = 0;
        for name in sheets {
            let mut xml = String::new();
            zip.by_name(&name).unwrap().read_to_string(&mut xml).unwrap();
            no_nan(&xml);
            // Each sheet's first row is its header.
            rows += xml.matches("<row ").count().saturating_sub(1);
        }
        prop_assert_eq!(rows, readings.len());
    }
}
