//! `vitalis import <kind> PATH --patient P`: reads an export file with `vitalis-import`
//! and stores its readings the way device uploads are stored — validated, de-duplicated,
//! split by section, committed into the patient's chain (and anchored by a running
//! server) — in batches of [`BATCH_READINGS`].
//!
//! The readings are written under one source per patient and kind of file (a devices row
//! of kind `import`, named `import:<kind>`), so importing the same file again stores
//! nothing new: every reading meets its stored twin as a duplicate.
//!
//! The file is parsed on a thread of its own while the previous batch is being committed;
//! at most a few batches are ever held, whatever the size of the file. Progress goes to
//! stderr at most once a second; the summary goes to stdout as `key=value` lines.
//!
//! Exit status: 0 when the file was read to its end; 3 when it could not be (truncated
//! or malformed): what came before the fault is stored, and `stopped_at=` says where it
//! is; 1 for anything that stops the import before it starts (no such file or patient,
//! an unknown layout) or a failing store.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use tokio::sync::mpsc;
use vitalis_import::empatica::{E4Signal, EmpaticaCsv, EmpaticaFolder};
use vitalis_import::fit::FitFile;
use vitalis_import::fitbit::FitbitCsv;
use vitalis_import::google_fit::GoogleFitCsv;
use vitalis_import::{
    FixedOffset, ImportError, ImportOptions, Importer, Item, SkipReason, Summary, apple, apple_zip,
};
use vitalis_model::{DeviceId, PatientId, Reading, Section, Timestamp};
use vitalis_store::directory::Directory;
use vitalis_store::{NewBatch, SqlStore, Store, StoreError};

use crate::config::{ChainArgs, Config, StoreArgs};

/// Readings per stored batch (one transaction, one record per section).
pub(crate) const BATCH_READINGS: usize = 5_000;

/// Exit status of an import that stopped at a truncated or malformed place.
pub(crate) const EXIT_STOPPED: i32 = 3;

/// Batches parsed ahead of the one being committed.
const BATCHES_AHEAD: usize = 2;

/// The kinds of file `vitalis import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportKind {
    /// Apple Health: `export.zip`, its `export.xml`, or the unpacked folder.
    AppleHealth,
    /// A Fitbit CSV in the Fitabase layout (`heartrate_seconds_merged.csv`, …).
    Fitbit,
    /// A FIT activity file (Garmin, COROS, …).
    GarminFit,
    /// A Google Fit Takeout CSV (daily summary, or one day's intervals).
    GoogleFit,
    /// An Empatica E4 session folder (`HR.csv`, `IBI.csv`, `TEMP.csv`), or one of them.
    Empatica,
}

impl ImportKind {
    fn name(self) -> &'static str {
        match self {
            ImportKind::AppleHealth => "apple-health",
            ImportKind::Fitbit => "fitbit",
            ImportKind::GarminFit => "garmin-fit",
            ImportKind::GoogleFit => "google-fit",
            ImportKind::Empatica => "empatica",
        }
    }
}

/// `vitalis import` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ImportArgs {
    /// What kind of export PATH is.
    #[arg(value_enum)]
    kind: ImportKind,
    /// The file (or folder, for Empatica and an unpacked Apple Health export).
    path: PathBuf,
    /// The patient the readings belong to.
    #[arg(long)]
    patient: String,
    /// The wearer's UTC offset, for formats that write local times (Fitbit, Google Fit),
    /// e.g. +02:00 or -07:00. Default: +00:00
    #[arg(long, value_parser = parse_utc_offset, allow_hyphen_values = true)]
    utc_offset: Option<FixedOffset>,
    /// The Fitbit user (`Id` column) to import; required when the file holds several.
    #[arg(long)]
    fitbit_user: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Parses `+02:00`, `-0700`, `+2`, `Z`.
pub(crate) fn parse_utc_offset(text: &str) -> Result<FixedOffset, String> {
    let bad = || format!("{text:?}: write the offset as +HH:MM or -HH:MM (e.g. -07:00)");
    let text = text.trim();
    if text == "Z" || text == "UTC" {
        return Ok(FixedOffset::east_opt(0).expect("zero offset"));
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) {
        return Err(bad());
    }
    let (hours, minutes): (i32, i32) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

/// The current time, as the model counts it.
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::new(ms).expect("the clock is after 1970")
}

