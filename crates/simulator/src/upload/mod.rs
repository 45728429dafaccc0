//! The uploader: simulated devices that post their readings to a Vitalis server.
//!
//! [`run`] starts one task per device. Every [`SimConfig::interval`] a device generates
//! the readings of the time elapsed since its previous upload (see
//! [`crate::physiology`]) and posts them to `POST {server}/api/v1/readings`:
//!
//! - headers `Authorization: Bearer {token}` and `Idempotency-Key: {uuid v4}`, the key
//!   fresh per batch and kept across that batch's retries;
//! - body `{"readings": [RawReading, …]}`, at most [`SimConfig::max_batch`] readings;
//! - a 200 answer `{"accepted": N, "duplicates": M, …}` acknowledges `N + M` readings;
//! - any other 4xx but 408 and 429 rejects the batch for good: it is logged with the
//!   answer's body, counted as rejected and not retried;
//! - 5xx, 408, 429 and network errors are retried with the same batch and key, after
//!   200 ms, doubling up to 10 s, with jitter (honouring `Retry-After`), until it is
//!   delivered. A device's later batches wait behind it, so they arrive in order.
//!
//! The run ends after [`SimConfig::duration`] or when the stop signal turns `true`.
//! Devices then generate their last interval and flush their queues for at most
//! [`SimConfig::flush_timeout`]; readings still undelivered after that are counted as
//! unsent. Progress is visible through [`Counters`] while the run goes on.

mod client;
mod counters;
mod device;
mod progress;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reqwest::{Client, Url};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::client::Uploader;
pub use self::counters::{Counters, CountersSnapshot};
use self::device::{Device, Schedule, now_ms};
pub use self::progress::report_progress;
use crate::error::{Result, SimError};
use crate::physiology::Wearer;

/// Path of the upload endpoint, below the server's base URL.
pub const READINGS_PATH: &str = "/api/v1/readings";
/// Longest wait for one upload's answer before it counts as a network error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a simulation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Base URL of the server, such as `http://127.0.0.1:8080` (`http` only).
    pub server: String,
    /// Time between a device's uploads (default 10 s).
    pub interval: Duration,
    /// Seed of the first device's wearer; device `i` uses `seed + i` (default 0).
    pub seed: u64,
    /// How long to run; `None` (the default) runs until the stop signal.
    pub duration: Option<Duration>,
    /// History to generate up front: when non-zero, each device's first upload covers
    /// `[start - backfill, now)` so a demo shows data at once (default zero).
    pub backfill: Duration,
    /// How long devices may keep delivering once the run is stopping (default 10 s).
    pub flush_timeout: Duration,
    /// Most readings in one request (default 2,000; the server accepts up to 10,000).
    pub max_batch: usize,
}

impl SimConfig {
    /// Defaults for the server at `server`.
    pub fn new(server: impl Into<String>) -> SimConfig {
        SimConfig {
            server: server.into(),
            interval: Duration::from_secs(10),
            seed: 0,
            duration: None,
            backfill: Duration::ZERO,
            flush_timeout: Duration::from_secs(10),
            max_batch: 2_000,
        }
    }

    /// The upload endpoint, after checking the whole configuration.
    fn endpoint(&self) -> Result<Url> {
        if self.interval.is_zero() {
            return Err(SimError::ZeroInterval);
        }
        if self.max_batch == 0 {
            return Err(SimError::ZeroBatch);
        }
        let invalid = |reason: String| SimError::InvalidServer {
            url: self.server.clone(),
            reason,
        };
        let url = format!("{}{READINGS_PATH}", self.server.trim_end_matches('/'));
        let url = Url::parse(&url).map_err(|e| invalid(e.to_string()))?;
        if url.scheme() != "http" {
            return Err(invalid(
                "only http:// is supported (the simulator is built without TLS)".into(),
            ));
        }
        Ok(url)
    }
}

/// A device to simulate, known to the server by its token.
#[derive(Clone, PartialEq, Eq)]
pub struct SimDevice {
    /// The device's bearer token.
    pub token: String,
}

impl SimDevice {
    /// A device with this token.
    pub fn new(token: impl Into<String>) -> SimDevice {
        SimDevice {
            token: token.into(),
        }
    }
}

impl fmt::Debug for SimDevice {
    /// Never shows the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDevice")
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Runs the simulation: one task per device, as described in the [module docs](self).
///
/// Returns the final counts once every device has stopped (after `config.duration`, or
/// when `stop` holds `true`, plus at most `config.flush_timeout` of delivery). A `stop`
/// whose sender is dropped without sending `true` never stops the run. `counters` may
/// be shared with [`report_progress`]; device counts are added to it.
pub async fn run(
    config: SimConfig,
    devices: Vec<SimDevice>,
    stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Result<CountersSnapshot> {
    let endpoint = config.endpoint()?;
    if devices.is_empty() {
        return Err(SimError::NoDevices);
    }
    let client = Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(SimError::Client)?;
    let uploaders = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Uploader::new(client.clone(), endpoint.clone(), &d.token, i)
                .ok_or(SimError::InvalidToken { device: i })
        })
        .collect::<Result<Vec<_>>>()?;
    counters.add_devices(uploaders.len());
    let schedule = schedule(&config);
    let count = uploaders.len() as u32;
    let mut tasks = JoinSet::new();
    for (i, uploader) in (0u32..).zip(uploaders) {
        let seed = config.seed.wrapping_add(u64::from(i));
        let device = Device {
            wearer: Wearer::new(seed),
            uploader,
            counters: counters.clone(),
            stop: stop.clone(),
            schedule,
            stagger: config.interval * i / count,
            // Jitter only spreads retries out; any seed apart from the wearer's will do.
            jitter: ChaCha8Rng::seed_from_u64(!seed),
        };
        tasks.spawn(device.run());
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(SimError::Task)?;
    }
    Ok(counters.snapshot())
}

/// The run's time frame, starting now.
fn schedule(config: &SimConfig) -> Schedule {
    let (start_ms, started) = (now_ms(), Instant::now());
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
    Schedule {
        first_ms: start_ms.saturating_sub(millis(config.backfill)).max(0),
        end_ms: config.duration.map(|d| start_ms.saturating_add(millis(d))),
        end_at: config.duration.and_then(|d| started.checked_add(d)),
        interval: config.interval,
        flush_timeout: config.flush_timeout,
        max_batch: config.max_batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_joins_the_base_url_and_checks_the_configuration() {
        let config = SimConfig::new("http://127.0.0.1:8080/");
        assert_eq!(
            config.endpoint().unwrap().as_str(),
            "http://127.0.0.1:8080/api/v1/readings"
        );
        let prefixed = SimConfig::new("http://example.invalid/vitalis");
        assert_eq!(
            prefixed.endpoint().unwrap().as_str(),
            "http://example.invalid/vitalis/api/v1/readings"
        );
        for bad in ["127.0.0.1:8080", "https://example.invalid", "not a url"] {
            assert!(
                matches!(
                    SimConfig::new(bad).endpoint(),
                    Err(SimError::InvalidServer { .. })
                ),
                "{bad}"
            );
        }
        let zero = SimConfig {
            interval: Duration::ZERO,
            ..config.clone()
        };
        assert!(matches!(zero.endpoint(), Err(SimError::ZeroInterval)));
        let empty = SimConfig {
            max_batch: 0,
            ..config
        };
        assert!(matches!(empty.endpoint(), Err(SimError::ZeroBatch)));
    }

    #[test]
    fn device_debug_hides_the_token() {
        assert!(!format!("{:?}", SimDevice::new("s3cret")).contains("s3cret"));
    }
}
