//! CSV export (RFC 4180): a header line, then one line per reading, CRLF line ends,
//! fields quoted only when they hold a comma, a quote or a line break (quotes doubled).
//!
//! Columns: `time_utc` (ISO 8601, UTC, milliseconds), `metric` (wire name), `value` (in
//! the canonical unit; a sleep stage's name; empty for a location), `unit` (UCUM),
//! `source`, then `lat`, `lon` (degrees, WGS 84) and `accuracy` (metres), filled for
//! locations only. Numbers are written in the shortest form that reads back to the same
//! `f64`, never with an exponent.

use std::fmt::Write as _;
use std::io::Write;

use vitalis_model::Value;

use crate::time::push_iso8601;
use crate::{ExportError, ExportReading, Result, finite};

/// The header line's fields.
pub const HEADER: [&str; 8] = [
    "time_utc", "metric", "value", "unit", "source", "lat", "lon", "accuracy",
];

/// Streams readings as CSV into `W`; each reading is one `write_all` of its line.
pub struct CsvWriter<W: Write> {
    sink: W,
    line: String,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header line.
    pub fn new(mut sink: W) -> Result<CsvWriter<W>> {
        let mut line = HEADER.join(",");
        line.push_str("\r\n");
        sink.write_all(line.as_bytes())?;
        Ok(CsvWriter { sink, line })
    }

    /// Writes one reading's line.
    pub fn write(&mut self, r: &ExportReading<'_>) -> Result<()> {
        let line = &mut self.line;
        line.clear();
        push_iso8601(line, r.t);
        line.push(',');
        line.push_str(r.metric.name());
        line.push(',');
        let t = r.t;
        let spec = r.metric.spec();
        match (spec.kind, r.value) {
            (vitalis_model::ValueKind::Scalar, Value::Scalar(v)) => {
                let _ = write!(line, "{}", finite(v, r.metric, t)?);
                line.push(',');
                push_field(line, spec.unit);
                line.push(',');
                push_field(line, r.source);
                line.push_str(",,,");
            }
            (vitalis_model::ValueKind::SleepStage, Value::SleepStage(stage)) => {
                line.push_str(stage.name());
                line.push(',');
                push_field(line, spec.unit);
                line.push(',');
                push_field(line, r.source);
                line.push_str(",,,");
            }
            (vitalis_model::ValueKind::Location, Value::Position(p)) => {
                line.push(',');
                push_field(line, spec.unit);
                line.push(',');
                push_field(line, r.source);
                let _ = write!(
                    line,
                    ",{},{},",
                    finite(p.lat, r.metric, t)?,
                    finite(p.lon, r.metric, t)?
                );
                if let Some(a) = p.accuracy {
                    let _ = write!(line, "{}", finite(a, r.metric, t)?);
                }
            }
            _ => {
                return Err(ExportError::WrongKind {
                    metric: r.metric,
                    t: t.millis(),
                });
            }
        }
        line.push_str("\r\n");
        self.sink.write_all(line.as_bytes())?;
        Ok(())
    }

    /// The sink, e.g. to take the bytes written so far out of a `Vec<u8>` between pages.
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> Result<()> {
        self.sink.flush()?;
        Ok(())
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.sink.flush()?;
        Ok(self.sink)
    }
}

/// Appends `text` as one field, quoted when RFC 4180 requires it.
fn push_field(line: &mut String, text: &str) {
    if text.contains([',', '"', '\r', '\n']) {
        line.push('"');
        for c in text.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitalis_model::{Metric, Position, SleepStage, Timestamp};

    fn export(readings: &[ExportReading<'_>]) -> String {
        let mut w = CsvWriter::new(Vec::new()).unwrap();
        for r in readings {
            w.write(r).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::new(ms).unwrap()
    }

    #[test]
    fn every_kind_of_value() {
        let text = export(&[
            ExportReading {
                metric: Metric::BodyTemperature,
                t: at(1_459_497_245_001),
                value: Value::Scalar(36.6),
                source: "w1",
            },
            ExportReading {
                metric: Metric::SleepStage,
                t: at(1_459_497_245_001),
                value: Value::SleepStage(SleepStage::Rem),
                source: "w1",
            },
            ExportReading {
                metric: Metric::Location,
                t: at(1_459_497_245_001),
                value: Value::Position(Position {
                    lat: 52.1,
                    lon: -5.25,
                    accuracy: Some(8.0),
                }),
                source: "w1",
            },
            ExportReading {
                metric: Metric::Location,
                t: at(1_459_497_245_001),
                value: Value::Position(Position {
                    lat: 0.000_000_1,
                    lon: 5.0,
                    accuracy: None,
                }),
                source: "w1",
            },
        ]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "time_utc,metric,value,unit,source,lat,lon,accuracy"
        );
        assert_eq!(
            lines[1],
            "2016-04-01T07:54:05.001Z,body_temperature,36.6,Cel,w1,,,"
        );
        assert_eq!(
            lines[2],
            "2016-04-01T07:54:05.001Z,sleep_stage,rem,{stage},w1,,,"
        );
        assert_eq!(
            lines[3],
            "2016-04-01T07:54:05.001Z,location,,deg,w1,52.1,-5.25,8"
        );
        assert_eq!(
            lines[4],
            "2016-04-01T07:54:05.001Z,location,,deg,w1,0.0000001,5,"
        );
        assert_eq!(lines[5], "");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn quotes_sources_that_need_it() {
        let text = export(&[ExportReading {
            metric: Metric::Steps,
            t: at(0),
            value: Value::Scalar(120.0),
            source: "apple_health:Kim's \"Watch\", left",
        }]);
        assert!(text.ends_with(
            "1970-01-01T00:00:00.000Z,steps,120,{steps},\"apple_health:Kim's \"\"Watch\"\", left\",,,\r\n"
        ));
    }

    #[test]
    fn refuses_nan_and_wrong_kinds() {
        let mut w = CsvWriter::new(Vec::new()).unwrap();
        let nan = ExportReading {
            metric: Metric::HeartRate,
            t: at(0),
            value: Value::Scalar(f64::NAN),
            source: "w",
        };
        assert!(matches!(w.write(&nan), Err(ExportError::NotFinite { .. })));
        let wrong = ExportReading {
            value: Value::SleepStage(SleepStage::Deep),
            ..nan
        };
        assert!(matches!(
            w.write(&wrong),
            Err(ExportError::WrongKind { .. })
        ));
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text.lines().count(), 1, "nothing but the header");
    }
}
