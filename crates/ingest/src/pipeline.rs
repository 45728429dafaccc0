//! The ingest pipeline: check an upload, hand it to the single writer, wait until it is
//! durably committed, then publish it on the live bus.
//!
//! The writer task owns all writes. It takes the first waiting batch, drains whatever
//! else is queued (up to [`PipelineConfig::max_group_readings`]), and stores the group in
//! one transaction ([`Store::append`]): one durable commit for many concurrent uploads.
//! If a group fails, its batches are retried one by one so that one bad batch cannot
//! fail the others. Only after the commit does a caller get its receipt — an
//! acknowledged reading is durable.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, oneshot};
use vitalis_model::{DeviceId, PatientId, Reading, Section, Timestamp};
use vitalis_store::{AppendReceipt, DeviceAuth, NewBatch, Store};

use crate::batch::{self, BatchLimits};
use crate::error::IngestError;

/// Tuning of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Limits on one upload.
    pub limits: BatchLimits,
    /// Uploads waiting for the writer before new ones wait for a place.
    pub queue: usize,
    /// Most readings committed in one transaction.
    pub max_group_readings: usize,
    /// Live-bus capacity (batches); a slow subscriber beyond it misses batches.
    pub live_capacity: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            limits: BatchLimits::default(),
            queue: 1024,
            max_group_readings: 50_000,
            live_capacity: 1024,
        }
    }
}

/// Readings just committed for one patient, as the live bus carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBatch {
    /// Whose.
    pub patient: PatientId,
    /// From which device.
    pub device: DeviceId,
    /// The readings of the upload, by section.
    pub readings: Vec<(Section, Reading)>,
}

struct Job {
    batch: NewBatch,
    reply: oneshot::Sender<Result<AppendReceipt, IngestError>>,
}

/// Handle to the pipeline; cheap to clone. The writer stops when every handle is gone.
#[derive(Clone)]
pub struct Pipeline {
    jobs: mpsc::Sender<Job>,
    live: broadcast::Sender<Arc<LiveBatch>>,
    config: PipelineConfig,
    sealer: Option<Arc<crate::sealer::Sealer>>,
}

impl Pipeline {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>, config: PipelineConfig) -> Pipeline {
        let (jobs, rx) = mpsc::channel(config.queue);
        let (live, _) = broadcast::channel(config.live_capacity);
        tokio::spawn(write_loop(store, rx, config.max_group_readings));
        Pipeline {
            jobs,
            live,
            config,
            sealer: None,
        }
    }

    /// The same pipeline sealing each patient's protected records under the epoch key
    /// `sealer` hands out.
    pub fn with_sealer(mut self, sealer: Arc<crate::sealer::Sealer>) -> Pipeline {
        self.sealer = Some(sealer);
        self
    }

    /// Subscribes to every batch committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveBatch>> {
        self.live.subscribe()
    }

    /// Checks and stores one upload from `source`; returns once it is durable.
    pub async fn submit(
        &self,
        source: &DeviceAuth,
        body: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<AppendReceipt, IngestError> {
        if let Some(key) = idempotency_key {
            let printable = key.bytes().all(|b| b.is_ascii_graphic());
            if key.is_empty() || key.len() > 128 || !printable {
                return Err(IngestError::InvalidIdempotencyKey);
            }
        }
        let raw = batch::decode(body)?;
        let now = now();
        // Per-patient section settings arrive with accounts; until then the catalog decides.
        let checked = batch::check(&raw, self.config.limits, now, |m| m.spec().default_section)?;
        let live: Vec<(Section, Reading)> = checked
            .parts
            .iter()
            .flat_map(|(section, readings)| readings.iter().map(|r| (*section, *r)))
            .collect();
        let new = NewBatch {
            patient: source.patient.clone(),
            device: source.device.clone(),
            idempotency_key: idempotency_key.map(str::to_owned),
            parts: checked.parts,
            received_at: now,
            seal: match &self.sealer {
                Some(sealer) => sealer.key_for(&source.patient).await.map_err(|e| {
                    tracing::error!(error = %e, patient = %source.patient, "sealing key");
                    IngestError::Unavailable
                })?,
                None => None,
            },
        };
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { batch: new, reply })
            .await
            .map_err(|_| IngestError::Unavailable)?;
        let mut receipt = answer.await.map_err(|_| IngestError::Unavailable)??;
        receipt.duplicates += checked.repeated as u64;
        if !receipt.replayed && receipt.accepted > 0 {
            // Nobody listening is fine: the live bus is best effort, the store is not.
            let _ = self.live.send(Arc::new(LiveBatch {
                patient: source.patient.clone(),
                device: source.device.clone(),
                readings: live,
            }));
        }
        Ok(receipt)
    }
}

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::new(ms).unwrap_or_else(|_| unreachable!("duration since the epoch is positive"))
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, max_group_readings: usize) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut readings = reading_count(&group[0].batch);
        while readings < max_group_readings {
            match rx.try_recv() {
                Ok(job) => {
                    readings += reading_count(&job.batch);
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(store.as_ref(), group).await;
    }
}

fn reading_count(batch: &NewBatch) -> usize {
    batch.parts.iter().map(|(_, r)| r.len()).sum()
}

async fn commit_group(store: &dyn Store, group: Vec<Job>) {
    let batches: Vec<NewBatch> = group.iter().map(|job| job.batch.clone()).collect();
    match store.append(batches).await {
        Ok(receipts) => {
            for (job, receipt) in group.into_iter().zip(receipts) {
                let _ = job.reply.send(Ok(receipt));
            }
        }
        Err(err) if group.len() == 1 => {
            tracing::error!(error = %err, "storing a batch failed");
            for job in group {
                let _ = job.reply.send(Err(IngestError::Unavailable));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, batches = group.len(), "group commit failed; retrying batches one by one");
            for job in group {
                Box::pin(commit_group(store, vec![job])).await;
            }
        }
    }
}
