//! Garmin, COROS and other FIT activity files, decoded message by message with the
//! `fitparser` crate's stream processor (the file is read in chunks, never whole).
//!
//! | FIT message | field | reading |
//! |---|---|---|
//! | `record` | `heart_rate` | heart_rate |
//! | `record` | `position_lat`, `position_long` (semicircles) | location, in degrees |
//! | `record` | `distance` (cumulative, m) | distance covered since the previous record that had one |
//! | `hrv` | `time` (R-R intervals, s) | rr_interval in ms; invalid entries (0xFFFF) are left out |
//!
//! Records are stamped with their `timestamp`. `hrv` messages carry no time of their own:
//! the first interval is placed after the last timestamp seen before it (the activity
//! start in practice), and each interval then ends where the next begins, so a beat's
//! time is the sum of the intervals before it. Data of several FIT files chained in one
//! input are read in turn. A file that ends early yields everything before the cut and
//! then [`ImportError::Truncated`] with the message number and byte offset. A header of a
//! size other than 12 or 14 bytes, or a message that runs past the data its header
//! declares, is [`ImportError::Malformed`]: `fitparser` would read on without bounds
//! checks there.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use fitparser::de::{FitObject, FitStreamProcessor};
use fitparser::profile::MesgNum;
use fitparser::{ErrorKind as FitErrorKind, FitDataRecord, Value as FitValue};
use vitalis_model::{Metric, Position, Reading, Timestamp, Value};

use crate::convert::{ImportOptions, item, scalar_reading};
use crate::error::{ImportError, Location, Result};
use crate::item::{Item, Skip, SkipReason};
use crate::summary::{Tracker, importer};

/// Bytes read from the input at a time.
const CHUNK: usize = 64 * 1024;
/// A FIT message is at most a few kilobytes (255 fields of 255 bytes and developer
/// fields); if the decoder still fails with this much data buffered, the data is bad.
const MAX_MESSAGE: usize = 256 * 1024;
/// The header sizes FIT files use (12 bytes, or 14 with the header's own CRC), the only
/// ones `fitparser` decodes.
const HEADER_SIZES: [u8; 2] = [12, 14];
/// Degrees per semicircle (2^31 semicircles are 180°).
const DEGREES_PER_SEMICIRCLE: f64 = 180.0 / 2_147_483_648.0;

/// The readings of a FIT file, in message order.
pub struct FitFile<R> {
    input: R,
    eof: bool,
    buf: Vec<u8>,
    /// Start of the unconsumed part of `buf`.
    pos: usize,
    /// Bytes of the input consumed by the decoder.
    consumed: u64,
    /// FIT messages decoded (definition and data).
    messages: u64,
    /// Inside a FIT file (header read, CRC not yet).
    in_file: bool,
    /// Bytes of the current FIT file consumed (header and messages), and where its
    /// messages end by its header (header size plus data size).
    file_pos: u64,
    file_end: u64,
    files: u64,
    processor: FitStreamProcessor,
    file: String,
    options: ImportOptions,
    source: Arc<str>,
    last_timestamp: Option<i64>,
    last_distance: Option<f64>,
    hrv_clock: Option<i64>,
    pending: VecDeque<Item>,
    tracker: Tracker,
}

impl FitFile<File> {
    /// Opens the FIT file at `path`.
    pub fn open(path: impl AsRef<Path>, options: ImportOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| ImportError::Io {
            file: name.clone(),
            at: Location::Byte(0),
            source,
        })?;
        Ok(FitFile::new(file, name, options))
    }
}

impl<R: Read> FitFile<R> {
    /// Reads `input`, named `file` in errors.
    pub fn new(input: R, file: impl Into<String>, options: ImportOptions) -> Self {
        FitFile {
            input,
            eof: false,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            consumed: 0,
            messages: 0,
            in_file: false,
            file_pos: 0,
            file_end: 0,
            files: 0,
            processor: FitStreamProcessor::new(),
            file: file.into(),
            source: options.source_label("fit", None),
            options,
            last_timestamp: None,
            last_distance: None,
            hrv_clock: None,
            pending: VecDeque::new(),
            tracker: Tracker::default(),
        }
    }

