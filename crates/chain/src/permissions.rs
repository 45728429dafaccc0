//! Consent and the access log on the ledger: what the permission layer asks of a chain.
//!
//! A patient's grant or revocation is EIP-712 typed data (domain `Vitalis Consent`,
//! version `1`, this chain, the consent contract) signed with the patient's own
//! secp256k1 key; [`PermissionLedger::submit_grant`] only carries it to the contract, which
//! checks the signature, the patient's nonce and the grantee's role itself. The id of a
//! grant is the digest the patient signed. Institutions are registered and approved in the
//! identity registry by the supervisor's key; access-log batches are committed by the
//! node's (anchoring) key. Both keys send their transactions one at a time
//! ([`RpcLedger::transact`]), so the anchorer and the API never race for a nonce.

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolEvent, SolStruct, eip712_domain};

use crate::contracts::{AccessLog, Consent, IdentityRegistry};
use crate::genesis::Deployment;
use crate::ledger::{LedgerError, RpcLedger};

pub use crate::contracts::Consent::Grant;

alloy::sol! {
    /// A revocation as the patient signs it (the consent contract's `REVOKE_TYPEHASH`).
    #[derive(Debug)]
    struct Revoke {
        address patient;
        bytes32 grantId;
        uint64 nonce;
    }
}

/// Access bit: read.
pub const ACCESS_READ: u8 = 1;
/// Access bit: write.
pub const ACCESS_WRITE: u8 = 2;
/// Section bit: the open section.
pub const SECTION_OPEN: u8 = 1;
/// Section bit: the protected section.
pub const SECTION_PROTECTED: u8 = 2;

/// An institution's role in the identity registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstitutionRole {
    /// A hospital or other health-check institution.
    Hospital,
    /// A research institution.
    Researcher,
    /// An enterprise or government body.
    EnterpriseGovernment,
}

/// Where a transaction landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Its block.
    pub block_number: u64,
    /// The transaction.
    pub tx_hash: B256,
}

impl TxLocation {
    fn of(receipt: &TransactionReceipt) -> Result<TxLocation, LedgerError> {
        Ok(TxLocation {
            block_number: receipt
                .block_number
                .ok_or_else(|| LedgerError::Inconsistent("receipt without block".into()))?,
            tx_hash: receipt.transaction_hash,
        })
    }
}

/// A committed batch of access-log entries, as the chain has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessBatchOnChain {
    /// Position in the access-log contract.
    pub index: u64,
    /// First entry id covered.
    pub first_entry: u64,
    /// Number of entries.
    pub entry_count: u32,
    /// The committing transaction.
    pub location: TxLocation,
}

/// Signs an EIP-712 digest with `key`: 65 bytes (r, s, v with v = 27 or 28), `s` low.
pub fn sign_digest(key: &PrivateKeySigner, digest: B256) -> Result<[u8; 65], LedgerError> {
    let signature = key
        .sign_hash_sync(&digest)
        .map_err(|e| LedgerError::Node(format!("signing: {e}")))?;
    Ok(signature.as_bytes())
}

/// A block as the explorer lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BlockSummary {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its time (UTC seconds).
    pub timestamp: u64,
    /// How many transactions it holds.
    pub transactions: usize,
}

/// The consent contract, the access log and the identity registry of one deployment.
#[derive(Debug, Clone)]
pub struct PermissionLedger {
    node: RpcLedger,
    supervisor: RpcLedger,
    deployment: Deployment,
    domain: Eip712Domain,
}

fn node_error(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Node(e.to_string())
}

impl PermissionLedger {
    /// Connects to `url`. `node` sends access-log batches (an anchoring node of the
    /// registry) and carries consent transactions; `supervisor` changes the registry. Pass
    /// the same ledger twice when one key is both.
    pub async fn connect(
        node: RpcLedger,
        supervisor: RpcLedger,
        deployment: Deployment,
    ) -> Result<PermissionLedger, LedgerError> {
        let chain_id = node.provider().get_chain_id().await.map_err(node_error)?;
        let domain = eip712_domain! {
            name: "Vitalis Consent",
            version: "1",
            chain_id: chain_id,
            verifying_contract: deployment.consent,
        };
        Ok(PermissionLedger {
            node,
            supervisor,
            deployment,
            domain,
        })
    }

