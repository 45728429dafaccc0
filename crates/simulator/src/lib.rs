//! Simulated smartwatches for Vitalis: plausible health readings, uploaded like a real
//! device would.
//!
//! Two parts:
//!
//! - [`physiology`]: a simulated [`Wearer`](physiology::Wearer), drawn from a seed,
//!   whose watch measures heart rate, steps, distance, energy, SpO2, blood pressure,
//!   temperature, breathing and sleep. Pure and deterministic: the same seed and
//!   interval always give the same readings, on fixed time grids, each valid under
//!   [`vitalis_model::RawReading::validate`].
//! - [`upload`]: runs many such devices against a server's `POST /api/v1/readings`,
//!   with idempotency keys, in-order retries with backoff, a bounded flush on stop,
//!   and [`Counters`](upload::Counters) for progress.
//!
//! Generating a day of readings:
//!
//! ```
//! use vitalis_simulator::physiology::Wearer;
//!
//! let day = 24 * 3_600_000;
//! let mut wearer = Wearer::new(7);
//! let readings = wearer.readings(20_000 * day, 20_001 * day);
//! assert_eq!(readings.iter().filter(|r| r.metric == "heart_rate").count(), 17_280);
//! ```
//!
//! Simulating twelve watches for an hour, with the last day as history:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use vitalis_simulator::upload::{Counters, SimConfig, SimDevice, report_progress, run};
//!
//! # async fn demo(tokens: Vec<String>) -> vitalis_simulator::Result<()> {
//! let config = SimConfig {
//!     duration: Some(Duration::from_secs(3600)),
//!     backfill: Duration::from_secs(24 * 3600),
//!     ..SimConfig::new("http://127.0.0.1:8080")
//! };
//! let devices = tokens.into_iter().map(SimDevice::new).collect();
//! let (stop_tx, stop) = tokio::sync::watch::channel(false);
//! let counters = Arc::new(Counters::new());
//! let progress = tokio::spawn(report_progress(counters.clone(), Duration::from_secs(1), stop.clone()));
//! let totals = run(config, devices, stop, counters).await?;
//! stop_tx.send_replace(true);
//! progress.await.ok();
//! println!("simulate: {totals}");
//! # Ok(())
//! # }
//! ```

mod error;
pub mod physiology;
pub mod upload;

pub use error::{Result, SimError};
