//! FHIR R4 export: a `Bundle` of type `collection` whose entries are `Observation`s,
//! written entry by entry as JSON.
//!
//! Every Observation has `status: final`, a `category` from the R4 observation-category
//! code system, a `code`, `subject` (`Patient/{id}`), `effectiveDateTime` (UTC,
//! milliseconds) and, where the source is known, `device` as an identifier in
//! [`DEVICE_SYSTEM`]. By metric:
//!
//! - numbers: `code` is the catalog's LOINC code, the value a `valueQuantity` in the
//!   canonical UCUM unit (`system` UCUM, `code` = `unit` = the UCUM code). Category
//!   `vital-signs` for the vital signs (heart rate, resting heart rate, R-R interval,
//!   SpO2, blood pressure, body temperature, respiratory rate, weight) and `activity`
//!   for steps, distance and energy. The vital signs follow the rules of the R4
//!   vital-signs profile (category, LOINC code, UCUM quantity, subject, effective time)
//!   without naming the profile in `meta`.
//! - blood pressure: a systolic and a diastolic reading with the same time and source
//!   become one Observation coded with the LOINC panel 85354-9 and two `component`s,
//!   8480-6 and 8462-4, as the vital-signs blood-pressure profile has it. Pairs are
//!   found among the readings of one time stamp as they arrive, so input in time order
//!   (as the store pages it) pairs every pair; any reading without its partner is an
//!   Observation of its own, coded 8480-6 or 8462-4.
//! - sleep stage and location, which have no LOINC code for a single reading: `code`
//!   from [`METRIC_SYSTEM`] with the metric's wire name, category `activity`. A sleep
//!   stage is a `valueCodeableConcept` from [`SLEEP_STAGE_SYSTEM`] (`awake`, `light`,
//!   `deep`, `rem`); a location has no value of its own but `component`s `latitude` and
//!   `longitude` (UCUM `deg`) and, when given, `accuracy` (UCUM `m`), coded in
//!   [`METRIC_SYSTEM`].
//! - clinical notes: each laboratory result is an Observation with category
//!   `laboratory`, its LOINC code (with the hospital's display as `code.text`), a
//!   `valueQuantity` in the given UCUM unit, the writing institution as `performer`
//!   (an identifier in [`INSTITUTION_SYSTEM`]) and the note's text as `note`. A note
//!   without results is one Observation coded `clinical_note` in [`METRIC_SYSTEM`],
//!   category `exam`, with the text as `valueString`.
//!
//! FHIR's JSON forbids empty arrays, so a bundle without entries has no `entry`.

use std::io::Write;

use serde::Serialize;
use vitalis_model::{ClinicalNote, Metric, SleepStage, Timestamp, Value, ValueKind};

use crate::time::iso8601;
use crate::{ExportError, ExportReading, Result, finite};

/// LOINC's code system.
pub const LOINC: &str = "http://loinc.org";
/// UCUM's code system.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// FHIR R4's observation-category code system.
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// Vitalis metrics without a LOINC code, by wire name (and the location components).
pub const METRIC_SYSTEM: &str = "urn:vitalis:fhir:metric";
/// Vitalis sleep stages, by wire name.
pub const SLEEP_STAGE_SYSTEM: &str = "urn:vitalis:fhir:sleep-stage";
/// Vitalis device and import-source ids.
pub const DEVICE_SYSTEM: &str = "urn:vitalis:fhir:device";
/// Vitalis institution ids.
pub const INSTITUTION_SYSTEM: &str = "urn:vitalis:fhir:institution";
/// LOINC's blood pressure panel.
pub const BLOOD_PRESSURE_PANEL: &str = "85354-9";

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

#[derive(Serialize)]
struct CodeableConcept<'a> {
    coding: [Coding<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

fn concept<'a>(system: &'a str, code: &'a str, text: Option<&'a str>) -> CodeableConcept<'a> {
    CodeableConcept {
        coding: [Coding {
            system,
            code,
            display: None,
        }],
        text,
    }
}

#[derive(Serialize)]
struct Quantity<'a> {
    value: f64,
    unit: &'a str,
    system: &'static str,
    code: &'a str,
}

fn quantity(value: f64, ucum: &str) -> Quantity<'_> {
    Quantity {
        value,
        unit: ucum,
        system: UCUM,
        code: ucum,
    }
}

#[derive(Serialize)]
struct Identifier<'a> {
    system: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct Reference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<Identifier<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Component<'a> {
    code: CodeableConcept<'a>,
    value_quantity: Quantity<'a>,
}

#[derive(Serialize)]
struct Annotation<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Observation<'a> {
    resource_type: &'static str,
    status: &'static str,
    category: [CodeableConcept<'a>; 1],
    code: CodeableConcept<'a>,
    subject: Reference<'a>,
    effective_date_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    performer: Option<[Reference<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<[Annotation<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "<[Component]>::is_empty")]
    component: Vec<Component<'a>>,
}