    /// The newest `n` blocks, newest first: number, hash, time (UTC s) and transaction
    /// count.
    pub async fn recent_blocks(&self, n: u64) -> Result<Vec<BlockSummary>, LedgerError> {
        let provider = self.node.provider();
        let head = provider.get_block_number().await.map_err(node_error)?;
        let mut out = Vec::new();
        for number in (head.saturating_sub(n.saturating_sub(1))..=head).rev() {
            let Some(block) = provider
                .get_block_by_number(number.into())
                .await
                .map_err(node_error)?
            else {
                continue;
            };
            out.push(BlockSummary {
                number,
                hash: block.header.hash,
                timestamp: block.header.timestamp,
                transactions: block.transactions.len(),
            });
        }
        Ok(out)
    }

    /// The contracts.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The EIP-712 domain patients sign in.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The digest a patient signs for `grant`; also the grant's id.
    pub fn grant_digest(&self, grant: &Grant) -> B256 {
        grant.eip712_signing_hash(&self.domain)
    }

    /// The digest a patient signs to revoke `grant_id`.
    pub fn revoke_digest(&self, patient: Address, grant_id: B256, nonce: u64) -> B256 {
        Revoke {
            patient,
            grantId: grant_id,
            nonce,
        }
        .eip712_signing_hash(&self.domain)
    }

    /// The nonce the patient's next signature must carry.
    pub async fn nonce(&self, patient: Address) -> Result<u64, LedgerError> {
        Consent::new(self.deployment.consent, self.node.provider())
            .nonces(patient)
            .call()
            .await
            .map_err(node_error)
    }

    /// Submits a grant with the patient's signature; the contract verifies it.
    pub async fn submit_grant(
        &self,
        grant: &Grant,
        signature: &[u8],
    ) -> Result<TxLocation, LedgerError> {
        let call = Consent::grantCall {
            g: grant.clone(),
            signature: signature.to_vec().into(),
        };
        let receipt = self.node.transact(self.deployment.consent, &call).await?;
        TxLocation::of(&receipt)
    }

    /// Submits a revocation with the patient's signature; the contract verifies it.
    pub async fn submit_revoke(
        &self,
        patient: Address,
        grant_id: B256,
        nonce: u64,
        signature: &[u8],
    ) -> Result<TxLocation, LedgerError> {
        let call = Consent::revokeCall {
            patient,
            grantId: grant_id,
            nonce,
            signature: signature.to_vec().into(),
        };
        let receipt = self.node.transact(self.deployment.consent, &call).await?;
        TxLocation::of(&receipt)
    }

    /// Whether the grant gives access now (exists, not revoked, not expired, grantee
    /// still approved), as the chain says at its latest block.
    pub async fn is_active(&self, grant_id: B256) -> Result<bool, LedgerError> {
        Consent::new(self.deployment.consent, self.node.provider())
            .isActive(grant_id)
            .call()
            .await
            .map_err(node_error)
    }

    /// Registers an institution (pending) in the identity registry.
    pub async fn register_institution(
        &self,
        account: Address,
        id: B256,
        role: InstitutionRole,
    ) -> Result<TxLocation, LedgerError> {
        let role = match role {
            // The registry's `Role` enum, in declaration order.
            InstitutionRole::Hospital => 0u8,
            InstitutionRole::Researcher => 1,
            InstitutionRole::EnterpriseGovernment => 2,
        };
        let call = IdentityRegistry::registerInstitutionCall { account, id, role };
        let receipt = self
            .supervisor
            .transact(self.deployment.registry, &call)
            .await?;
        TxLocation::of(&receipt)
    }

