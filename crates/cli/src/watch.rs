//! `vitalis watch FILE --device D`: follows a sheet (CSV, or the first sheet of an
//! `.xlsx` workbook) that another program or a person keeps appending to, and stores the
//! readings of every new or changed row as an upload of device `D`.
//!
//! The file is read again every `--interval` (no file-system notification is needed).
//! Rows are parsed by [`vitalis_import::sheet`] from the top on every pass (cumulative
//! steps need the row before); a state file in `DATA_DIR/watch/` keeps, per row number,
//! the hash of what was stored, so only new and changed rows are sent, and a restart
//! carries on where the last run stopped. A CSV's last line is read only once it ends
//! with a newline, so a half-written row waits for the next pass; a workbook that cannot
//! be opened (being saved) is tried again on the next pass.
//!
//! A row with a value the catalog refuses is reported on stderr by its row number, once;
//! its other values are stored. A changed row's readings have the same device, metric and
//! time as the stored ones, so the store keeps the first value and counts them as
//! duplicates (corrections are the supervisor's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use vitalis_import::sheet::{Cell, ColumnMap, SheetReader, SheetRow, StepsCounting};
use vitalis_import::{FixedOffset, ImportOptions};
use vitalis_model::{DeviceId, PatientId};
use vitalis_store::directory::Directory;
use vitalis_store::{SqlStore, Store};

use crate::config::{ChainArgs, Config, StoreArgs};
use crate::import::{BATCH_READINGS, new_batch, now, parse_utc_offset};

/// `vitalis watch` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct WatchArgs {
    /// The sheet: a .csv file, or an .xlsx workbook (its first sheet).
    file: PathBuf,
    /// The device the readings are stored as: its upload token or its id.
    #[arg(long)]
    device: String,
    /// Columns of another layout: time=Col,heart_rate=Col,steps=Col,… (any number metric
    /// by its wire name). Default: the original layout (Time, Steps, Heart Rate).
    #[arg(long)]
    map: Option<String>,
    /// Steps are per row, not a running total.
    #[arg(long)]
    steps_per_row: bool,
    /// The UTC offset of the sheet's times, e.g. +02:00. Default: +00:00
    #[arg(long, value_parser = parse_utc_offset, allow_hyphen_values = true)]
    utc_offset: Option<FixedOffset>,
    /// Time between reads of the file.
    #[arg(long, default_value = "1s", value_parser = crate::parse_duration)]
    interval: Duration,
    /// Read the file once, store what is new, and exit.
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// `vitalis watch`.
pub(crate) async fn run(args: WatchArgs) -> Result<()> {
    let map = match &args.map {
        Some(spec) => ColumnMap::parse(spec).context("--map")?,
        None => ColumnMap::original(),
    };
    let map = if args.steps_per_row {
        map.with_steps(StepsCounting::PerRow)
    } else {
        map
    };
    let config = Config::resolve(&args.store, None, &ChainArgs::default())?;
    let store = config.open_store().await?;
    let (patient, device) = find_device(&store, &args.device).await?;
    let sealer = config
        .sealing(std::sync::Arc::new(store.clone()))
        .await?
        .sealer;
    let mut state = State::load(&config.data_dir, &args.file)?;
    let xlsx = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    eprintln!(
        "watch: {} as device {device} of patient {patient}, every {}",
        args.file.display(),
        humantime::format_duration(args.interval)
    );
    let mut missing_reported = false;
    loop {
        let rows = if xlsx {
            read_xlsx(&args.file)
        } else {
            read_csv(&args.file)
        };
        match rows {
            Ok(Some(rows)) => {
                missing_reported = false;
                let target = Target {
                    store: &store,
                    sealer: &sealer,
                    patient: &patient,
                    device: &device,
                };
                pass(&target, &map, &args, &rows, &mut state).await?;
            }
            Ok(None) => {}
            Err(err) if !missing_reported => {
                missing_reported = true;
                eprintln!("watch: {err:#}; waiting for it");
            }
            Err(_) => {}
        }
        if args.once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(args.interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One pass over the rows read: stores what is new or changed and remembers it.
/// Where a pass stores its readings.
struct Target<'a> {
    store: &'a SqlStore,
    sealer: &'a vitalis_ingest::sealer::Sealer,
    patient: &'a PatientId,
    device: &'a DeviceId,
}

async fn pass(
    target: &Target<'_>,
    map: &ColumnMap,
    args: &WatchArgs,
    rows: &Rows,
    state: &mut State,
) -> Result<()> {
    let Some(((_, header), body)) = rows.split_first() else {
        return Ok(());
    };
    let header: Vec<String> = header.iter().map(cell_text).collect();
    let layout = map
        .resolve(&header)
        .with_context(|| format!("{}: header row", args.file.display()))?;
    let mut options = ImportOptions::new(now());
    if let Some(offset) = args.utc_offset {
        options.utc_offset = offset;
    }
    let mut reader = SheetReader::new(layout, options);
    let fresh: Vec<SheetRow> = body
        .iter()
        .map(|(number, cells)| reader.row(*number, cells))
        .filter(|row| state.rows.get(&row.row) != Some(&row.hash))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    for problem in fresh.iter().flat_map(|row| &row.problems) {
        eprintln!("watch: {}: {problem}", args.file.display());
    }
    let readings: Vec<_> = fresh.iter().flat_map(|row| row.readings.clone()).collect();
    let (mut taken, mut duplicates) = (0, 0);
    for chunk in readings.chunks(BATCH_READINGS) {
        let (mut batch, repeated) = new_batch(target.patient, target.device, chunk.to_vec(), now());
        batch.seal = match target.sealer.key_for(target.patient).await {
            Ok(seal) => seal,
            Err(err) => {
                eprintln!("watch: the patient's sealing key, trying again on the next pass: {err}");
                return Ok(());
            }
        };
        let receipt = match target.store.append(vec![batch]).await {
            Ok(mut receipts) => receipts.pop().context("the store answered no receipt")?,
            Err(err) => {
                // Nothing of this pass is remembered: the next pass sends it again, and
                // what did get stored meets itself as duplicates.
                eprintln!("watch: storing failed, trying again on the next pass: {err}");
                return Ok(());
            }
        };
        taken += receipt.accepted;
        duplicates += receipt.duplicates + repeated;
    }
    for row in &fresh {
        state.rows.insert(row.row, row.hash);
    }
    state.save()?;
    let (first, last) = (fresh[0].row, fresh[fresh.len() - 1].row);
    println!(
        "rows={first}-{last} changed_rows={} readings={} taken={taken} duplicates={duplicates}",
        fresh.len(),
        readings.len()
    );
    Ok(())
}

/// The device with this token, or else with this id; refused when revoked.
async fn find_device(store: &SqlStore, token_or_id: &str) -> Result<(PatientId, DeviceId)> {
    let token_hash = vitalis_server::tokens::hash(token_or_id);
    if let Some(auth) = store.device_by_token(token_hash).await? {
        return Ok((auth.patient, auth.device));
    }
    if let Ok(id) = DeviceId::new(token_or_id) {
        for patient in store.patient_ids().await? {
            let devices = store.devices(&patient).await?;
            if let Some(device) = devices.into_iter().find(|d| d.id == id) {
                if device.revoked_at.is_some() {
                    bail!("--device {id}: the device is revoked");
                }
                return Ok((patient, device.id));
            }
        }
    }
    bail!("--device: no device has this upload token or id")
}

/// A sheet's rows with their numbers (from 1, as a spreadsheet shows them).
use vitalis_import::sheet::Rows;

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Number(n) => n.to_string(),
        Cell::Text(t) => t.clone(),
    }
}

