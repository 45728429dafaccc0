//! The [`Ledger`]: what the rest of Vitalis asks of a chain — put an anchor on it, find
//! an anchor on it — and [`RpcLedger`], which does so through Ethereum JSON-RPC, so the
//! same code serves the embedded chain (through its own RPC endpoint) and any external
//! node.
//!
//! Anchoring is idempotent: [`Ledger::anchor`] first looks the root up and returns the
//! existing anchor if there is one (the anchors contract refuses a root twice), so a
//! transaction retried after a crash or a timeout can never anchor twice.

use std::sync::Arc;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::contracts::{AccessLog, Anchors, Consent, IdentityRegistry};

/// An anchor to put on the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorRequest {
    /// Merkle root over the records' commitments.
    pub root: B256,
    /// Number of records.
    pub record_count: u32,
    /// Earliest record time covered (UTC ms).
    pub interval_start: u64,
    /// Latest record time covered (UTC ms).
    pub interval_end: u64,
}

/// Where an anchor is on the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorLocation {
    /// Index in the anchors contract.
    pub index: u64,
    /// Block of the anchoring transaction.
    pub block_number: u64,
    /// The anchoring transaction.
    pub tx_hash: B256,
}

/// A ledger failure. Every one leaves the anchor to be tried again.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The node could not be reached or answered with an error.
    #[error("ledger node: {0}")]
    Node(String),
    /// The transaction was mined but reverted.
    #[error("anchoring transaction {0} reverted")]
    Reverted(B256),
    /// The node's answers contradict each other (for example an anchor without its log).
    #[error("ledger: {0}")]
    Inconsistent(String),
    /// A contract refused the call before it was sent; the name of its custom error (for
    /// example `BadSignature`), or `revert` for a revert without a known error.
    #[error("the contract refused the transaction: {0}")]
    Refused(String),
}

/// The name of the custom error in `data` (revert data of a Vitalis contract).
pub fn revert_name(data: &[u8]) -> String {
    fn name<E: SolInterface + std::fmt::Debug>(data: &[u8]) -> Option<String> {
        let decoded = E::abi_decode(data).ok()?;
        let text = format!("{decoded:?}");
        Some(
            text.split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    }
    name::<Consent::ConsentErrors>(data)
        .or_else(|| name::<AccessLog::AccessLogErrors>(data))
        .or_else(|| name::<Anchors::AnchorsErrors>(data))
        .or_else(|| name::<IdentityRegistry::IdentityRegistryErrors>(data))
        .unwrap_or_else(|| "revert".to_owned())
}

fn node_error(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Node(e.to_string())
}

/// What Vitalis needs from a chain.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Puts an anchor on the ledger (or finds it there already) and returns where it is.
    async fn anchor(&self, request: &AnchorRequest) -> Result<AnchorLocation, LedgerError>;

    /// Where the anchor of `root` is, if it is on the ledger.
    async fn find_anchor(&self, root: B256) -> Result<Option<AnchorLocation>, LedgerError>;
}

/// A [`Ledger`] through Ethereum JSON-RPC.
#[derive(Debug, Clone)]
pub struct RpcLedger {
    provider: DynProvider,
    anchors: Address,
    receipt_timeout: Duration,
    /// Serialises this key's transactions, so two callers never take the same nonce.
    send_lock: Arc<Mutex<()>>,
}

impl RpcLedger {
    /// A ledger at `url` that signs with `key` (an anchoring node of the registry) and
    /// anchors through the contract at `anchors`.
    pub fn new(
        url: &str,
        key: PrivateKeySigner,
        anchors: Address,
    ) -> Result<RpcLedger, LedgerError> {
        let url = url.parse().map_err(node_error)?;
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key))
            .connect_http(url);
        Ok(RpcLedger {
            provider: DynProvider::new(provider),
            anchors,
            receipt_timeout: Duration::from_secs(60),
            send_lock: Arc::default(),
        })
    }

    /// A read-only ledger at `url` (for verification: no key needed).
    pub fn read_only(url: &str, anchors: Address) -> Result<RpcLedger, LedgerError> {
        let url = url.parse().map_err(node_error)?;
        let provider = ProviderBuilder::new().connect_http(url);
        Ok(RpcLedger {
            provider: DynProvider::new(provider),
            anchors,
            receipt_timeout: Duration::from_secs(60),
            send_lock: Arc::default(),
        })
    }

    /// Sends `call` to `to` and waits for its receipt. The call is simulated first, so a
    /// contract's refusal comes back as [`LedgerError::Refused`] with its error's name and
    /// nothing is sent; transactions of this ledger's key go out one at a time.
    pub async fn transact<C: SolCall>(
        &self,
        to: Address,
        call: &C,
    ) -> Result<TransactionReceipt, LedgerError> {
        let tx = TransactionRequest::default()
            .to(to)
            .input(call.abi_encode().into());
        let _turn = self.send_lock.lock().await;
        if let Err(e) = self.provider.call(tx.clone()).await {
            return Err(match e.as_error_resp().and_then(|r| r.as_revert_data()) {
                Some(data) => LedgerError::Refused(revert_name(&data)),
                None => node_error(e),
            });
        }
        let receipt = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(node_error)?
            .with_timeout(Some(self.receipt_timeout))
            .get_receipt()
            .await
            .map_err(node_error)?;
        if !receipt.status() {
            return Err(LedgerError::Reverted(receipt.transaction_hash));
        }
        Ok(receipt)
    }

    /// The anchors contract.
    pub fn anchors(&self) -> Address {
        self.anchors
    }

    /// The provider (for reads beyond anchors).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }
}