    /// Approves (or reinstates) an institution.
    pub async fn approve_institution(&self, account: Address) -> Result<TxLocation, LedgerError> {
        let call = IdentityRegistry::approveInstitutionCall { account };
        let receipt = self
            .supervisor
            .transact(self.deployment.registry, &call)
            .await?;
        TxLocation::of(&receipt)
    }

    /// Suspends an institution: every grant to it stops giving access at once.
    pub async fn suspend_institution(&self, account: Address) -> Result<TxLocation, LedgerError> {
        let call = IdentityRegistry::suspendInstitutionCall { account };
        let receipt = self
            .supervisor
            .transact(self.deployment.registry, &call)
            .await?;
        TxLocation::of(&receipt)
    }

    /// Commits a batch of access-log entries (or finds it committed already).
    pub async fn commit_access(
        &self,
        root: B256,
        first_entry: u64,
        entry_count: u32,
    ) -> Result<AccessBatchOnChain, LedgerError> {
        if let Some(found) = self.find_access_batch(root).await? {
            return Ok(found);
        }
        let call = AccessLog::commitCall {
            root,
            firstEntry: first_entry,
            entryCount: entry_count,
        };
        let receipt = self
            .node
            .transact(self.deployment.access_log, &call)
            .await?;
        let event = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| AccessLog::Committed::decode_log(&log.inner).ok())
            .ok_or_else(|| LedgerError::Inconsistent("commit receipt without Committed".into()))?;
        Ok(AccessBatchOnChain {
            index: u64::try_from(event.index).map_err(node_error)?,
            first_entry,
            entry_count,
            location: TxLocation::of(&receipt)?,
        })
    }

    /// The access-log batch with `root`, if it is on the chain.
    pub async fn find_access_batch(
        &self,
        root: B256,
    ) -> Result<Option<AccessBatchOnChain>, LedgerError> {
        let contract = AccessLog::new(self.deployment.access_log, self.node.provider());
        if !contract
            .isCommitted(root)
            .call()
            .await
            .map_err(node_error)?
        {
            return Ok(None);
        }
        let batch = contract.batchOf(root).call().await.map_err(node_error)?;
        let logs = self
            .node
            .provider()
            .get_logs(
                &Filter::new()
                    .address(self.deployment.access_log)
                    .event_signature(AccessLog::Committed::SIGNATURE_HASH)
                    .topic2(root)
                    .from_block(batch.blockNumber)
                    .to_block(batch.blockNumber),
            )
            .await
            .map_err(node_error)?;
        let tx_hash = logs
            .first()
            .and_then(|l| l.transaction_hash)
            .ok_or_else(|| LedgerError::Inconsistent(format!("no Committed log for {root}")))?;
        Ok(Some(AccessBatchOnChain {
            index: batch.index,
            first_entry: batch.firstEntry,
            entry_count: batch.entryCount,
            location: TxLocation {
                block_number: batch.blockNumber,
                tx_hash,
            },
        }))
    }

    /// The supervisor-side registry status of `account`: 0 none, 1 pending, 2 approved,
    /// 3 suspended.
    pub async fn institution_status(&self, account: Address) -> Result<u8, LedgerError> {
        let entry = IdentityRegistry::new(self.deployment.registry, self.node.provider())
            .institution(account)
            .call()
            .await
            .map_err(node_error)?;
        Ok(entry.status as u8)
    }
}

/// A pseudonymous on-chain id for an off-chain identifier (institution ids): keccak-256 of
/// a domain tag and the identifier, so the chain never holds the identifier itself.
pub fn pseudonym(kind: &str, id: &str) -> B256 {
    alloy::primitives::keccak256(format!("vitalis:{kind}:{id}"))
}

/// A uint64 `expiresAt` from Unix milliseconds (the contract counts seconds).
pub fn expiry_secs(expires_at_ms: i64) -> u64 {
    u64::try_from(expires_at_ms / 1000).unwrap_or(0)
}
