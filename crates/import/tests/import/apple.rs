//! Apple Health `export.xml` and the export archive.

use std::io::{Cursor, Write};

use vitalis_import::apple::AppleHealthXml;
use vitalis_import::apple_zip::{EXPORT_XML_ENTRY, open_zip};
use vitalis_import::{ImportError, Location, SkipReason};
use vitalis_model::{Metric, Value};

use crate::support::{collect, options, testdata};

const TDDA: &str = testdata!("apple_health/tdda_applehealthdata/export6s3sample.xml");
const DOGSHEEP: &str = testdata!("apple_health/dogsheep_healthkit-to-sqlite/export.xml");
const ZIP_XML: &str = testdata!(
    "apple_health/dogsheep_healthkit-to-sqlite/zip_contents/apple_health_export/export.xml"
);
const ZIP_GPX: &str = testdata!(
    "apple_health/dogsheep_healthkit-to-sqlite/zip_contents/apple_health_export/workout-routes/route_2019-06-11_3.00pm.gpx"
);

fn read(bytes: &[u8]) -> crate::support::Collected {
    collect(AppleHealthXml::new(bytes, "export.xml", options()))
}

#[test]
fn tdda_sample_steps_and_distance() {
    let text = std::fs::read_to_string(TDDA).unwrap();
    let steps = text
        .matches(r#"<Record type="HKQuantityTypeIdentifierStepCount""#)
        .count();
    let distance = text
        .matches(r#"<Record type="HKQuantityTypeIdentifierDistanceWalkingRunning""#)
        .count();
    let all = collect(AppleHealthXml::open(TDDA, options()).unwrap());
    assert!(all.error.is_none(), "{:?}", all.error);
    let count = |m| all.readings.iter().filter(|r| r.metric() == m).count();
    assert_eq!(count(Metric::Steps), steps);
    assert_eq!(count(Metric::Distance), distance);
    assert_eq!(all.summary.taken() as usize, steps + distance);
    assert_eq!(all.summary.skipped_total(), 0);
    // 10:27:54 +0100 is 09:27:54 UTC; 329 steps.
    let first = &all.readings[0];
    assert_eq!(first.t_millis(), 1_410_600_474_000);
    assert_eq!(first.value(), Value::Scalar(329.0));
    assert_eq!(&*first.source, "apple_health:Health");
    // 0.00288 km is 2.88 m.
    let d = all
        .readings
        .iter()
        .find(|r| r.metric() == Metric::Distance)
        .unwrap();
    assert!(matches!(d.value(), Value::Scalar(m) if (m - 2.88).abs() < 1e-9));
}

#[test]
fn dogsheep_heart_rate_route_and_unknown_types() {
    let text = std::fs::read_to_string(DOGSHEEP).unwrap();
    let records = text.matches("<Record ").count();
    let heart = text
        .matches(r#"type="HKQuantityTypeIdentifierHeartRate""#)
        .count();
    let locations = text.matches("<Location ").count();
    let all = collect(AppleHealthXml::open(DOGSHEEP, options()).unwrap());
    assert!(all.error.is_none(), "{:?}", all.error);
    let count = |m| all.readings.iter().filter(|r| r.metric() == m).count();
    assert_eq!(count(Metric::HeartRate), heart);
    assert_eq!(count(Metric::Location), locations);
    // Every other record (Body Mass Index) has no catalog metric.
    assert_eq!(
        all.summary.skipped(SkipReason::UnknownType) as usize,
        records - heart
    );
    let tally = all.summary.tally(SkipReason::UnknownType).unwrap();
    assert!(tally.examples[0].detail.contains("BodyMassIndex"));
    let route = all
        .readings
        .iter()
        .find(|r| r.metric() == Metric::Location)
        .unwrap();
    assert!(route.source.ends_with("iPhone"), "{}", route.source);
    let Value::Position(p) = route.value() else {
        panic!()
    };
    assert_eq!((p.lat, p.lon), (37.7777, -122.426));
}

#[test]
fn same_file_same_readings() {
    let bytes = std::fs::read(DOGSHEEP).unwrap();
    assert_eq!(read(&bytes).readings, read(&bytes).readings);
}

#[test]
fn truncated_copies_yield_a_prefix_then_say_where() {
    let bytes = std::fs::read(TDDA).unwrap();
    let full = read(&bytes).readings;
    // Cut after the DTD, in the middle of every Record start tag and between records.
    let body = bytes.windows(8).position(|w| w == b"<Record ").unwrap();
    for cut in (body..bytes.len() - 1).step_by(97) {
        let part = read(&bytes[..cut]);
        let Some(ImportError::Truncated {
            at: Location::Byte(at),
            ..
        }) = part.error
        else {
            panic!("cut at {cut}: {:?}", part.error);
        };
        assert!(at as usize <= cut, "cut at {cut}, reported {at}");
        assert_eq!(
            part.readings[..],
            full[..part.readings.len()],
            "cut at {cut}"
        );
        // Every record line wholly before the cut was read (and the one whose tag closed
        // just before it, if any).
        let complete = String::from_utf8_lossy(&bytes[..cut])
            .split_inclusive('\n')
            .filter(|l| {
                l.trim_start().starts_with("<Record ")
                    && l.trim_end().ends_with("/>")
                    && l.ends_with('\n')
            })
            .count();
        let n = part.readings.len();
        assert!(
            n == complete || n == complete + 1,
            "cut at {cut}: {n} vs {complete}"
        );
    }
}

#[test]
fn records_inside_correlations_are_not_counted_twice() {
    let xml = r#"<HealthData locale="en_US">
 <Record type="HKQuantityTypeIdentifierBloodPressureSystolic" sourceName="Cuff" unit="mmHg" startDate="2020-01-01 08:00:00 +0000" endDate="2020-01-01 08:00:00 +0000" value="120"/>
 <Record type="HKQuantityTypeIdentifierBloodPressureDiastolic" sourceName="Cuff" unit="mmHg" startDate="2020-01-01 08:00:00 +0000" endDate="2020-01-01 08:00:00 +0000" value="80"/>
 <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Cuff" startDate="2020-01-01 08:00:00 +0000" endDate="2020-01-01 08:00:00 +0000">
  <Record type="HKQuantityTypeIdentifierBloodPressureSystolic" sourceName="Cuff" unit="mmHg" startDate="2020-01-01 08:00:00 +0000" endDate="2020-01-01 08:00:00 +0000" value="120"/>
  <Record type="HKQuantityTypeIdentifierBloodPressureDiastolic" sourceName="Cuff" unit="mmHg" startDate="2020-01-01 08:00:00 +0000" endDate="2020-01-01 08:00:00 +0000" value="80"/>
 </Correlation>
 <Record type="HKQuantityTypeIdentifierOxygenSaturation" sourceName="Watch" unit="%" startDate="2020-01-01 08:01:00 +0000" endDate="2020-01-01 08:01:00 +0000" value="0.97"/>
 <Record type="HKQuantityTypeIdentifierBodyTemperature" sourceName="Watch" unit="degF" startDate="2020-01-01 08:02:00 +0000" endDate="2020-01-01 08:02:00 +0000" value="98.6"/>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" startDate="2020-01-01 08:03:00 +0000" endDate="2020-01-01 08:03:00 +0000" value="400"/>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" startDate="yesterday" endDate="2020-01-01 08:03:00 +0000" value="60"/>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Watch" startDate="2020-01-01 01:00:00 +0000" endDate="2020-01-01 02:00:00 +0000" value="HKCategoryValueSleepAnalysisAsleepREM"/>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Watch" startDate="2020-01-01 00:00:00 +0000" endDate="2020-01-01 07:00:00 +0000" value="HKCategoryValueSleepAnalysisInBed"/>
</HealthData>
"#;
    let all = read(xml.as_bytes());
    assert!(all.error.is_none(), "{:?}", all.error);
    let metrics: Vec<Metric> = all.readings.iter().map(|r| r.metric()).collect();
    assert_eq!(
        metrics,
        [
            Metric::BloodPressureSystolic,
            Metric::BloodPressureDiastolic,
            Metric::Spo2,
            Metric::BodyTemperature,
            Metric::SleepStage,
        ]
    );
    assert_eq!(all.readings[2].value(), Value::Scalar(97.0));
    assert!(matches!(all.readings[3].value(), Value::Scalar(c) if (c - 37.0).abs() < 1e-9));
    assert_eq!(all.summary.skipped(SkipReason::OutOfRange), 1);
    assert_eq!(all.summary.skipped(SkipReason::Unparsable), 1);
    assert_eq!(all.summary.skipped(SkipReason::UnknownType), 1);
}

#[test]
fn not_an_export() {
    let all = read(b"<gpx><trk/></gpx>");
    assert!(
        matches!(all.error, Some(ImportError::Malformed { .. })),
        "{:?}",
        all.error
    );
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, deflated).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn export_archive_streams_its_export_xml() {
    let xml = std::fs::read(ZIP_XML).unwrap();
    let gpx = std::fs::read(ZIP_GPX).unwrap();
    let archive = zip_of(&[
        (
            "apple_health_export/workout-routes/route_2019-06-11_3.00pm.gpx",
            &gpx,
        ),
        (EXPORT_XML_ENTRY, &xml),
    ]);
    let from_zip = collect(open_zip(Cursor::new(&archive), "export.zip", options()).unwrap());
    let direct = read(&xml);
    assert!(from_zip.error.is_none(), "{:?}", from_zip.error);
    assert_eq!(from_zip.readings, direct.readings);
    let heart = String::from_utf8_lossy(&xml)
        .matches("HKQuantityTypeIdentifierHeartRate")
        .count();
    assert_eq!(from_zip.readings.len(), heart);

    // A damaged entry is caught by its CRC.
    let at = archive
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .unwrap();
    let mut damaged = archive.clone();
    let crc_field = at + 16;
    damaged[crc_field] ^= 0xFF;
    let result = collect(open_zip(Cursor::new(&damaged), "export.zip", options()).unwrap());
    assert!(
        matches!(result.error, Some(ImportError::Io { .. })),
        "{:?}",
        result.error
    );

    let none = zip_of(&[("readme.txt", b"hello")]);
    assert!(matches!(
        open_zip(Cursor::new(none), "x.zip", options()),
        Err(ImportError::MissingEntry { .. })
    ));
    let truncated = &archive[..archive.len() / 2];
    assert!(matches!(
        open_zip(Cursor::new(truncated), "x.zip", options()),
        Err(ImportError::Archive { .. })
    ));
}