/// The complete lines of a CSV as rows of cells, numbered from 1; `None` while the file
/// has no complete line.
fn read_csv(path: &Path) -> Result<Option<Rows>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Ok(None);
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..=end]);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                rows.push((line, record.iter().map(Cell::from_text).collect()));
            }
            Ok(false) => break,
            Err(err) => bail!("{}: {err}", path.display()),
        }
    }
    Ok(Some(rows))
}

/// The first sheet of a workbook, rows numbered as the spreadsheet shows them; `None`
/// while it cannot be opened (being written).
fn read_xlsx(path: &Path) -> Result<Option<Rows>> {
    use calamine::{Reader, Xlsx, open_workbook};
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    // calamine 0.38 overflows on a cell reference with a long run of column letters (a
    // panic where overflow checks are on): a refusal naming the file, not a crash.
    let read = std::panic::catch_unwind(|| {
        let mut workbook = open_workbook::<Xlsx<_>, _>(path).ok()?;
        workbook.worksheet_range_at(0)?.ok()
    });
    let range = match read {
        Ok(Some(range)) => range,
        Ok(None) => return Ok(None),
        Err(_) => bail!(
            "{}: the workbook has a cell reference the XLSX reader cannot handle",
            path.display()
        ),
    };
    let rows = vitalis_import::sheet::rows_of_range(&range);
    Ok(Some(rows))
}

/// Row number → hash of what was stored, for one watched file, in
/// `DATA_DIR/watch/<hash of the path>.state`.
struct State {
    path: PathBuf,
    file: String,
    rows: BTreeMap<u64, u64>,
}

impl State {
    fn load(data_dir: &Path, file: &Path) -> Result<State> {
        let file = std::path::absolute(file)
            .unwrap_or_else(|_| file.to_owned())
            .display()
            .to_string();
        let key = hex::encode(&vitalis_server::tokens::hash(&file)[..8]);
        let dir = data_dir.join("watch");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{key}.state"));
        let mut rows = BTreeMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.starts_with('#')) {
                    let parsed = line.split_once(' ').and_then(|(row, hash)| {
                        Some((row.parse().ok()?, u64::from_str_radix(hash, 16).ok()?))
                    });
                    let Some((row, hash)) = parsed else {
                        bail!("{}: unreadable line {line:?}", path.display());
                    };
                    rows.insert(row, hash);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        Ok(State { path, file, rows })
    }

    /// Writes the state beside the old one and renames it over it.
    fn save(&self) -> Result<()> {
        let mut text = format!("# vitalis watch: row and hash of {}\n", self.file);
        for (row, hash) in &self.rows {
            text.push_str(&format!("{row} {hash:016x}\n"));
        }
        let tmp = self.path.with_extension("state.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))
    }
}
