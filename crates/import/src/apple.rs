//! Apple Health `export.xml`, read as a stream of XML events (never held in memory).
//!
//! Readings come from top-level `<Record>` elements and from the `<Location>` points of
//! workout routes written inline in `<WorkoutRoute>`. Records inside a `<Correlation>`
//! (blood-pressure pairs, food) are left out: the export repeats each of them at the top
//! level, so reading both would count them twice. Other elements (`Me`, `Workout`
//! totals, `ActivitySummary`, metadata) carry no readings and are passed over without
//! being counted. Each record is stamped with its `startDate`.
//!
//! | HealthKit type | metric | units accepted |
//! |---|---|---|
//! | `HKQuantityTypeIdentifierHeartRate` | heart_rate | `count/min` |
//! | `HKQuantityTypeIdentifierRestingHeartRate` | resting_heart_rate | `count/min` |
//! | `HKQuantityTypeIdentifierStepCount` | steps | `count` |
//! | `HKQuantityTypeIdentifierDistanceWalkingRunning` | distance | `m`, `km`, `mi`, `ft` |
//! | `HKQuantityTypeIdentifierActiveEnergyBurned` | calories | `kcal`, `Cal`, `kJ` |
//! | `HKQuantityTypeIdentifierOxygenSaturation` | spo2 | `%` (HealthKit writes a fraction: 0.97 is 97 %) |
//! | `HKQuantityTypeIdentifierBloodPressureSystolic` / `Diastolic` | blood_pressure_systolic / diastolic | `mmHg` |
//! | `HKQuantityTypeIdentifierBodyTemperature` | body_temperature | `degC`, `degF` |
//! | `HKQuantityTypeIdentifierRespiratoryRate` | respiratory_rate | `count/min` |
//! | `HKQuantityTypeIdentifierBodyMass` | weight | `kg`, `lb`, `g` |
//! | `HKCategoryTypeIdentifierSleepAnalysis` | sleep_stage | values `Awake`, `AsleepCore` (light), `AsleepDeep`, `AsleepREM`; `InBed` and unspecified `Asleep` have no stage and are skipped |
//!
//! Any other record type is skipped as `unknown_type`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use vitalis_model::{Metric, Position, Reading, SleepStage, Timestamp, Value};

use crate::convert::{ImportOptions, item, parse_apple_datetime, scalar_reading};
use crate::error::{ImportError, Location, Result};
use crate::item::{Item, Skip, SkipReason};
use crate::summary::{Tracker, importer};

/// At most this many distinct `sourceName` labels are kept for reuse.
const MAX_CACHED_SOURCES: usize = 1024;

/// The readings of one Apple Health `export.xml`, in document order.
pub struct AppleHealthXml<R> {
    reader: quick_xml::Reader<R>,
    buf: Vec<u8>,
    file: String,
    options: ImportOptions,
    sources: HashMap<String, Arc<str>>,
    /// Open elements.
    depth: usize,
    /// Whether the root element was `<HealthData>`.
    seen_root: bool,
    /// Depth of the `<Correlation>` being read, if any.
    correlation: Option<usize>,
    /// Source label of the `<WorkoutRoute>` being read.
    route_source: Option<Arc<str>>,
    tracker: Tracker,
}

impl AppleHealthXml<BufReader<File>> {
    /// Opens the `export.xml` at `path`.
    pub fn open(path: impl AsRef<Path>, options: ImportOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: name.clone(),
            at: Location::Byte(0),
            source,
        })?;
        Ok(AppleHealthXml::new(
            BufReader::with_capacity(64 * 1024, file),
            name,
            options,
        ))
    }
}

impl<R: BufRead> AppleHealthXml<R> {
    /// Reads `input`, named `file` in errors.
    pub fn new(input: R, file: impl Into<String>, options: ImportOptions) -> Self {
        AppleHealthXml {
            reader: quick_xml::Reader::from_reader(input),
            buf: Vec::with_capacity(1024),
            file: file.into(),
            options,
            sources: HashMap::new(),
            depth: 0,
            seen_root: false,
            correlation: None,
            route_source: None,
            tracker: Tracker::default(),
        }
    }

    fn next_item(&mut self) -> Option<Result<Item>> {
        // The event borrows the buffer; taking it out lets the handlers borrow `self`.
        let mut buf = std::mem::take(&mut self.buf);
        let next = self.next_from(&mut buf);
        self.buf = buf;
        next
    }