/// One batch for [`Store::append`]: `readings` split by their metric's default section
/// (the store applies the patient's own choices), a (metric, time) repeated within the
/// batch kept once. Returns the batch and how many repeats were dropped.
pub(crate) fn new_batch(
    patient: &PatientId,
    device: &DeviceId,
    readings: Vec<Reading>,
    received_at: Timestamp,
) -> (NewBatch, u64) {
    let mut seen = HashSet::with_capacity(readings.len());
    let (mut protected, mut open) = (Vec::new(), Vec::new());
    let mut repeated = 0;
    for reading in readings {
        if !seen.insert((reading.metric(), reading.t())) {
            repeated += 1;
            continue;
        }
        match reading.metric().spec().default_section {
            Section::Protected => protected.push(reading),
            Section::Open => open.push(reading),
        }
    }
    let parts = [(Section::Protected, protected), (Section::Open, open)]
        .into_iter()
        .filter(|(_, readings)| !readings.is_empty())
        .collect();
    let batch = NewBatch {
        patient: patient.clone(),
        device: device.clone(),
        idempotency_key: None,
        parts,
        received_at,
        seal: None,
    };
    (batch, repeated)
}

/// Checks that `patient` exists (the store's error would only say so at the first batch).
pub(crate) async fn require_patient(store: &SqlStore, patient: &PatientId) -> Result<()> {
    match store.head(patient).await {
        Ok(_) => Ok(()),
        Err(StoreError::UnknownPatient(_)) => bail!("--patient {patient}: no such patient"),
        Err(e) => Err(e).context("reading the patient"),
    }
}

/// What the parsing thread sends.
enum Message {
    /// The next readings of the patient.
    Readings(Vec<Reading>),
    /// The file could not be opened (or its header read): nothing was imported.
    Unopened(ImportError),
    /// The end: the importer's summary, the error that stopped it early, and how many
    /// readings belonged to other Fitbit users.
    End {
        summary: Box<Summary>,
        stopped: Option<ImportError>,
        other_users: u64,
    },
}

/// `vitalis import`.
pub(crate) async fn run(args: ImportArgs) -> Result<()> {
    let patient = PatientId::new(&args.patient).context("--patient")?;
    let path = args.path.clone();
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    let subject = match args.kind {
        ImportKind::Fitbit => fitbit_user(&path, args.fitbit_user.as_deref())?,
        _ if args.fitbit_user.is_some() => {
            bail!("--fitbit-user applies to `vitalis import fitbit` only")
        }
        _ => None,
    };
    let config = Config::resolve(&args.store, None, &ChainArgs::default())?;
    let store = config.open_store().await?;
    require_patient(&store, &patient).await?;
    let sealer = config
        .sealing(std::sync::Arc::new(store.clone()))
        .await?
        .sealer;
    let source_name = format!("import:{}", args.kind.name());
    let source = store
        .import_source(&patient, &source_name)
        .await
        .context("creating the import source")?;

    let mut options = ImportOptions::new(now());
    if let Some(offset) = args.utc_offset {
        options.utc_offset = offset;
    }
    let (tx, mut rx) = mpsc::channel(BATCHES_AHEAD);
    let kind = args.kind;
    let parser = std::thread::spawn({
        let path = path.clone();
        move || parse(kind, &path, options, subject.as_deref(), &tx)
    });

    let started = Instant::now();
    let mut progress = Progress::new(started);
    let (mut read, mut taken, mut duplicates, mut records) = (0u64, 0u64, 0u64, 0u64);
    let mut end = None;
    while let Some(message) = rx.recv().await {
        match message {
            Message::Readings(readings) => {
                read += readings.len() as u64;
                let (mut batch, repeated) = new_batch(&patient, &source, readings, now());
                batch.seal = sealer
                    .key_for(&patient)
                    .await
                    .context("the patient's sealing key")?;
                let receipt = store
                    .append(vec![batch])
                    .await
                    .with_context(|| format!("{}: storing readings", path.display()))?
                    .pop()
                    .context("the store answered no receipt")?;
                taken += receipt.accepted;
                duplicates += receipt.duplicates + repeated;
                records += receipt.records.len() as u64;
                progress.tick(read, taken);
            }
            Message::Unopened(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "importing {} as {}",
                    path.display(),
                    kind.name()
                )));
            }
            Message::End {
                summary,
                stopped,
                other_users,
            } => end = Some((summary, stopped, other_users)),
        }
    }
    parser
        .join()
        .map_err(|_| anyhow::anyhow!("the parser of {} failed", path.display()))?;
    let Some((summary, stopped, other_users)) = end else {
        bail!("the parser of {} ended without a summary", path.display());
    };
    store.close().await;

    let elapsed = started.elapsed();
    let mut out = std::io::stdout().lock();
    writeln!(out, "file={}", path.display())?;
    writeln!(out, "kind={}", kind.name())?;
    writeln!(out, "patient={patient}")?;
    writeln!(out, "source={source}")?;
    writeln!(out, "readings={read}")?;
    writeln!(out, "taken={taken}")?;
    writeln!(out, "duplicates={duplicates}")?;
    writeln!(out, "records={records}")?;
    if other_users > 0 {
        writeln!(out, "other_users={other_users}")?;
    }
    writeln!(out, "skipped={}", summary.skipped_total())?;
    for reason in SkipReason::ALL {
        if let Some(tally) = summary.tally(reason) {
            writeln!(out, "skipped_{reason}={}", tally.count)?;
            if let Some(example) = tally.examples.first() {
                let example = format!("{}: {}", example.at, example.detail);
                writeln!(out, "example_{reason}={}", one_line(&example))?;
            }
        }
    }
    writeln!(out, "seconds={:.3}", elapsed.as_secs_f64())?;
    writeln!(out, "rate={:.0}", Progress::rate(read, elapsed))?;
    if let Some(err) = stopped {
        writeln!(out, "stopped_at={}", stop_location(&err))?;
        writeln!(out, "error={}", one_line(&err.to_string()))?;
        out.flush()?;
        drop(out);
        eprintln!(
            "vitalis import: {err}; the readings before it are stored (exit status {EXIT_STOPPED})"
        );
        std::process::exit(EXIT_STOPPED);
    }
    Ok(())
}

