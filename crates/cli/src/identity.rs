//! `vitalis patient add` and `vitalis device add`: minimal identities until accounts
//! arrive. Output is `key=value` lines, easy to read and to parse in scripts.

use anyhow::{Context, Result};
use vitalis_model::PatientId;
use vitalis_server::tokens;

use crate::config::Config;

pub(crate) async fn add_patient(config: Config) -> Result<()> {
    let store = config.open_store().await?;
    let created = tokens::add_patient(&store).await?;
    println!("patient_id={}", created.patient);
    println!("patient_token={}", created.token);
    Ok(())
}

pub(crate) async fn add_device(config: Config, patient: &str) -> Result<()> {
    let patient = PatientId::new(patient).context("--patient")?;
    let store = config.open_store().await?;
    let created = tokens::add_device(&store, &patient)
        .await
        .with_context(|| format!("adding a device to patient {patient}"))?;
    println!("device_id={}", created.device);
    println!("device_token={}", created.token);
    Ok(())
}