    fn next_from(&mut self, buf: &mut Vec<u8>) -> Option<Result<Item>> {
        loop {
            let start = self.reader.buffer_position();
            buf.clear();
            let event = match self.reader.read_event_into(buf) {
                Ok(event) => event,
                Err(err) => return Some(Err(self.xml_error(err))),
            };
            let at = Location::Byte(start);
            let (element, opens) = match event {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.correlation.is_some_and(|d| d > self.depth) {
                        self.correlation = None;
                    }
                    continue;
                }
                Event::Eof => {
                    if self.depth > 0 || !self.seen_root {
                        return Some(Err(ImportError::Truncated {
                            file: self.file.clone(),
                            at,
                            detail: format!(
                                "the document ends with {} element(s) still open",
                                self.depth.max(1)
                            ),
                        }));
                    }
                    return None;
                }
                _ => continue,
            };
            if !self.seen_root {
                if element.name().as_ref() != "HealthData" {
                    return Some(Err(ImportError::Malformed {
                        file: self.file.clone(),
                        at,
                        detail: format!(
                            "the root element is <{}>, not <HealthData>",
                            element.name().as_ref()
                        ),
                    }));
                }
                self.seen_root = true;
            } else if self.depth == 0 {
                return Some(Err(ImportError::Malformed {
                    file: self.file.clone(),
                    at,
                    detail: "content after </HealthData>".to_owned(),
                }));
            }
            let result = match element.name().as_ref() {
                "Record" if self.correlation.is_none() => Some(self.record(&element, at)),
                "Location" => Some(self.location(&element, at)),
                "Correlation" if opens => {
                    self.correlation.get_or_insert(self.depth + 1);
                    None
                }
                "WorkoutRoute" => {
                    let source = match attributes(&element, &["sourceName"]) {
                        Ok([name]) => name,
                        Err(_) => None,
                    };
                    self.route_source = Some(self.source(source.as_deref()));
                    None
                }
                _ => None,
            };
            if opens {
                self.depth += 1;
            }
            match result {
                Some(Ok(item)) => return Some(Ok(item)),
                Some(Err(err)) => return Some(Err(err)),
                None => {}
            }
        }
    }

    fn xml_error(&self, err: XmlError) -> ImportError {
        let at = Location::Byte(self.reader.error_position());
        match err {
            XmlError::Io(source) => ImportError::Io {
                file: self.file.clone(),
                at,
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            XmlError::Syntax(
                e @ (SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedTag
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue),
            ) => ImportError::Truncated {
                file: self.file.clone(),
                at,
                detail: e.to_string(),
            },
            other => ImportError::Malformed {
                file: self.file.clone(),
                at,
                detail: other.to_string(),
            },
        }
    }

    fn source(&mut self, name: Option<&str>) -> Arc<str> {
        let name = name.unwrap_or("");
        if let Some(label) = self.sources.get(name) {
            return Arc::clone(label);
        }
        let label = self.options.source_label("apple_health", Some(name));
        if self.sources.len() < MAX_CACHED_SOURCES {
            self.sources.insert(name.to_owned(), Arc::clone(&label));
        }
        label
    }

    fn malformed(&self, at: Location, err: impl std::fmt::Display) -> ImportError {
        ImportError::Malformed {
            file: self.file.clone(),
            at,
            detail: err.to_string(),
        }
    }

    fn record(&mut self, element: &BytesStart<'_>, at: Location) -> Result<Item> {
        let [kind, unit, value, start, source] = attributes(
            element,
            &["type", "unit", "value", "startDate", "sourceName"],
        )
        .map_err(|e| self.malformed(at, e))?;
        let source = self.source(source.as_deref());
        let kind = kind.unwrap_or_default();
        let Some(mapping) = record_mapping(&kind) else {
            return Ok(skip(
                SkipReason::UnknownType,
                at,
                format!("record type {kind:?} has no metric in the catalog"),
            ));
        };
        let start = start.unwrap_or_default();
        let Some(t) = parse_apple_datetime(&start) else {
            return Ok(skip(
                SkipReason::Unparsable,
                at,
                format!("startDate {start:?} is not YYYY-MM-DD hh:mm:ss ±hhmm"),
            ));
        };
        let value = value.unwrap_or_default();
        let result = match mapping {
            Mapping::Quantity(metric) => {
                let Ok(v) = value.trim().parse::<f64>() else {
                    return Ok(skip(
                        SkipReason::Unparsable,
                        at,
                        format!("{kind} value {value:?} is not a number"),
                    ));
                };
                let unit = unit.unwrap_or_default();
                scalar_reading(metric, t, v, model_unit(&unit), self.options.now)
            }
            Mapping::Sleep => match sleep_stage(&value) {
                Some(stage) => Timestamp::new(t).and_then(|t| {
                    Reading::new(
                        Metric::SleepStage,
                        t,
                        Value::SleepStage(stage),
                        self.options.now,
                    )
                }),
                None => {
                    return Ok(skip(
                        SkipReason::UnknownType,
                        at,
                        format!("sleep analysis value {value:?} is not a sleep stage"),
                    ));
                }
            },
        };
        Ok(item(result, &source, None, at))
    }

    fn location(&mut self, element: &BytesStart<'_>, at: Location) -> Result<Item> {
        let [date, lat, lon, accuracy] = attributes(
            element,
            &["date", "latitude", "longitude", "horizontalAccuracy"],
        )
        .map_err(|e| self.malformed(at, e))?;
        let source = match &self.route_source {
            Some(source) => Arc::clone(source),
            None => self.source(None),
        };
        let date = date.unwrap_or_default();
        let Some(t) = parse_apple_datetime(&date) else {
            return Ok(skip(
                SkipReason::Unparsable,
                at,
                format!("location date {date:?} is not YYYY-MM-DD hh:mm:ss ±hhmm"),
            ));
        };
        let number = |name: &str, text: Option<String>| {
            let text = text.unwrap_or_default();
            text.trim().parse::<f64>().map_err(|_| {
                skip(
                    SkipReason::Unparsable,
                    at,
                    format!("location {name} {text:?} is not a number"),
                )
            })
        };
        let position = match (number("latitude", lat), number("longitude", lon)) {
            (Ok(lat), Ok(lon)) => Position {
                lat,
                lon,
                accuracy: accuracy.and_then(|a| a.trim().parse().ok()),
            },
            (Err(skipped), _) | (_, Err(skipped)) => return Ok(skipped),
        };
        let result = Timestamp::new(t).and_then(|t| {
            Reading::new(
                Metric::Location,
                t,
                Value::Position(position),
                self.options.now,
            )
        });
        Ok(item(result, &source, None, at))
    }
}

