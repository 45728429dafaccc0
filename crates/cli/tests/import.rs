//! `vitalis import` and `vitalis watch` against a temporary data directory: every real
//! test file imported with counts derived here from the file itself, a second import that
//! stores nothing, a truncated file that stops with exit status 3 and says where, and a
//! sheet that grows (half-written last line included) while `vitalis watch` follows it.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Row};
use support::{field, vitalis, vitalis_ok};

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

/// A data directory with one patient; returns it and the patient's id.
fn with_patient() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = vitalis_ok(&["patient", "add", "--data-dir", dir.path().to_str().unwrap()]);
    (dir, field(&out, "patient_id"))
}

/// `vitalis import KIND PATH --patient P EXTRA…`; requires success, returns stdout.
fn import(
    dir: &tempfile::TempDir,
    patient: &str,
    kind: &str,
    path: &Path,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "import",
        kind,
        path.to_str().unwrap(),
        "--patient",
        patient,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    vitalis_ok(&args)
}

fn number(output: &str, key: &str) -> u64 {
    field(output, key).parse().unwrap()
}

/// Stored readings per metric (of any source), as `(metric, count)` sorted by metric.
async fn stored(dir: &Path) -> Vec<(String, i64)> {
    let url = format!("sqlite://{}", dir.join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT metric, COUNT(*) AS n FROM readings GROUP BY metric ORDER BY metric")
        .fetch_all(&mut db)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("metric"), row.get("n")))
        .collect()
}

/// Lines of a text file.
fn lines(path: &Path) -> u64 {
    std::fs::read_to_string(path).unwrap().lines().count() as u64
}

#[tokio::test]
async fn fitbit_files_import_once_and_only_the_chosen_user() {
    let (dir, patient) = with_patient();
    let hourly = testdata("fitbit_mturk_2016/hourlySteps_merged.csv");
    let text = std::fs::read_to_string(&hourly).unwrap();
    let user = "1503960366";
    let rows_of_user = text
        .lines()
        .filter(|l| l.starts_with("1503960366,"))
        .count() as u64;
    let users: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(users.len() > 1);

    // Several users and none chosen: refused, naming them; nothing stored.
    let args = [
        "import",
        "fitbit",
        hourly.to_str().unwrap(),
        "--patient",
        &patient,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    let out = vitalis(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hourlySteps_merged.csv")
            && err.contains(&format!("{} Fitbit users", users.len()))
            && err.contains("--fitbit-user")
            && err.contains(user),
        "{err}"
    );
    let mut wrong = args.to_vec();
    wrong.extend(["--fitbit-user", "42"]);
    let out = vitalis(&wrong);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no Fitbit user 42"),
        "{err}"
    );
    assert!(stored(dir.path()).await.is_empty());

    let first = import(
        &dir,
        &patient,
        "fitbit",
        &hourly,
        &["--fitbit-user", user, "--utc-offset", "-07:00"],
    );
    assert_eq!(number(&first, "taken"), rows_of_user, "{first}");
    assert_eq!(number(&first, "duplicates"), 0);
    assert_eq!(number(&first, "skipped"), 0);
    assert_eq!(
        number(&first, "other_users"),
        text.lines().count() as u64 - 1 - rows_of_user
    );
    assert_eq!(
        stored(dir.path()).await,
        [("steps".to_owned(), rows_of_user as i64)]
    );

    let again = import(
        &dir,
        &patient,
        "fitbit",
        &hourly,
        &["--fitbit-user", user, "--utc-offset=-07:00"],
    );
    assert_eq!(number(&again, "taken"), 0, "{again}");
    assert_eq!(number(&again, "duplicates"), rows_of_user);
    assert_eq!(number(&again, "records"), 0);
    assert_eq!(field(&again, "source"), field(&first, "source"));
    assert_eq!(
        stored(dir.path()).await,
        [("steps".to_owned(), rows_of_user as i64)]
    );

    // One user in the file: no flag needed. Every data line is a reading.
    let seconds = testdata(
        "fitbit_mturk_2016/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/heartrate_seconds_merged.csv",
    );
    let out = import(&dir, &patient, "fitbit", &seconds, &[]);
    assert_eq!(number(&out, "taken"), lines(&seconds) - 1, "{out}");
    assert_eq!(number(&out, "readings"), lines(&seconds) - 1);
}

