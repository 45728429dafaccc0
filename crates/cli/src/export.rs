//! `vitalis export`: one patient's readings (and, in FHIR, clinical notes) from the store
//! in the data directory, as CSV, XLSX or a FHIR R4 Bundle, to a file or to stdout.
//!
//! The command reads the store directly, as the node's operator: it sees the open section
//! and protected records stored before sealing, but not sealed records, which only the
//! patient and the institutions their policy names can open (those export through the
//! API); it stops with an error that says so at the first sealed record. Like an API export it is written to the patient's access log (account `cli`, role
//! admin), once per section. A file is written under a temporary name and renamed when
//! complete, so a failed export leaves no complete-looking file behind.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use vitalis_access::{Action, Role};
use vitalis_export::{ExportReading, Exporter, Format, car};
use vitalis_model::{ClinicalNote, ENCODING_CLINICAL_V1, Metric, PatientId, Section, Timestamp};
use vitalis_store::directory::NewAccessEntry;
use vitalis_store::{ReadingQuery, Store};

use crate::config::{ChainArgs, Config, StoreArgs};

/// Readings per store page.
const PAGE: u32 = 10_000;

/// Flags of `vitalis export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The patient's id.
    #[arg(long)]
    patient: String,
    /// Output format: csv, xlsx or fhir (a FHIR R4 JSON Bundle).
    #[arg(long, required_unless_present = "car", conflicts_with = "car")]
    format: Option<Format>,
    /// Instead of readings, write the patient's stored records as a CAR v1 archive: each
    /// payload under its CID, rooted at a manifest of headers, commitments and proofs.
    #[arg(long, conflicts_with_all = ["from", "to", "metrics"])]
    car: bool,
    /// From this time (inclusive): milliseconds since the Unix epoch, YYYY-MM-DD or
    /// YYYY-MM-DDTHH:MM[:SS[.fff]]Z. Default: the first reading.
    #[arg(long, value_parser = vitalis_export::time::parse_instant)]
    from: Option<Timestamp>,
    /// To this time (inclusive), in the same forms. Default: now.
    #[arg(long, value_parser = vitalis_export::time::parse_instant)]
    to: Option<Timestamp>,
    /// Only these metrics, by wire name, comma-separated (heart_rate,steps). Default: all,
    /// and in FHIR the clinical notes too.
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<Metric>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) async fn run(args: ExportArgs) -> Result<()> {
    let patient = PatientId::new(&args.patient).context("--patient")?;
    let config = Config::resolve(&args.store, None, &ChainArgs::default())?;
    let store = config.open_store().await?;
    if !store.patient_ids().await?.contains(&patient) {
        bail!("no patient {patient} in this store");
    }
    let now = now_ms();
    let Some(format) = args.format else {
        return car_export(&store, &patient, args.out.as_deref(), now).await;
    };
    let from = args.from.unwrap_or(Timestamp::new(0)?);
    let to = match args.to {
        Some(to) => to,
        None => Timestamp::new(now)?,
    };
    if from > to {
        bail!("--from must not be after --to");
    }
    let mut metrics = args.metrics.clone();
    metrics.sort();
    metrics.dedup();
    let notes = format == Format::Fhir && metrics.is_empty();
    let described = if metrics.is_empty() {
        "all metrics".to_owned()
    } else {
        metrics
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(",")
    };
    log_export(&store, &patient, now, |section| {
        format!(
            "export {format} {described}{} {}..{}",
            if notes && section == Section::Protected {
                " and clinical notes"
            } else {
                ""
            },
            from.millis(),
            to.millis()
        )
    })
    .await?;

    let query = ReadingQuery {
        patient: patient.clone(),
        metric: None,
        metrics: (!metrics.is_empty()).then_some(metrics),
        sections: None,
        from,
        to,
        after: None,
        limit: PAGE,
        keys: None,
    };
    let (readings, note_count) = match &args.out {
        None => {
            let stdout = std::io::stdout().lock();
            let (counts, mut sink) =
                write_export(&store, format, BufWriter::new(stdout), query, notes).await?;
            sink.flush()?;
            counts
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let file = tempfile::NamedTempFile::new_in(&dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            let (counts, sink) =
                write_export(&store, format, BufWriter::new(file), query, notes).await?;
            let file = sink.into_inner().context("writing the export")?;
            file.as_file().sync_all()?;
            file.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
            counts
        }
    };
    eprintln!(
        "exported {readings} readings{} of patient {patient} as {}{}",
        if notes {
            format!(" and {note_count} clinical notes")
        } else {
            String::new()
        },
        format,
        args.out
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// Writes the access-log entries of this export, one per section, each with the
/// detail `detail(section)`.
async fn log_export(
    store: &impl Store,
    patient: &PatientId,
    now: i64,
    detail: impl Fn(Section) -> String,
) -> Result<()> {
    let entries: Vec<NewAccessEntry> = [Section::Open, Section::Protected]
        .into_iter()
        .map(|section| NewAccessEntry {
            at: now,
            account: "cli".to_owned(),
            role: Role::Admin,
            institution: None,
            patient: patient.clone(),
            action: match section {
                Section::Open => Action::ReadOpen,
                Section::Protected => Action::ReadProtected,
            }
            .name()
            .to_owned(),
            detail: detail(section),
            purpose: "export by the node's operator (vitalis export)".to_owned(),
        })
        .collect();
    store.log_access(&entries).await?;
    Ok(())
}

/// Writes `out` (stdout when `None`) through `write`: a file goes to a temporary name in
/// its directory and is renamed only once complete and synced.
async fn write_output<T>(
    out: Option<&Path>,
    write: impl AsyncFnOnce(Box<dyn Write + Send>) -> Result<(T, Box<dyn Write + Send>)>,
) -> Result<T> {
    match out {
        None => {
            let (value, mut sink) = write(Box::new(BufWriter::new(std::io::stdout()))).await?;
            sink.flush()?;
            Ok(value)
        }
        Some(path) => {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let file = tempfile::NamedTempFile::new_in(&dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            let handle = file.reopen()?;
            let (value, mut sink) = write(Box::new(BufWriter::new(handle))).await?;
            sink.flush()?;
            drop(sink);
            file.as_file().sync_all()?;
            file.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(value)
        }
    }
}

/// `vitalis export --car`: every stored record of the patient as a CAR v1 archive.
async fn car_export(
    store: &impl Store,
    patient: &PatientId,
    out: Option<&Path>,
    now: i64,
) -> Result<()> {
    log_export(store, patient, now, |_| "export car all records".to_owned()).await?;
    let mut records = Vec::new();
    let mut after = 0;
    loop {
        let page = store.records(patient, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.header.seq;
        records.extend(page);
    }
    let manifest = car::Manifest {
        vitalis_car: car::MANIFEST_VERSION,
        patient: patient.to_string(),
        created_at: now,
        records: records
            .iter()
            .map(|r| {
                Ok(car::ManifestRecord {
                    id: r.id.to_string(),
                    seq: r.header.seq,
                    source: r.header.source.to_string(),
                    section: r.header.section.name().to_owned(),
                    encoding: u64::from(r.header.encoding),
                    t_from: r.header.t_from.millis(),
                    t_to: r.header.t_to.millis(),
                    readings: r.reading_count,
                    payload: car::cid_from_bytes(&r.cid.to_bytes())?,
                    prev: r.header.prev.0.to_vec(),
                    payload_hash: r.header.payload_hash.0.to_vec(),
                    opening: r.opening.0.to_vec(),
                    commitment: r.commitment.0.to_vec(),
                    anchor: r.anchor.as_ref().map(|a| car::ManifestAnchor {
                        root: a.root.to_vec(),
                        proof: a.proof.clone(),
                        index: a.on_chain.as_ref().map(|c| c.index),
                        block: a.on_chain.as_ref().map(|c| c.block_number),
                        tx: a.on_chain.as_ref().map(|c| c.tx_hash.to_vec()),
                    }),
                })
            })
            .collect::<Result<_>>()?,
    };
    let blocks = write_output(out, async |sink| {
        let mut archive = car::CarWriter::new(sink, &manifest)?;
        for (r, m) in records.iter().zip(&manifest.records) {
            let bytes = store
                .blob(&r.cid)
                .await?
                .with_context(|| format!("record {}: payload {} is missing", r.id, r.cid))?;
            archive.block(&m.payload, &bytes)?;
        }
        let blocks = archive.blocks();
        Ok((blocks, archive.finish()?))
    })
    .await?;
    eprintln!(
        "exported {} records of patient {patient} as a CAR archive ({blocks} blocks){}",
        records.len(),
        out.map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// A sealed record named as what it is for the operator.
fn sealed_for_operator(err: vitalis_store::StoreError) -> anyhow::Error {
    match err {
        vitalis_store::StoreError::Sealed { record } => anyhow::anyhow!(
            "record {record} is sealed: the node's operator cannot open protected records; \
             the patient exports them through the web interface or \
             GET /api/v1/patients/{{id}}/export (or export the open section with --metrics)"
        ),
        other => other.into(),
    }
}

/// Pages through the readings into an exporter over `sink`; returns the counts of
/// readings and notes written, and the sink.
async fn write_export<W: Write>(
    store: &impl Store,
    format: Format,
    sink: W,
    mut query: ReadingQuery,
    notes: bool,
) -> Result<((u64, u64), W)> {
    let mut export = Exporter::new(format, sink, query.patient.as_str())?;
    let mut readings = 0u64;
    loop {
        let page = store.readings(&query).await.map_err(sealed_for_operator)?;
        for r in &page.readings {
            export.write(&ExportReading {
                metric: r.metric,
                t: r.t,
                value: r.value,
                source: r.device.as_str(),
            })?;
        }
        readings += page.readings.len() as u64;
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    let mut note_count = 0u64;
    if notes {
        let mut after = 0;
        loop {
            let records = store.records(&query.patient, after, 1000).await?;
            let Some(last) = records.last() else { break };
            after = last.header.seq;
            for r in records.iter().filter(|r| {
                vitalis_model::plaintext_encoding(r.header.encoding) == ENCODING_CLINICAL_V1
            }) {
                let bytes = store
                    .open_payload(r, None)
                    .await
                    .map_err(sealed_for_operator)?;
                let note = ClinicalNote::decode(&bytes)
                    .map_err(|e| anyhow::anyhow!("clinical note {}: {e}", r.id))?;
                if (query.from.millis()..=query.to.millis()).contains(&note.t) {
                    export.write_note(&note)?;
                    note_count += 1;
                }
            }
        }
    }
    Ok(((readings, note_count), export.finish()?))
}
