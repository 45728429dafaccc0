//! Unit tests of the FHIR writer: the shape of each kind of Observation, blood-pressure
//! pairing, clinical notes, and the empty Bundle.

use serde_json::{Value as Json, json};
use vitalis_model::{LabResult, Position};

use super::*;

fn at(ms: i64) -> Timestamp {
    Timestamp::new(ms).unwrap()
}

fn reading(metric: Metric, t: i64, value: Value, source: &str) -> ExportReading<'_> {
    ExportReading {
        metric,
        t: at(t),
        value,
        source,
    }
}

fn bundle(readings: &[ExportReading<'_>], notes: &[ClinicalNote]) -> Json {
    let mut w = FhirWriter::new(Vec::new(), "p1").unwrap();
    for r in readings {
        w.write(r).unwrap();
    }
    for n in notes {
        w.write_note(n).unwrap();
    }
    serde_json::from_slice(&w.finish().unwrap()).unwrap()
}

fn resources(bundle: &Json) -> Vec<Json> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect()
}

#[test]
fn heart_rate_is_a_vital_sign_with_loinc_and_ucum() {
    let b = bundle(
        &[reading(
            Metric::HeartRate,
            1_459_497_245_000,
            Value::Scalar(91.0),
            "w1",
        )],
        &[],
    );
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "collection");
    let obs = &resources(&b)[0];
    assert_eq!(
        obs,
        &json!({
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}], "text": "Heart rate"},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2016-04-01T07:54:05.000Z",
            "valueQuantity": {"value": 91.0, "unit": "/min", "system": UCUM, "code": "/min"},
            "device": {"identifier": {"system": DEVICE_SYSTEM, "value": "w1"}}
        })
    );
}

#[test]
fn steps_are_activity() {
    let b = bundle(&[reading(Metric::Steps, 0, Value::Scalar(12.0), "w")], &[]);
    let obs = &resources(&b)[0];
    assert_eq!(obs["category"][0]["coding"][0]["code"], "activity");
    assert_eq!(obs["code"]["coding"][0]["code"], "55423-8");
    assert_eq!(obs["valueQuantity"]["code"], "{steps}");
}