    fn here(&self) -> Location {
        Location::Message {
            index: self.messages + 1,
            byte: self.consumed,
        }
    }

    /// Appends the next chunk of input to the buffer; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let n = loop {
            match self.input.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.buf.truncate(old);
                    return Err(ImportError::Io {
                        file: self.file.clone(),
                        at: self.here(),
                        source,
                    });
                }
            }
        };
        self.buf.truncate(old + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    fn next_item(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.pos == self.buf.len() {
                match self.fill() {
                    Ok(true) => {}
                    Ok(false) if !self.in_file && self.files > 0 => return None,
                    Ok(false) => {
                        let detail = if self.files == 0 && !self.in_file {
                            "the input holds no FIT header"
                        } else {
                            "the input ends before the FIT file's data and CRC"
                        };
                        return Some(Err(self.truncated(detail.to_owned())));
                    }
                    Err(err) => return Some(Err(err)),
                }
            }
            if !self.in_file {
                match self.header_check() {
                    HeaderCheck::Whole => {}
                    HeaderCheck::Partial => match self.fill() {
                        Ok(true) => continue,
                        Ok(false) => {
                            let detail = "the input ends inside a FIT header".to_owned();
                            return Some(Err(self.truncated(detail)));
                        }
                        Err(err) => return Some(Err(err)),
                    },
                    HeaderCheck::BadSize(size) => {
                        return Some(Err(ImportError::Malformed {
                            file: self.file.clone(),
                            at: self.here(),
                            detail: format!(
                                "a FIT header of {size} bytes (FIT headers have 12 or 14)"
                            ),
                        }));
                    }
                }
            }
            let available = self.buf.len() - self.pos;
            let (object, used) = match self.processor.deserialize_next(&self.buf[self.pos..]) {
                Ok((rest, object)) => (object, available - rest.len()),
                Err(err) => {
                    // The decoder cannot tell a message cut by the chunk boundary from a
                    // bad one: read on, and judge only with a whole message's worth or the
                    // end of the input in hand.
                    if available < MAX_MESSAGE {
                        match self.fill() {
                            Ok(true) => continue,
                            Ok(false) => {}
                            Err(err) => return Some(Err(err)),
                        }
                    }
                    return Some(Err(self.decode_error(*err)));
                }
            };
            self.pos += used;
            let start = self.here();
            self.consumed += used as u64;
            if matches!(
                object,
                FitObject::DefinitionMessage(_) | FitObject::DataMessage(_)
            ) {
                self.file_pos += used as u64;
                // Past the declared end the decoder would take the next bytes for the
                // header of a chained file, unchecked.
                if self.file_pos > self.file_end {
                    return Some(Err(ImportError::Malformed {
                        file: self.file.clone(),
                        at: start,
                        detail: format!(
                            "the message runs past the end of the data the FIT header \
                             declares ({} bytes with the header)",
                            self.file_end
                        ),
                    }));
                }
            }
            match object {
                FitObject::Header(header) => {
                    self.file_pos = u64::from(header.header_size());
                    self.file_end = self.file_pos + u64::from(header.data_size());
                    self.in_file = true;
                    self.files += 1;
                    self.last_distance = None;
                    self.hrv_clock = None;
                }
                FitObject::Crc(_) => {
                    self.in_file = false;
                    self.processor.reset();
                }
                FitObject::DefinitionMessage(_) => self.messages += 1,
                FitObject::DataMessage(message) => {
                    self.messages += 1;
                    match self.processor.decode_message(message) {
                        Ok(record) => self.message(&record, start),
                        Err(err) => return Some(Err(self.decode_error(*err))),
                    }
                }
            }
        }
    }

    /// Checks the header size before the decoder reads a header: `fitparser` slices its
    /// input by the declared size without a bounds check, so a size beyond the bytes at
    /// hand makes it panic, and it decodes no size but 12 and 14 correctly.
    fn header_check(&self) -> HeaderCheck {
        let rest = &self.buf[self.pos..];
        match rest.first() {
            Some(&size) if !HEADER_SIZES.contains(&size) => HeaderCheck::BadSize(size),
            Some(&size) if rest.len() >= usize::from(size) => HeaderCheck::Whole,
            _ => HeaderCheck::Partial,
        }
    }

    fn truncated(&self, detail: String) -> ImportError {
        ImportError::Truncated {
            file: self.file.clone(),
            at: self.here(),
            detail,
        }
    }

    fn decode_error(&self, err: FitErrorKind) -> ImportError {
        let at = self.here();
        let remaining = self.buf.len() - self.pos;
        match err {
            FitErrorKind::UnexpectedEof(_) => self.truncated(format!(
                "the input ends inside a message ({remaining} bytes of it present)"
            )),
            FitErrorKind::ParseError(..) if self.eof && remaining < MAX_MESSAGE => self.truncated(
                format!("the last {remaining} bytes do not form a whole message"),
            ),
            FitErrorKind::Io(source) => ImportError::Io {
                file: self.file.clone(),
                at,
                source,
            },
            FitErrorKind::InvalidCrc((_, _, stored, computed)) => ImportError::Malformed {
                file: self.file.clone(),
                at,
                detail: format!("CRC {stored:#06x} stored, {computed:#06x} computed"),
            },
            other => ImportError::Malformed {
                file: self.file.clone(),
                at,
                detail: other.to_string(),
            },
        }
    }

    /// Turns one decoded message into pending items.
    fn message(&mut self, record: &FitDataRecord, at: Location) {
        let mut timestamp = None;
        for field in record.fields() {
            if let ("timestamp" | "time_created", FitValue::Timestamp(t)) =
                (field.name(), field.value())
            {
                timestamp = Some(t.timestamp_millis());
            }
        }
        if let Some(t) = timestamp {
            self.last_timestamp = Some(t);
        }
        match record.kind() {
            MesgNum::FileId => {
                if let Some(maker) = record
                    .fields()
                    .iter()
                    .find(|f| f.name() == "manufacturer")
                    .map(|f| f.value().to_string())
                {
                    self.source = self.options.source_label("fit", Some(&maker));
                }
            }
            MesgNum::Record => self.record(record, timestamp, at),
            MesgNum::Hrv => self.hrv(record, at),
            _ => {}
        }
    }

    fn record(&mut self, record: &FitDataRecord, timestamp: Option<i64>, at: Location) {
        let mut heart_rate = None;
        let mut lat = None;
        let mut lon = None;
        let mut distance = None;
        for field in record.fields() {
            let value = number(field.value());
            match field.name() {
                "heart_rate" => heart_rate = value,
                "position_lat" => lat = value.map(|v| degrees(v, field.units())),
                "position_long" => lon = value.map(|v| degrees(v, field.units())),
                "distance" => distance = value,
                _ => {}
            }
        }
        if heart_rate.is_none() && lat.is_none() && distance.is_none() {
            return;
        }
        let Some(t) = timestamp else {
            self.pending.push_back(Item::Skipped(Skip::new(
                SkipReason::Unparsable,
                at,
                "record message without a timestamp",
            )));
            return;
        };
        let now = self.options.now;
        if let Some(bpm) = heart_rate {
            let result = scalar_reading(Metric::HeartRate, t, bpm, "/min", now);
            self.pending.push_back(item(result, &self.source, None, at));
        }
        if let (Some(lat), Some(lon)) = (lat, lon) {
            let position = Position {
                lat,
                lon,
                accuracy: None,
            };
            let result = Timestamp::new(t)
                .and_then(|t| Reading::new(Metric::Location, t, Value::Position(position), now));
            self.pending.push_back(item(result, &self.source, None, at));
        }
        if let Some(total) = distance {
            let covered = total - self.last_distance.unwrap_or(0.0);
            self.last_distance = Some(total);
            let result = scalar_reading(Metric::Distance, t, covered, "m", now);
            self.pending.push_back(item(result, &self.source, None, at));
        }
    }

    fn hrv(&mut self, record: &FitDataRecord, at: Location) {
        let Some(field) = record.fields().iter().find(|f| f.name() == "time") else {
            return;
        };
        let intervals: Vec<f64> = match field.value() {
            FitValue::Array(values) => values.iter().filter_map(number).collect(),
            single => number(single).into_iter().collect(),
        };
        for seconds in intervals {
            // 0xFFFF (65.535 s after scaling) marks an unused slot.
            if seconds >= 65.535 {
                continue;
            }
            let Some(clock) = self.hrv_clock.or(self.last_timestamp) else {
                self.pending.push_back(Item::Skipped(Skip::new(
                    SkipReason::InvalidTimestamp,
                    at,
                    "R-R interval before any timestamp in the file",
                )));
                continue;
            };
            let t = clock + (seconds * 1000.0).round() as i64;
            self.hrv_clock = Some(t);
            let result = scalar_reading(Metric::RrInterval, t, seconds, "s", self.options.now);
            self.pending.push_back(item(result, &self.source, None, at));
        }
    }
}