/// Where a stopped import stopped: the file and the place in it.
fn stop_location(err: &ImportError) -> String {
    match err {
        ImportError::Io { file, at, .. }
        | ImportError::Truncated { file, at, .. }
        | ImportError::Malformed { file, at, .. } => format!("{file}:{at}"),
        ImportError::WrongColumn { file, .. } | ImportError::UnknownLayout { file, .. } => {
            format!("{file}:line 1")
        }
        ImportError::MissingEntry { archive, .. } | ImportError::Archive { archive, .. } => {
            archive.clone()
        }
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// Progress on stderr, at most once a second.
struct Progress {
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(started: Instant) -> Progress {
        Progress {
            started,
            last: started,
        }
    }

    fn tick(&mut self, read: u64, taken: u64) {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            let rate = Progress::rate(read, self.started.elapsed());
            eprintln!("import: {read} readings, {taken} stored, {rate:.0} readings/s");
        }
    }

    fn rate(count: u64, elapsed: Duration) -> f64 {
        count as f64 / elapsed.as_secs_f64().max(1e-9)
    }
}

/// The Fitbit user to import: `wanted` if the file has it; the only user if there is
/// one; otherwise an error naming the users found.
fn fitbit_user(path: &Path, wanted: Option<&str>) -> Result<Option<String>> {
    let users = fitbit_users(path)?;
    let list = || {
        let mut list = users
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if users.len() > 20 {
            list.push_str(&format!(", … and {} more", users.len() - 20));
        }
        list
    };
    match wanted {
        Some(user) if users.contains(user) => Ok(Some(user.to_owned())),
        Some(user) => bail!(
            "{}: no Fitbit user {user}; the file holds {} user(s): {}",
            path.display(),
            users.len(),
            list()
        ),
        None if users.len() > 1 => bail!(
            "{}: the file holds {} Fitbit users ({}); choose one with --fitbit-user ID",
            path.display(),
            users.len(),
            list()
        ),
        None => Ok(None),
    }
}

/// The distinct values of the `Id` column (a quick pass that reads nothing else; the
/// import itself reports what is wrong with the file).
fn fitbit_users(path: &Path) -> Result<BTreeSet<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("{}: cannot read it", path.display()))?;
    let mut users = BTreeSet::new();
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = reader.read_byte_record(&mut record) {
        if let Some(id) = record.get(0) {
            let id = String::from_utf8_lossy(id);
            if !users.contains(id.trim()) {
                users.insert(id.trim().to_owned());
            }
        }
    }
    users.retain(|u| !u.is_empty());
    Ok(users)
}