#[test]
fn blood_pressure_pairs_become_one_panel() {
    let sys = Metric::BloodPressureSystolic;
    let dia = Metric::BloodPressureDiastolic;
    let b = bundle(
        &[
            // In the store's order: by time, then metric name, then device.
            reading(dia, 1000, Value::Scalar(80.0), "a"),
            reading(dia, 1000, Value::Scalar(70.0), "b"),
            reading(sys, 1000, Value::Scalar(120.0), "a"),
            reading(Metric::HeartRate, 1000, Value::Scalar(60.0), "a"),
            // Alone at its time: stays single.
            reading(sys, 2000, Value::Scalar(130.0), "a"),
            // Same time, other sources: not paired.
            reading(sys, 3000, Value::Scalar(125.0), "a"),
            reading(dia, 3000, Value::Scalar(85.0), "c"),
        ],
        &[],
    );
    let obs = resources(&b);
    assert_eq!(obs.len(), 6, "7 readings, one pair");
    let panels: Vec<&Json> = obs
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == BLOOD_PRESSURE_PANEL)
        .collect();
    assert_eq!(panels.len(), 1);
    let panel = panels[0];
    assert_eq!(panel["category"][0]["coding"][0]["code"], "vital-signs");
    assert!(panel.get("valueQuantity").is_none());
    assert_eq!(panel["component"][0]["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(panel["component"][0]["valueQuantity"]["value"], 120.0);
    assert_eq!(panel["component"][1]["code"]["coding"][0]["code"], "8462-4");
    assert_eq!(panel["component"][1]["valueQuantity"]["value"], 80.0);
    assert_eq!(panel["component"][1]["valueQuantity"]["code"], "mm[Hg]");
    assert_eq!(panel["device"]["identifier"]["value"], "a");
    let singles: Vec<(&str, f64)> = obs
        .iter()
        .filter(|o| {
            let code = o["code"]["coding"][0]["code"].as_str().unwrap();
            code == "8480-6" || code == "8462-4"
        })
        .map(|o| {
            (
                o["code"]["coding"][0]["code"].as_str().unwrap(),
                o["valueQuantity"]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        singles,
        [
            ("8462-4", 70.0),
            ("8480-6", 130.0),
            ("8480-6", 125.0),
            ("8462-4", 85.0)
        ]
    );
}

#[test]
fn sleep_stage_and_location() {
    let b = bundle(
        &[
            reading(
                Metric::SleepStage,
                0,
                Value::SleepStage(SleepStage::Deep),
                "w",
            ),
            reading(
                Metric::Location,
                0,
                Value::Position(Position {
                    lat: 52.1,
                    lon: 5.1,
                    accuracy: Some(8.0),
                }),
                "w",
            ),
        ],
        &[],
    );
    let obs = resources(&b);
    assert_eq!(
        obs[0]["code"]["coding"][0],
        json!({"system": METRIC_SYSTEM, "code": "sleep_stage"})
    );
    assert_eq!(
        obs[0]["valueCodeableConcept"]["coding"][0],
        json!({"system": SLEEP_STAGE_SYSTEM, "code": "deep", "display": "Deep sleep"})
    );
    assert_eq!(obs[1]["code"]["coding"][0]["code"], "location");
    let parts: Vec<(&str, f64, &str)> = obs[1]["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"]["coding"][0]["code"].as_str().unwrap(),
                c["valueQuantity"]["value"].as_f64().unwrap(),
                c["valueQuantity"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("latitude", 52.1, "deg"),
            ("longitude", 5.1, "deg"),
            ("accuracy", 8.0, "m")
        ]
    );
}

#[test]
fn clinical_notes_are_laboratory_observations() {
    let note = ClinicalNote {
        t: 1_763_899_000_000,
        institution: "hosp1".into(),
        results: vec![
            LabResult {
                loinc: "2345-7".into(),
                display: "Glucose".into(),
                value: 5.4,
                unit: "mmol/L".into(),
            },
            LabResult {
                loinc: "4548-4".into(),
                display: "".into(),
                value: 5.9,
                unit: "%".into(),
            },
        ],
        note: "fasting".into(),
    };
    let text_only = ClinicalNote {
        results: vec![],
        note: "Follow-up in 3 months".into(),
        ..note.clone()
    };
    let b = bundle(&[], &[note, text_only]);
    let obs = resources(&b);
    assert_eq!(obs.len(), 3);
    assert_eq!(obs[0]["category"][0]["coding"][0]["code"], "laboratory");
    assert_eq!(
        obs[0]["code"],
        json!({"coding": [{"system": LOINC, "code": "2345-7"}], "text": "Glucose"})
    );
    assert_eq!(
        obs[0]["valueQuantity"],
        json!({"value": 5.4, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"})
    );
    assert_eq!(obs[0]["note"][0]["text"], "fasting");
    assert_eq!(
        obs[0]["performer"][0]["identifier"],
        json!({"system": INSTITUTION_SYSTEM, "value": "hosp1"})
    );
    assert!(obs[1]["code"].get("text").is_none());
    assert_eq!(obs[2]["category"][0]["coding"][0]["code"], "exam");
    assert_eq!(obs[2]["valueString"], "Follow-up in 3 months");
}

#[test]
fn empty_bundle_has_no_entry_array() {
    let b = bundle(&[], &[]);
    assert_eq!(b, json!({"resourceType": "Bundle", "type": "collection"}));
}

#[test]
fn refuses_non_finite_values() {
    let mut w = FhirWriter::new(Vec::new(), "p").unwrap();
    for metric in [Metric::HeartRate, Metric::BloodPressureSystolic] {
        let r = reading(metric, 0, Value::Scalar(f64::NAN), "w");
        assert!(matches!(w.write(&r), Err(ExportError::NotFinite { .. })));
    }
    let r = reading(
        Metric::HeartRate,
        0,
        Value::SleepStage(SleepStage::Rem),
        "w",
    );
    assert!(matches!(w.write(&r), Err(ExportError::WrongKind { .. })));
}