importer!(FitFile<R: Read>);

/// The bytes at the start of a FIT file, as [`FitFile::header_check`] finds them.
enum HeaderCheck {
    /// A whole header of a size the decoder reads.
    Whole,
    /// The start of one; more input is needed.
    Partial,
    /// A header size other than 12 or 14, which the decoder cannot read.
    BadSize(u8),
}

/// A numeric FIT value as `f64`; `None` for invalid, text and timestamps.
fn number(value: &FitValue) -> Option<f64> {
    Some(match *value {
        FitValue::Byte(v) | FitValue::UInt8(v) | FitValue::UInt8z(v) | FitValue::Enum(v) => {
            f64::from(v)
        }
        FitValue::SInt8(v) => f64::from(v),
        FitValue::SInt16(v) => f64::from(v),
        FitValue::UInt16(v) | FitValue::UInt16z(v) => f64::from(v),
        FitValue::SInt32(v) => f64::from(v),
        FitValue::UInt32(v) | FitValue::UInt32z(v) => f64::from(v),
        FitValue::SInt64(v) => v as f64,
        FitValue::UInt64(v) | FitValue::UInt64z(v) => v as f64,
        FitValue::Float32(v) => f64::from(v),
        FitValue::Float64(v) => v,
        _ => return None,
    })
}

