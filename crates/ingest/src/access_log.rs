//! The access-log committer: every interval, the accesses logged since the last batch are
//! committed on the ledger as one Merkle root, whatever their number.
//!
//! Each tick first re-sends batches left pending (claimed in the store, not yet confirmed:
//! the process stopped, or the ledger refused or timed out), then claims the entries in no
//! batch yet into a new one ([`Directory::claim_access_batch`]: root and every entry's
//! inclusion proof are stored before anything is sent) and commits its root
//! ([`PermissionLedger::commit_access`], which finds a batch already on the ledger instead
//! of sending it twice). An interval without new entries sends nothing. A failure is
//! logged and the batch stays pending, to be sent again at the next tick.
//!
//! [`Directory::claim_access_batch`]: vitalis_store::directory::Directory::claim_access_batch

use std::sync::Arc;
use std::time::Duration;

use vitalis_chain::ledger::LedgerError;
use vitalis_chain::permissions::PermissionLedger;
use vitalis_store::directory::PendingAccessBatch;
use vitalis_store::{AnchorOnChain, Store, StoreError};

/// Tuning of the access-log committer.
#[derive(Debug, Clone, Copy)]
pub struct AccessLogConfig {
    /// Time between batches.
    pub interval: Duration,
    /// Most entries in one batch (a backlog is committed over several ticks).
    pub max_entries: u32,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        AccessLogConfig {
            interval: Duration::from_secs(1),
            max_entries: 10_000,
        }
    }
}

/// Why one step of the committer failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Commits access-log batches from `store` on the ledger's access-log contract.
#[derive(Clone)]
pub struct AccessLogCommitter {
    store: Arc<dyn Store>,
    ledger: Arc<PermissionLedger>,
    config: AccessLogConfig,
}

impl AccessLogCommitter {
    /// A committer; nothing runs until [`AccessLogCommitter::spawn`] or
    /// [`AccessLogCommitter::tick`].
    pub fn new(
        store: Arc<dyn Store>,
        ledger: Arc<PermissionLedger>,
        config: AccessLogConfig,
    ) -> Self {
        AccessLogCommitter {
            store,
            ledger,
            config,
        }
    }

    /// One step: re-send pending batches, then commit what waits. Returns the batches
    /// confirmed in this step, in order.
    pub async fn tick(&self) -> Result<Vec<AnchorOnChain>, AccessLogError> {
        let mut confirmed = Vec::new();
        for pending in self.store.pending_access_batches().await? {
            confirmed.push(self.send(&pending).await?);
        }
        if let Some(pending) = self
            .store
            .claim_access_batch(self.config.max_entries)
            .await?
        {
            confirmed.push(self.send(&pending).await?);
        }
        Ok(confirmed)
    }

    async fn send(&self, pending: &PendingAccessBatch) -> Result<AnchorOnChain, AccessLogError> {
        let batch = self
            .ledger
            .commit_access(
                pending.root.into(),
                pending.first_entry,
                pending.entry_count,
            )
            .await?;
        if batch.first_entry != pending.first_entry || batch.entry_count != pending.entry_count {
            // The root is on the chain with other bounds: never confirm a batch the
            // chain describes differently.
            return Err(LedgerError::Inconsistent(format!(
                "access batch {}: the ledger has entries {}+{}, the store {}+{}",
                hex::encode(pending.root),
                batch.first_entry,
                batch.entry_count,
                pending.first_entry,
                pending.entry_count
            ))
            .into());
        }
        let on_chain = AnchorOnChain {
            index: batch.index,
            block_number: batch.location.block_number,
            tx_hash: batch.location.tx_hash.0,
        };
        self.store
            .confirm_access_batch(pending.id, &on_chain)
            .await?;
        tracing::debug!(
            entries = pending.entry_count,
            first = pending.first_entry,
            block = on_chain.block_number,
            index = on_chain.index,
            "access log committed"
        );
        Ok(on_chain)
    }

    /// Runs [`AccessLogCommitter::tick`] every interval until the task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = self.tick().await {
                    tracing::warn!(
                        error = %e,
                        "committing the access log failed; the batch stays pending and is sent again"
                    );
                }
            }
        })
    }
}
