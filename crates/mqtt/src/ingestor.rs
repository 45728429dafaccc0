//! The part both transports share: authenticate a message's sender, check its
//! signature, hand it to the pipeline, count the outcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use vitalis_ingest::{IngestError, Pipeline};
use vitalis_model::{DeviceId, PatientId};
use vitalis_store::directory::SourceKind;
use vitalis_store::{AppendReceipt, DeviceAuth, Store};

use crate::message::{Message, Refusal};
use crate::stats::MqttStats;

/// What became of one message.
#[derive(Debug)]
pub enum Outcome {
    /// Durably stored.
    Stored {
        /// The receipt, as the HTTP API gives it.
        receipt: AppendReceipt,
        /// The device's upload interval (seconds), sent with the receipt.
        upload_interval_s: u32,
    },
    /// Refused for good; sending it again gives the same answer.
    Refused(Refusal),
    /// The store could not take it now; nothing is acknowledged, the sender sends again.
    Unavailable,
}

/// How long the external path trusts what it looked up about a device: a revoked device
/// is refused at most this long after its revocation.
const DEVICE_CACHE_TTL: Duration = Duration::from_secs(30);
/// Beyond this many cached devices the cache starts over.
const DEVICE_CACHE_MAX: usize = 100_000;

type DeviceCache = HashMap<(String, String), (Option<DeviceAuth>, Instant)>;

/// Turns MQTT messages into pipeline submissions. Cheap to share behind an `Arc`.
pub struct Ingestor {
    pipeline: Pipeline,
    store: Arc<dyn Store>,
    stats: Arc<MqttStats>,
    devices: Mutex<DeviceCache>,
}

/// The stored form of a device token (SHA-256, as the HTTP API stores it).
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Ingestor {
    /// Feeds `pipeline`; looks devices up in `store`.
    pub fn new(pipeline: Pipeline, store: Arc<dyn Store>) -> Ingestor {
        Ingestor {
            pipeline,
            store,
            stats: Arc::new(MqttStats::default()),
            devices: Mutex::new(HashMap::new()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<MqttStats> {
        &self.stats
    }

    /// The device whose token is `password`, if it is `username`'s.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> vitalis_store::Result<Option<DeviceAuth>> {
        let found = self.store.device_by_token(token_hash(password)).await?;
        Ok(found.filter(|d| d.device.as_str() == username))
    }

    /// A message from a device authenticated by its token (the embedded endpoint). A
    /// device paired with a key must sign, as over HTTP.
    pub async fn from_authenticated(&self, device: &DeviceAuth, payload: &[u8]) -> Outcome {
        self.stats.message();
        let outcome = match &device.public_key {
            None => self.submit(device, payload).await,
            Some(key) => match Message::parse(payload).and_then(|m| {
                m.verify(key)?;
                Ok(m.upload_body())
            }) {
                Ok(body) => self.submit(device, &body).await,
                Err(refusal) => Outcome::Refused(refusal),
            },
        };
        self.count(outcome)
    }

    /// A message read from an external broker: it must name its patient and be signed
    /// with the key of the device its topic names.
    pub async fn from_broker(&self, device_id: &str, payload: &[u8]) -> Outcome {
        self.stats.message();
        let outcome = match self.check_signed(device_id, payload).await {
            Ok((device, body)) => self.submit(&device, &body).await,
            Err(not_taken) => not_taken,
        };
        self.count(outcome)
    }

    /// The device and the upload body of a signed message, or why it is not taken
    /// ([`Outcome::Refused`] or [`Outcome::Unavailable`]).
    async fn check_signed(
        &self,
        device_id: &str,
        payload: &[u8],
    ) -> Result<(DeviceAuth, Vec<u8>), Outcome> {
        let refused =
            |code: &str, message: &str| Outcome::Refused(Refusal::unauthorized(code, message));
        let message = Message::parse(payload).map_err(Outcome::Refused)?;
        let Some(patient) = message.patient.as_deref() else {
            return Err(Outcome::Refused(Refusal {
                field: Some("patient".into()),
                ..Refusal::unauthorized(
                    "unknown_device",
                    "over an external broker a message names its patient (\"patient\")",
                )
            }));
        };
        let device = self
            .device(patient, device_id)
            .await
            .map_err(|()| Outcome::Unavailable)?
            .ok_or_else(|| {
                refused(
                    "unknown_device",
                    "no active device with this id belongs to the message's patient",
                )
            })?;
        let key = device.public_key.ok_or_else(|| {
            refused(
                "unsigned_device",
                "this device has no Ed25519 key; over an external broker uploads must be signed",
            )
        })?;
        message.verify(&key).map_err(Outcome::Refused)?;
        let body = message.upload_body();
        Ok((device, body))
    }

    /// The paired, unrevoked device `device_id` of `patient`, through a short cache.
    async fn device(&self, patient: &str, device_id: &str) -> Result<Option<DeviceAuth>, ()> {
        let key = (patient.to_owned(), device_id.to_owned());
        if let Some((found, at)) = self.lock_devices().get(&key)
            && at.elapsed() < DEVICE_CACHE_TTL
        {
            return Ok(found.clone());
        }
        let (Ok(patient_id), Ok(device)) = (PatientId::new(patient), DeviceId::new(device_id))
        else {
            return Ok(None);
        };
        let devices = self.store.devices(&patient_id).await.map_err(|err| {
            tracing::error!(error = %err, "looking up an MQTT device failed");
        })?;
        let found = devices
            .into_iter()
            .find(|d| d.id == device && d.kind == SourceKind::Device && d.revoked_at.is_none())
            .map(|d| DeviceAuth {
                device: d.id,
                patient: patient_id,
                public_key: d
                    .public_key
                    .and_then(|k| hex::decode(k).ok())
                    .and_then(|k| <[u8; 32]>::try_from(k).ok()),
                upload_interval_s: d.upload_interval_s,
            });
        let mut cache = self.lock_devices();
        if cache.len() >= DEVICE_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (found.clone(), Instant::now()));
        Ok(found)
    }

    fn lock_devices(&self) -> std::sync::MutexGuard<'_, DeviceCache> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.devices.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn submit(&self, device: &DeviceAuth, body: &[u8]) -> Outcome {
        match self.pipeline.submit(device, body, None).await {
            Ok(receipt) => Outcome::Stored {
                receipt,
                upload_interval_s: device.upload_interval_s,
            },
            Err(IngestError::Unavailable) => Outcome::Unavailable,
            Err(err) => Outcome::Refused(err.into()),
        }
    }

    fn count(&self, outcome: Outcome) -> Outcome {
        match &outcome {
            Outcome::Stored { receipt, .. } => {
                self.stats.stored(receipt.accepted, receipt.duplicates)
            }
            Outcome::Refused(refusal) => self.stats.refused(refusal),
            Outcome::Unavailable => self.stats.unavailable(),
        }
        outcome
    }
}