fn degrees(value: f64, units: &str) -> f64 {
    if units == "semicircles" {
        value * DEGREES_PER_SEMICIRCLE
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitalis_model::Timestamp;

    fn read(bytes: &[u8]) -> Vec<Result<Item>> {
        let now = Timestamp::new(1_767_225_600_000).unwrap();
        FitFile::new(bytes, "x.fit", ImportOptions::new(now)).collect()
    }

    /// A 14-byte FIT header declaring `header_size` and `data_size`, with a non-zero
    /// header CRC (so the decoder checks it).
    fn header(header_size: u8, data_size: u32) -> Vec<u8> {
        let mut bytes = vec![header_size, 0x10, 0xee, 0x07];
        bytes.extend_from_slice(&data_size.to_le_bytes());
        bytes.extend_from_slice(b".FIT");
        bytes.extend_from_slice(&[0xa9, 0x1e]);
        bytes
    }

    fn malformed(items: &[Result<Item>]) -> String {
        match items.last() {
            Some(Err(err @ ImportError::Malformed { .. })) => err.to_string(),
            other => panic!("{other:?}"),
        }
    }

    // Found by the `fit` fuzz target: fitparser slices `input[..header_size - 2]` to check
    // a header's CRC, so a header claiming 205 bytes in a shorter input panicked.
    #[test]
    fn a_header_longer_than_the_input_is_malformed() {
        let items = read(&header(205, 0));
        assert_eq!(items.len(), 1);
        assert!(malformed(&items).contains("205 bytes"));
        let mut short = header(14, 0);
        short.truncate(13);
        assert!(matches!(
            &read(&short)[..],
            [Err(ImportError::Truncated { detail, .. })] if detail.contains("FIT header")
        ));
    }

    // A message running past the declared data made the decoder read the next bytes as
    // the header of a chained file, unchecked (the same panic).
    #[test]
    fn a_message_past_the_declared_data_is_malformed() {
        let mut bytes = header(14, 1);
        bytes[12..].fill(0);
        // Definition message for local 0 (file_id, one 1-byte enum field).
        bytes.extend_from_slice(&[0x40, 0, 0, 0, 0, 1, 0, 1, 0]);
        bytes.extend_from_slice(&header(205, 0));
        let items = read(&bytes);
        assert!(malformed(&items).contains("past the end of the data"));
    }
}