impl<'a> Observation<'a> {
    fn new(
        category: &'static str,
        code: CodeableConcept<'a>,
        subject: &'a str,
        effective: &'a str,
    ) -> Observation<'a> {
        Observation {
            resource_type: "Observation",
            status: "final",
            category: [concept(OBSERVATION_CATEGORY, category, None)],
            code,
            subject: Reference {
                reference: Some(subject),
                identifier: None,
            },
            effective_date_time: effective,
            performer: None,
            value_quantity: None,
            value_codeable_concept: None,
            value_string: None,
            note: None,
            device: None,
            component: Vec::new(),
        }
    }

    fn with_device(mut self, source: &'a str) -> Observation<'a> {
        if !source.is_empty() {
            self.device = Some(Reference {
                reference: None,
                identifier: Some(Identifier {
                    system: DEVICE_SYSTEM,
                    value: source,
                }),
            });
        }
        self
    }
}

/// The observation category of a metric's readings.
pub fn category(metric: Metric) -> &'static str {
    match metric {
        Metric::Steps
        | Metric::Distance
        | Metric::Calories
        | Metric::SleepStage
        | Metric::Location => "activity",
        _ => "vital-signs",
    }
}

fn metric_code(metric: Metric) -> CodeableConcept<'static> {
    let spec = metric.spec();
    match spec.loinc {
        Some(loinc) => concept(LOINC, loinc, Some(spec.label)),
        None => concept(METRIC_SYSTEM, spec.name, Some(spec.label)),
    }
}

fn stage_label(stage: SleepStage) -> &'static str {
    match stage {
        SleepStage::Awake => "Awake",
        SleepStage::Light => "Light sleep",
        SleepStage::Deep => "Deep sleep",
        SleepStage::Rem => "REM sleep",
    }
}

/// A blood-pressure reading waiting for its partner.
struct PendingPressure {
    metric: Metric,
    value: f64,
    source: String,
}

/// The Bundle's byte stream.
struct Entries<W: Write> {
    sink: W,
    count: u64,
    buf: Vec<u8>,
}

impl<W: Write> Entries<W> {
    fn emit(&mut self, observation: &Observation<'_>) -> Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(if self.count == 0 {
            br#","entry":[{"resource":"#
        } else {
            br#",{"resource":"#
        });
        serde_json::to_writer(&mut self.buf, observation).map_err(std::io::Error::from)?;
        self.buf.push(b'}');
        self.sink.write_all(&self.buf)?;
        self.count += 1;
        Ok(())
    }
}

/// Streams a Bundle of Observations into `W`.
pub struct FhirWriter<W: Write> {
    out: Entries<W>,
    subject: String,
    /// Blood-pressure readings of `pending_t`, not yet paired.
    pending: Vec<PendingPressure>,
    pending_t: Option<Timestamp>,
}