importer!(AppleHealthXml<R: BufRead>);

fn skip(reason: SkipReason, at: Location, detail: String) -> Item {
    Item::Skipped(Skip::new(reason, at, detail))
}

/// The values of the attributes `names`, unescaped, in that order.
fn attributes<const N: usize>(
    element: &BytesStart<'_>,
    names: &[&str; N],
) -> std::result::Result<[Option<String>; N], XmlError> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for attribute in element.attributes() {
        let attribute = attribute?;
        if let Some(i) = names.iter().position(|n| *n == attribute.key.as_ref()) {
            out[i] = Some(
                attribute
                    .normalized_value(XmlVersion::Implicit1_0)?
                    .into_owned(),
            );
        }
    }
    Ok(out)
}

enum Mapping {
    Quantity(Metric),
    Sleep,
}

fn record_mapping(kind: &str) -> Option<Mapping> {
    if let Some(quantity) = kind.strip_prefix("HKQuantityTypeIdentifier") {
        let metric = match quantity {
            "HeartRate" => Metric::HeartRate,
            "RestingHeartRate" => Metric::RestingHeartRate,
            "StepCount" => Metric::Steps,
            "DistanceWalkingRunning" => Metric::Distance,
            "ActiveEnergyBurned" => Metric::Calories,
            "OxygenSaturation" => Metric::Spo2,
            "BloodPressureSystolic" => Metric::BloodPressureSystolic,
            "BloodPressureDiastolic" => Metric::BloodPressureDiastolic,
            "BodyTemperature" => Metric::BodyTemperature,
            "RespiratoryRate" => Metric::RespiratoryRate,
            "BodyMass" => Metric::Weight,
            _ => return None,
        };
        return Some(Mapping::Quantity(metric));
    }
    (kind == "HKCategoryTypeIdentifierSleepAnalysis").then_some(Mapping::Sleep)
}

/// HealthKit's unit spelling → the model's.
fn model_unit(unit: &str) -> &str {
    match unit {
        "count/min" => "/min",
        "count" => "{count}",
        // HealthKit's percent unit holds a fraction (0.97 for 97 %).
        "%" => "1",
        "degC" => "Cel",
        "degF" => "[degF]",
        other => other,
    }
}

fn sleep_stage(value: &str) -> Option<SleepStage> {
    match value.strip_prefix("HKCategoryValueSleepAnalysis")? {
        "Awake" => Some(SleepStage::Awake),
        "AsleepCore" => Some(SleepStage::Light),
        "AsleepDeep" => Some(SleepStage::Deep),
        "AsleepREM" => Some(SleepStage::Rem),
        _ => None,
    }
}