#[async_trait]
impl Ledger for RpcLedger {
    async fn anchor(&self, request: &AnchorRequest) -> Result<AnchorLocation, LedgerError> {
        if let Some(found) = self.find_anchor(request.root).await? {
            return Ok(found);
        }
        let call = Anchors::anchorCall {
            root: request.root,
            recordCount: request.record_count,
            intervalStart: request.interval_start,
            intervalEnd: request.interval_end,
        };
        let receipt = self.transact(self.anchors, &call).await?;
        let event = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| Anchors::Anchored::decode_log(&log.inner).ok())
            .ok_or_else(|| LedgerError::Inconsistent("anchor receipt without Anchored".into()))?;
        Ok(AnchorLocation {
            index: u64::try_from(event.index).map_err(node_error)?,
            block_number: receipt
                .block_number
                .ok_or_else(|| LedgerError::Inconsistent("receipt without block".into()))?,
            tx_hash: receipt.transaction_hash,
        })
    }

    async fn find_anchor(&self, root: B256) -> Result<Option<AnchorLocation>, LedgerError> {
        let contract = Anchors::new(self.anchors, &self.provider);
        if !contract.isAnchored(root).call().await.map_err(node_error)? {
            return Ok(None);
        }
        let index: U256 = contract.indexOf(root).call().await.map_err(node_error)?;
        let anchor = contract.anchorAt(index).call().await.map_err(node_error)?;
        let block = anchor.blockNumber;
        let logs = self
            .provider
            .get_logs(
                &Filter::new()
                    .address(self.anchors)
                    .event_signature(Anchors::Anchored::SIGNATURE_HASH)
                    .topic2(root)
                    .from_block(block)
                    .to_block(block),
            )
            .await
            .map_err(node_error)?;
        let tx_hash = logs
            .first()
            .and_then(|l| l.transaction_hash)
            .ok_or_else(|| LedgerError::Inconsistent(format!("no Anchored log for {root}")))?;
        Ok(Some(AnchorLocation {
            index: u64::try_from(index).map_err(node_error)?,
            block_number: block,
            tx_hash,
        }))
    }
}

/// Deploys the Vitalis contracts (identity registry, anchors, consent, access log) on an
/// external chain from `key`'s account, which becomes the registry's supervisor and its
/// first anchoring node. `chameleon_public_key` is the supervisor's chameleon-hash public
/// key, fixed from then on.
pub async fn deploy(
    url: &str,
    key: PrivateKeySigner,
    chameleon_public_key: B256,
) -> Result<crate::genesis::Deployment, LedgerError> {
    let account = key.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(url.parse().map_err(node_error)?);
    let registry = IdentityRegistry::deploy(&provider, account, chameleon_public_key)
        .await
        .map_err(node_error)?;
    let anchors = Anchors::deploy(&provider, *registry.address())
        .await
        .map_err(node_error)?;
    let receipt = registry
        .addAnchoringNode(account)
        .send()
        .await
        .map_err(node_error)?
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await
        .map_err(node_error)?;
    if !receipt.status() {
        return Err(LedgerError::Reverted(receipt.transaction_hash));
    }
    let (consent, access_log) = deploy_permissions(&provider, *registry.address()).await?;
    Ok(crate::genesis::Deployment {
        registry: *registry.address(),
        anchors: *anchors.address(),
        consent,
        access_log,
    })
}

/// Deploys the consent contract and the access log over an existing registry (for an
/// external chain whose registry and anchors were deployed before they existed).
pub async fn deploy_permissions<P: Provider>(
    provider: &P,
    registry: Address,
) -> Result<(Address, Address), LedgerError> {
    let consent = Consent::deploy(provider, registry)
        .await
        .map_err(node_error)?;
    let access_log = AccessLog::deploy(provider, registry)
        .await
        .map_err(node_error)?;
    Ok((*consent.address(), *access_log.address()))
}