#[tokio::test]
async fn a_truncated_file_stores_what_came_before_and_exits_3() {
    let (dir, patient) = with_patient();
    let full = std::fs::read(testdata(
        "fitbit_mturk_2016/heartrate_seconds_subsets/weronikakr_Real-Time-Analysis/heartrate_seconds_merged.csv",
    ))
    .unwrap();
    // Cut in the middle of a line.
    let mut cut = full.len() / 2;
    while full[cut - 1] == b'\n' || full[cut] == b'\n' {
        cut += 1;
    }
    let complete_lines = full[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
    let path = dir.path().join("heartrate_seconds_merged.csv");
    std::fs::write(&path, &full[..cut]).unwrap();

    let args = [
        "import",
        "fitbit",
        path.to_str().unwrap(),
        "--patient",
        &patient,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    let out = vitalis(&args);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(number(&stdout, "taken"), complete_lines - 1, "{stdout}");
    let at = field(&stdout, "stopped_at");
    assert_eq!(
        at,
        format!("{}:line {}", path.display(), complete_lines + 1),
        "{stdout}"
    );
    assert!(field(&stdout, "error").contains("truncated"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("heartrate_seconds_merged.csv"));
    assert_eq!(
        stored(dir.path()).await,
        [("heart_rate".to_owned(), complete_lines as i64 - 1)]
    );

    // Run again on the same cut file: the same place, nothing new.
    let out = vitalis(&args);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        (number(&stdout, "taken"), number(&stdout, "duplicates")),
        (0, complete_lines - 1)
    );
}

#[tokio::test]
async fn apple_fit_and_empatica_files_import_with_counts_from_the_files() {
    let (dir, patient) = with_patient();

    // Apple Health: every <Record> is a reading or a skipped value.
    let xml = testdata("apple_health/tdda_applehealthdata/export6s3sample.xml");
    let records = std::fs::read_to_string(&xml)
        .unwrap()
        .matches("<Record ")
        .count() as u64;
    let out = import(&dir, &patient, "apple-health", &xml, &[]);
    assert_eq!(
        number(&out, "taken") + number(&out, "skipped"),
        records,
        "{out}"
    );
    assert_eq!(number(&out, "skipped"), 0);
    // The unpacked export folder.
    let folder = testdata("apple_health/dogsheep_healthkit-to-sqlite/zip_contents");
    let inner = folder.join("apple_health_export/export.xml");
    let records = std::fs::read_to_string(&inner)
        .unwrap()
        .matches("<Record ")
        .count() as u64;
    let out = import(&dir, &patient, "apple-health", &folder, &[]);
    assert_eq!(
        number(&out, "taken") + number(&out, "skipped"),
        records,
        "{out}"
    );
    assert_eq!(number(&out, "skipped_unknown_type"), 1, "{out}");
    assert!(
        field(&out, "example_unknown_type").contains("BodyMassIndex"),
        "{out}"
    );

    // FIT: the COROS file has 8,946 records with a heart rate (python-fitparse's count).
    let fit = testdata("garmin_fit/coros-pace-2-cycling-misaligned-fields.fit");
    let out = import(&dir, &patient, "garmin-fit", &fit, &[]);
    let heart_rate = stored(dir.path())
        .await
        .into_iter()
        .find(|(m, _)| m == "heart_rate")
        .unwrap();
    assert_eq!(heart_rate.1, 8_946 + 1, "{out}"); // + the Apple Watch's one
    let again = import(&dir, &patient, "garmin-fit", &fit, &[]);
    assert_eq!(number(&again, "taken"), 0);
    assert_eq!(number(&again, "duplicates"), number(&out, "taken"));

    // Empatica: two preamble rows per HR/TEMP file, one header row in IBI; each sample a
    // reading or (skin temperature below the body-temperature range) skipped.
    let session = testdata("physionet_wearable_exam_stress/Data/S2/Final");
    let samples = lines(&session.join("HR.csv")) - 2 + lines(&session.join("TEMP.csv")) - 2
        + lines(&session.join("IBI.csv"))
        - 1;
    let before: i64 = stored(dir.path()).await.iter().map(|(_, n)| n).sum();
    let out = import(&dir, &patient, "empatica", &session, &[]);
    assert_eq!(
        number(&out, "taken") + number(&out, "skipped"),
        samples,
        "{out}"
    );
    assert_eq!(
        number(&out, "skipped"),
        number(&out, "skipped_out_of_range"),
        "{out}"
    );
    let after: i64 = stored(dir.path()).await.iter().map(|(_, n)| n).sum();
    assert_eq!((after - before) as u64, number(&out, "taken"));
    let rr = stored(dir.path())
        .await
        .into_iter()
        .find(|(m, _)| m == "rr_interval")
        .unwrap();
    assert_eq!(rr.1 as u64, lines(&session.join("IBI.csv")) - 1);
}

#[test]
fn import_errors_name_the_file() {
    let (dir, patient) = with_patient();
    let base = [
        "--patient",
        &patient,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ];
    let missing = dir.path().join("nothing.fit");
    let mut args = vec!["import", "garmin-fit", missing.to_str().unwrap()];
    args.extend(base);
    let out = vitalis(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing.fit"));

    // A Fitbit layout it does not know: the header is named.
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "Id,When,What\n1,4/12/2016,3\n").unwrap();
    let mut args = vec!["import", "fitbit", odd.to_str().unwrap()];
    args.extend(base);
    let out = vitalis(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("odd.csv") && err.contains("When"),
        "{err}"
    );

    // An unknown patient.
    let fit = testdata("garmin_fit/garmin-fenix-5-run.fit");
    let out = vitalis(&[
        "import",
        "garmin-fit",
        fit.to_str().unwrap(),
        "--patient",
        "p0000",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("p0000"), "{err}");
}

/// An Excel serial date for 2025-01-01 plus `minutes`.
fn serial(minutes: u32) -> String {
    format!("{:.10}", 45_658.0 + f64::from(minutes) / 1440.0)
}

/// Stored readings of one metric as `(t, value)`, in time order.
async fn series(dir: &Path, metric: &str) -> Vec<(i64, f64)> {
    let url = format!("sqlite://{}", dir.join("vitalis.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT t, v1 FROM readings WHERE metric = $1 ORDER BY t")
        .bind(metric)
        .fetch_all(&mut db)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get("t"),
                row.get::<Option<f64>, _>("v1").unwrap_or_default(),
            )
        })
        .collect()
}

/// The per-minute means of a sealed metric (the index keeps no values of sealed readings),
/// read through the store with the node's rollup key, as the server charts them.
async fn sealed_minute_means(dir: &Path, metric: vitalis_model::Metric) -> Vec<f64> {
    use vitalis_store::Analysis;
    let url = format!("sqlite://{}", dir.join("vitalis.db").display());
    let key: Vec<u8> = {
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT value FROM settings WHERE key = 'supervisor_chameleon_public_key'")
            .fetch_one(&mut db)
            .await
            .unwrap()
            .get("value")
    };
    let key =
        vitalis_crypto::chameleon::ChameleonPublicKey::from_bytes(key.try_into().unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("keys/rollup.key")).unwrap();
    let mut rollup = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut rollup).unwrap();
    let store = vitalis_store::SqlStore::open(&url, &key)
        .await
        .unwrap()
        .with_rollup_key(vitalis_crypto::envelope::DataKey::from_bytes(rollup));
    let patient: String = {
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT patient_id FROM readings WHERE metric = $1 LIMIT 1")
            .bind(metric.name())
            .fetch_one(&mut db)
            .await
            .unwrap()
            .get("patient_id")
    };
    let patient = vitalis_model::PatientId::new(patient).unwrap();
    let means = store
        .rollups(&patient, metric, 0, i64::MAX / 2)
        .await
        .unwrap()
        .iter()
        .map(|b| b.mean())
        .collect();
    store.close().await;
    means
}