/// Opens the importer for `kind` at `path`.
fn open(
    kind: ImportKind,
    path: &Path,
    options: ImportOptions,
) -> vitalis_import::Result<Box<dyn Importer>> {
    Ok(match kind {
        ImportKind::AppleHealth => {
            let zip = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
            if zip {
                Box::new(apple_zip::open_zip_path(path, options)?)
            } else if path.is_dir() {
                let inner = path.join("apple_health_export").join("export.xml");
                let xml = if inner.is_file() {
                    inner
                } else {
                    path.join("export.xml")
                };
                Box::new(apple::AppleHealthXml::open(xml, options)?)
            } else {
                Box::new(apple::AppleHealthXml::open(path, options)?)
            }
        }
        ImportKind::Fitbit => Box::new(FitbitCsv::open(path, options)?),
        ImportKind::GarminFit => Box::new(FitFile::open(path, options)?),
        ImportKind::GoogleFit => Box::new(GoogleFitCsv::open(path, options)?),
        ImportKind::Empatica if path.is_dir() => Box::new(EmpaticaFolder::open(path, options)?),
        ImportKind::Empatica => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(signal) = E4Signal::ALL
                .into_iter()
                .find(|s| s.file_name().eq_ignore_ascii_case(name))
            else {
                return Err(ImportError::MissingEntry {
                    archive: path.display().to_string(),
                    entry: "a session folder, or HR.csv, IBI.csv or TEMP.csv".to_owned(),
                });
            };
            Box::new(EmpaticaCsv::open(path, signal, options)?)
        }
    })
}

/// The parsing thread: reads the file and sends its readings in batches.
fn parse(
    kind: ImportKind,
    path: &Path,
    options: ImportOptions,
    subject: Option<&str>,
    tx: &mpsc::Sender<Message>,
) {
    let mut stream = match open(kind, path, options) {
        Ok(stream) => stream,
        Err(err) => {
            let _ = tx.blocking_send(Message::Unopened(err));
            return;
        }
    };
    let mut batch = Vec::with_capacity(BATCH_READINGS);
    let mut stopped = None;
    let mut other_users = 0;
    for next in stream.by_ref() {
        match next {
            Ok(Item::Reading(imported)) => {
                if let (Some(wanted), Some(subject)) = (subject, imported.subject.as_deref())
                    && wanted != subject
                {
                    other_users += 1;
                    continue;
                }
                batch.push(imported.reading);
                if batch.len() == BATCH_READINGS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_READINGS));
                    if tx.blocking_send(Message::Readings(full)).is_err() {
                        return; // The writer gave up (a store error); it reports.
                    }
                }
            }
            Ok(Item::Skipped(_)) => {}
            Err(err) => stopped = Some(err),
        }
    }
    if !batch.is_empty() && tx.blocking_send(Message::Readings(batch)).is_err() {
        return;
    }
    let _ = tx.blocking_send(Message::End {
        summary: Box::new(stream.summary().clone()),
        stopped,
        other_users,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets() {
        let secs = |t: &str| parse_utc_offset(t).map(|o| o.local_minus_utc());
        assert_eq!(secs("+02:00"), Ok(7200));
        assert_eq!(secs("-07:00"), Ok(-25_200));
        assert_eq!(secs("+0530"), Ok(19_800));
        assert_eq!(secs("-3"), Ok(-10_800));
        assert_eq!(secs("Z"), Ok(0));
        for bad in ["", "02:00", "+24:00", "+02:60", "+2:0:0", "+ab"] {
            assert!(secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batches_split_by_section_and_drop_repeats() {
        use vitalis_model::Metric;
        let now = Timestamp::new(1_767_225_600_000).unwrap();
        let t = Timestamp::new(1_700_000_000_000).unwrap();
        let hr = |v| Reading::new(Metric::HeartRate, t, vitalis_model::Value::Scalar(v), now);
        let steps = Reading::new(Metric::Steps, t, vitalis_model::Value::Scalar(5.0), now);
        let readings = vec![hr(60.0).unwrap(), hr(61.0).unwrap(), steps.unwrap()];
        let patient = PatientId::new("p1").unwrap();
        let device = DeviceId::new("d1").unwrap();
        let (batch, repeated) = new_batch(&patient, &device, readings, now);
        assert_eq!(repeated, 1);
        let sizes: Vec<(Section, usize)> = batch.parts.iter().map(|(s, r)| (*s, r.len())).collect();
        assert_eq!(sizes, [(Section::Protected, 1), (Section::Open, 1)]);
    }
}