impl<W: Write> FhirWriter<W> {
    /// Opens the Bundle; every Observation's subject is `Patient/{patient}`.
    pub fn new(mut sink: W, patient: &str) -> Result<FhirWriter<W>> {
        sink.write_all(br#"{"resourceType":"Bundle","type":"collection""#)?;
        Ok(FhirWriter {
            out: Entries {
                sink,
                count: 0,
                buf: Vec::with_capacity(1024),
            },
            subject: format!("Patient/{patient}"),
            pending: Vec::new(),
            pending_t: None,
        })
    }

    /// Observations written so far.
    pub fn entries(&self) -> u64 {
        self.out.count
    }

    /// Adds one reading (blood pressure may wait for its partner of the same time).
    pub fn write(&mut self, r: &ExportReading<'_>) -> Result<()> {
        if self.pending_t.is_some_and(|t| t != r.t) {
            self.flush_pressure()?;
        }
        let wrong_kind = || ExportError::WrongKind {
            metric: r.metric,
            t: r.t.millis(),
        };
        let spec = r.metric.spec();
        if matches!(
            r.metric,
            Metric::BloodPressureSystolic | Metric::BloodPressureDiastolic
        ) {
            let Value::Scalar(v) = r.value else {
                return Err(wrong_kind());
            };
            self.pending.push(PendingPressure {
                metric: r.metric,
                value: finite(v, r.metric, r.t)?,
                source: r.source.to_owned(),
            });
            self.pending_t = Some(r.t);
            return Ok(());
        }
        let effective = iso8601(r.t);
        let mut obs = Observation::new(
            category(r.metric),
            metric_code(r.metric),
            &self.subject,
            &effective,
        )
        .with_device(r.source);
        match (spec.kind, r.value) {
            (ValueKind::Scalar, Value::Scalar(v)) => {
                obs.value_quantity = Some(quantity(finite(v, r.metric, r.t)?, spec.unit));
            }
            (ValueKind::SleepStage, Value::SleepStage(stage)) => {
                obs.value_codeable_concept = Some(CodeableConcept {
                    coding: [Coding {
                        system: SLEEP_STAGE_SYSTEM,
                        code: stage.name(),
                        display: Some(stage_label(stage)),
                    }],
                    text: None,
                });
            }
            (ValueKind::Location, Value::Position(p)) => {
                let mut part = |code: &'static str, v: f64, unit: &'static str| -> Result<()> {
                    obs.component.push(Component {
                        code: concept(METRIC_SYSTEM, code, None),
                        value_quantity: quantity(finite(v, r.metric, r.t)?, unit),
                    });
                    Ok(())
                };
                part("latitude", p.lat, "deg")?;
                part("longitude", p.lon, "deg")?;
                if let Some(a) = p.accuracy {
                    part("accuracy", a, "m")?;
                }
            }
            _ => return Err(wrong_kind()),
        }
        self.out.emit(&obs)
    }

    /// Writes the waiting blood-pressure readings: pairs as panels, the rest alone.
    fn flush_pressure(&mut self) -> Result<()> {
        let Some(t) = self.pending_t.take() else {
            return Ok(());
        };
        let pending = std::mem::take(&mut self.pending);
        let effective = iso8601(t);
        let mut used = vec![false; pending.len()];
        for i in 0..pending.len() {
            if used[i] {
                continue;
            }
            used[i] = true;
            let reading = &pending[i];
            let partner = (i + 1..pending.len()).find(|&j| {
                !used[j]
                    && pending[j].metric != reading.metric
                    && pending[j].source == reading.source
            });
            let obs = match partner {
                Some(j) => {
                    used[j] = true;
                    let (sys, dia) = if reading.metric == Metric::BloodPressureSystolic {
                        (reading, &pending[j])
                    } else {
                        (&pending[j], reading)
                    };
                    let mut obs = Observation::new(
                        "vital-signs",
                        concept(LOINC, BLOOD_PRESSURE_PANEL, Some("Blood pressure")),
                        &self.subject,
                        &effective,
                    )
                    .with_device(&reading.source);
                    for part in [sys, dia] {
                        let spec = part.metric.spec();
                        obs.component.push(Component {
                            code: metric_code(part.metric),
                            value_quantity: quantity(part.value, spec.unit),
                        });
                    }
                    obs
                }
                None => {
                    let mut obs = Observation::new(
                        "vital-signs",
                        metric_code(reading.metric),
                        &self.subject,
                        &effective,
                    )
                    .with_device(&reading.source);
                    obs.value_quantity = Some(quantity(reading.value, reading.metric.spec().unit));
                    obs
                }
            };
            self.out.emit(&obs)?;
        }
        // Keep the allocation for the next time stamp.
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// Adds a clinical note: one Observation per result, or one for a note of text only.
    pub fn write_note(&mut self, note: &ClinicalNote) -> Result<()> {
        let t = Timestamp::new(note.t).map_err(|_| ExportError::NotFinite {
            metric: "clinical note time".into(),
            t: note.t,
        })?;
        let effective = iso8601(t);
        let performer = || {
            [Reference {
                reference: None,
                identifier: Some(Identifier {
                    system: INSTITUTION_SYSTEM,
                    value: &note.institution,
                }),
            }]
        };
        let text = note.note.trim();
        if note.results.is_empty() {
            if text.is_empty() {
                // Nothing to say; FHIR strings may not be empty.
                return Ok(());
            }
            let mut obs = Observation::new(
                "exam",
                concept(METRIC_SYSTEM, "clinical_note", Some("Clinical note")),
                &self.subject,
                &effective,
            );
            obs.performer = Some(performer());
            obs.value_string = Some(text);
            return self.out.emit(&obs);
        }
        for result in &note.results {
            let display = (!result.display.trim().is_empty()).then_some(result.display.as_str());
            let mut obs = Observation::new(
                "laboratory",
                concept(LOINC, &result.loinc, display),
                &self.subject,
                &effective,
            );
            obs.performer = Some(performer());
            obs.value_quantity = Some(quantity(
                finite(result.value, &result.loinc, t)?,
                &result.unit,
            ));
            if !text.is_empty() {
                obs.note = Some([Annotation { text }]);
            }
            self.out.emit(&obs)?;
        }
        Ok(())
    }

    /// The sink, e.g. to take the bytes written so far out of a `Vec<u8>` between pages.
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.out.sink
    }

    /// Passes every complete entry on to the sink (blood pressure of the latest time
    /// stamp may still wait for its partner).
    pub fn flush(&mut self) -> Result<()> {
        self.out.sink.flush()?;
        Ok(())
    }

    /// Writes what waits, closes the Bundle, and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.flush_pressure()?;
        let mut out = self.out;
        out.sink
            .write_all(if out.count == 0 { b"}" } else { b"]}" })?;
        out.sink.flush()?;
        Ok(out.sink)
    }
}

#[cfg(test)]
mod tests;