/// Waits until `metric` has `n` stored readings (or fails after 30 s).
async fn wait_for(dir: &Path, metric: &str, n: usize) -> Vec<(i64, f64)> {
    let start = Instant::now();
    loop {
        let got = series(dir, metric).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{metric}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Watcher(Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A data directory with a patient and a device; returns it and the device token.
fn with_device() -> (tempfile::TempDir, String, String) {
    let (dir, patient) = with_patient();
    let out = vitalis_ok(&[
        "device",
        "add",
        "--patient",
        &patient,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    (dir, field(&out, "device_token"), field(&out, "device_id"))
}

#[tokio::test]
async fn watch_stores_each_new_row_once_and_waits_for_a_half_written_line() {
    let (dir, token, _) = with_device();
    let sheet = dir.path().join("sheet.csv");
    let t = |minutes: u32| 1_735_689_600_000 + i64::from(minutes) * 60_000;
    std::fs::write(
        &sheet,
        format!(
            "Time,Steps,Heart Rate\n{},100,70\n{},250,72\n{},260,71\n",
            serial(0),
            serial(5),
            serial(10)
        ),
    )
    .unwrap();
    let _watcher = Watcher(
        Command::new(env!("CARGO_BIN_EXE_vitalis"))
            .args([
                "watch",
                sheet.to_str().unwrap(),
                "--device",
                &token,
                "--interval",
                "100ms",
                "--data-dir",
                dir.path().to_str().unwrap(),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert_eq!(
        wait_for(dir.path(), "steps", 3).await,
        [(t(0), 100.0), (t(5), 150.0), (t(10), 10.0)]
    );
    assert_eq!(wait_for(dir.path(), "heart_rate", 3).await.len(), 3);

    // Two complete rows (the second after a counter reset) and half of a third.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&sheet)
        .unwrap();
    write!(
        file,
        "{},400,75\n{},20,76\n{},90,",
        serial(15),
        serial(20),
        serial(25)
    )
    .unwrap();
    file.flush().unwrap();
    let steps = wait_for(dir.path(), "steps", 5).await;
    assert_eq!(steps[3..], [(t(15), 140.0), (t(20), 20.0)]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        series(dir.path(), "steps").await.len(),
        5,
        "the half line was read"
    );
    assert_eq!(series(dir.path(), "heart_rate").await.len(), 5);

    // The line is finished: its heart rate, missing from the half line, is there.
    writeln!(file, "78").unwrap();
    file.flush().unwrap();
    let steps = wait_for(dir.path(), "steps", 6).await;
    assert_eq!(steps[5], (t(25), 70.0));
    let heart = wait_for(dir.path(), "heart_rate", 6).await;
    // Heart rate is protected: sealed, so the index holds no value of it.
    assert!(heart.iter().all(|(_, v)| *v == 0.0), "{heart:?}");
    assert_eq!(
        sealed_minute_means(dir.path(), vitalis_model::Metric::HeartRate).await,
        [70.0, 72.0, 71.0, 75.0, 76.0, 78.0]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(series(dir.path(), "steps").await.len(), 6);
    assert_eq!(series(dir.path(), "heart_rate").await.len(), 6);
    drop(_watcher);

    // A new run remembers what was stored: nothing is sent again.
    let out = vitalis_ok(&[
        "watch",
        sheet.to_str().unwrap(),
        "--device",
        &token,
        "--once",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out, "", "{out}");
    assert_eq!(series(dir.path(), "heart_rate").await.len(), 6);
}

#[tokio::test]
async fn watch_reports_bad_rows_by_number_and_names_missing_columns() {
    let (dir, token, device_id) = with_device();
    let sheet = dir.path().join("log.csv");
    std::fs::write(
        &sheet,
        "When,Pulse,Oxygen\n2025-01-01 00:00,61,97\n2025-01-01 00:05,400,98\nsoon,62,99\n",
    )
    .unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let watch = |map: &str| {
        vitalis(&[
            "watch",
            sheet.to_str().unwrap(),
            "--device",
            &device_id,
            "--map",
            map,
            "--once",
            "--data-dir",
            data_dir,
        ])
    };
    let out = watch("time=When,heart_rate=Pulse,spo2=O2");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"O2\"") && err.contains("[\"When\", \"Pulse\", \"Oxygen\"]"),
        "{err}"
    );

    let out = watch("time=When,heart_rate=Pulse,spo2=Oxygen");
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("row 3: ") && err.contains("400"), "{err}");
    assert!(err.contains("row 4: time \"soon\""), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("taken=3"), "{stdout}");
    assert_eq!(series(dir.path(), "heart_rate").await.len(), 1);
    assert_eq!(series(dir.path(), "spo2").await.len(), 2);
    // Reported once: a second pass finds nothing new.
    let out = watch("time=When,heart_rate=Pulse,spo2=Oxygen");
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("row 3"));

    let _ = token;
}

/// A workbook whose first sheet holds `rows` (numbers, or text for the header), written
/// with the smallest set of parts a reader needs.
fn write_xlsx(path: &Path, rows: &[Vec<String>]) {
    use zip::write::SimpleFileOptions;
    let mut sheet = String::from("<worksheet><sheetData>");
    for (i, row) in rows.iter().enumerate() {
        sheet.push_str(&format!("<row r=\"{}\">", i + 1));
        for (j, cell) in row.iter().enumerate() {
            let at = format!("{}{}", char::from(b'A' + j as u8), i + 1);
            if cell.parse::<f64>().is_ok() {
                sheet.push_str(&format!("<c r=\"{at}\"><v>{cell}</v></c>"));
            } else {
                sheet.push_str(&format!(
                    "<c r=\"{at}\" t=\"inlineStr\"><is><t>{cell}</t></is></c>"
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let parts = [
        (
            "_rels/.rels",
            "<Relationships><Relationship Id=\"rId1\" Type=\"x/relationships/officeDocument\" \
             Target=\"xl/workbook.xml\"/></Relationships>"
                .to_owned(),
        ),
        (
            "xl/workbook.xml",
            "<workbook xmlns:r=\"r\"><sheets><sheet name=\"Log\" sheetId=\"1\" r:id=\"rId1\"/>\
             </sheets></workbook>"
                .to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            "<Relationships><Relationship Id=\"rId1\" Type=\"x/relationships/worksheet\" \
             Target=\"worksheets/sheet1.xml\"/></Relationships>"
                .to_owned(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let tmp = path.with_extension("tmp");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&tmp).unwrap());
    for (name, text) in parts {
        zip.start_file(
            name,
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn watch_reads_xlsx_sheets_and_waits_while_one_is_being_written() {
    let (dir, token, _) = with_device();
    let book = dir.path().join("log.xlsx");
    let header = vec![
        "Time".to_owned(),
        "Steps".to_owned(),
        "Heart Rate".to_owned(),
    ];
    let row = |minutes: u32, steps: u32, hr: u32| {
        vec![serial(minutes), steps.to_string(), hr.to_string()]
    };
    let once = || {
        vitalis_ok(&[
            "watch",
            book.to_str().unwrap(),
            "--device",
            &token,
            "--once",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
    };
    // Being saved: not a workbook yet. Nothing is read, and that is no error.
    std::fs::write(&book, b"PK\x03\x04 half").unwrap();
    assert_eq!(once(), "");

    write_xlsx(&book, &[header.clone(), row(0, 100, 70), row(5, 180, 72)]);
    let out = once();
    assert!(out.contains("taken=4"), "{out}");
    write_xlsx(
        &book,
        &[header, row(0, 100, 70), row(5, 180, 72), row(10, 200, 74)],
    );
    let out = once();
    assert!(out.contains("rows=4-4") && out.contains("taken=2"), "{out}");
    let t0 = 1_735_689_600_000;
    assert_eq!(
        series(dir.path(), "steps").await,
        [(t0, 100.0), (t0 + 300_000, 80.0), (t0 + 600_000, 20.0)]
    );
    assert_eq!(series(dir.path(), "heart_rate").await.len(), 3);
}

#[tokio::test]
async fn google_fit_daily_rows_are_stamped_at_local_midnight() {
    // testdata/ has no Google Fit export; two daily rows in its Takeout layout.
    let (dir, patient) = with_patient();
    let path = dir.path().join("Daily activity metrics.csv");
    std::fs::write(
        &path,
        "Date,Step count,Average heart rate (bpm)\n2021-03-01,5000,64\n2021-03-02,,900\n",
    )
    .unwrap();
    let out = import(
        &dir,
        &patient,
        "google-fit",
        &path,
        &["--utc-offset", "+02:00"],
    );
    assert_eq!(number(&out, "taken"), 2, "{out}");
    assert_eq!(number(&out, "skipped_out_of_range"), 1, "{out}");
    assert!(
        field(&out, "example_out_of_range").starts_with("line 3: "),
        "{out}"
    );
    // 2021-03-01 00:00 at UTC+02:00.
    assert_eq!(
        series(dir.path(), "steps").await,
        [(1_614_549_600_000, 5000.0)]
    );
}

/// A workbook (found by fuzzing the sheet reader) whose cell reference has a long run of
/// column letters, on which calamine 0.38 overflows: `watch` reports it, naming the file,
/// and waits for a readable version instead of crashing.
#[test]
fn watch_reports_a_workbook_the_xlsx_reader_cannot_handle() {
    let (dir, _token, device_id) = with_device();
    let sheet = dir.path().join("fuzzed.xlsx");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/long-column-reference.xlsx"),
        &sheet,
    )
    .unwrap();
    let out = vitalis(&[
        "watch",
        sheet.to_str().unwrap(),
        "--device",
        &device_id,
        "--once",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "not a crash: {err}");
    assert!(
        err.contains(
            "fuzzed.xlsx: the workbook has a cell reference the XLSX reader cannot handle; waiting for it"
        ),
        "{err}"
    );
}
