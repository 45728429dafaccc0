//! The anchoring service: every interval, the records stored since the last anchor are
//! committed on the ledger in one transaction, whatever their number.
//!
//! Each tick first finishes anchors left pending (claimed in the store, not yet confirmed:
//! the process stopped, or the ledger refused or timed out), then claims the records in
//! no anchor yet into a new one ([`Store::claim_for_anchor`]: root and inclusion proofs
//! are stored before anything is sent) and sends its root ([`Ledger::anchor`], which
//! finds an anchor already on the ledger instead of sending it twice). An interval
//! without new records sends nothing. A failure is logged and the anchor stays pending,
//! to be sent again at the next tick: nothing is lost silently.

use std::sync::Arc;
use std::time::Duration;

use vitalis_chain::ledger::{AnchorRequest, Ledger, LedgerError};
use vitalis_store::{AnchorOnChain, PendingAnchor, Store, StoreError};

/// Tuning of the anchoring service.
#[derive(Debug, Clone, Copy)]
pub struct AnchoringConfig {
    /// Time between anchors.
    pub interval: Duration,
    /// Most records in one anchor (a backlog is anchored over several ticks).
    pub max_records: u32,
}

impl Default for AnchoringConfig {
    fn default() -> Self {
        AnchoringConfig {
            interval: Duration::from_secs(1),
            max_records: 100_000,
        }
    }
}

/// Why one anchoring step failed.
#[derive(Debug, thiserror::Error)]
pub enum AnchoringError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Anchors records from `store` on `ledger`.
#[derive(Clone)]
pub struct Anchorer {
    store: Arc<dyn Store>,
    ledger: Arc<dyn Ledger>,
    config: AnchoringConfig,
}

impl Anchorer {
    /// An anchoring service; nothing runs until [`Anchorer::spawn`] or [`Anchorer::tick`].
    pub fn new(store: Arc<dyn Store>, ledger: Arc<dyn Ledger>, config: AnchoringConfig) -> Self {
        Anchorer {
            store,
            ledger,
            config,
        }
    }

    /// One step: finish pending anchors, then anchor what waits. Returns the anchors
    /// confirmed in this step.
    pub async fn tick(&self) -> Result<Vec<AnchorOnChain>, AnchoringError> {
        let mut confirmed = Vec::new();
        for pending in self.store.pending_anchors().await? {
            confirmed.push(self.send(&pending).await?);
        }
        if let Some(pending) = self.store.claim_for_anchor(self.config.max_records).await? {
            confirmed.push(self.send(&pending).await?);
        }
        Ok(confirmed)
    }

    async fn send(&self, pending: &PendingAnchor) -> Result<AnchorOnChain, AnchoringError> {
        let location = self
            .ledger
            .anchor(&AnchorRequest {
                root: pending.root.into(),
                record_count: pending.record_count,
                interval_start: pending.interval_start.millis().max(0) as u64,
                interval_end: pending.interval_end.millis().max(0) as u64,
            })
            .await?;
        let on_chain = AnchorOnChain {
            index: location.index,
            block_number: location.block_number,
            tx_hash: location.tx_hash.0,
        };
        self.store.confirm_anchor(pending.id, &on_chain).await?;
        tracing::debug!(
            records = pending.record_count,
            block = on_chain.block_number,
            index = on_chain.index,
            "anchored"
        );
        Ok(on_chain)
    }

    /// Runs [`Anchorer::tick`] every interval until the task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = self.tick().await {
                    tracing::warn!(error = %e, "anchoring failed; the anchor stays pending and is sent again");
                }
            }
        })
    }
}
