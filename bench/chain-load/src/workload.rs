//! The signed transactions of a run, made before any clock starts.
//!
//! Both targets get byte-for-byte the same transactions: the embedded chain is configured
//! with anvil's chain id, its genesis supervisor is the account that deploys the contracts
//! on anvil (so the contracts land at the same addresses, `create(deployer, 0)` and
//! `create(deployer, 1)`), and its sealer is the sender of the anchors.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::Result;
use vitalis_chain::contracts::Anchors;

/// anvil's default chain id; the embedded node is configured with it too.
pub(crate) const CHAIN_ID: u64 = 31_337;

/// Fee cap of every transaction (50 gwei). Both chains start at a base fee of 1 gwei and
/// a benchmark's blocks cannot raise it near this.
pub(crate) const MAX_FEE_PER_GAS: u128 = 50_000_000_000;

/// Priority fee of every transaction (1 gwei).
pub(crate) const PRIORITY_FEE: u128 = 1_000_000_000;

/// Gas limit of an `anchor` call. It uses about 110k (the first anchor about 17k more,
/// for the list length's first write); the margin is checked by every run, which
/// requires each receipt's status to be 1.
pub(crate) const ANCHOR_GAS_LIMIT: u64 = 150_000;

/// The accounts of a run.
#[derive(Debug, Clone)]
pub(crate) struct Accounts {
    /// Deploys the registry and anchors on anvil; the embedded chain's supervisor.
    pub(crate) deployer: PrivateKeySigner,
    /// The anchoring node: signs every anchor; the embedded chain's sealer.
    pub(crate) sender: PrivateKeySigner,
    /// The registry's chameleon-hash public key (any nonzero value will do here).
    pub(crate) chameleon_key: B256,
}

impl Accounts {
    pub(crate) fn random() -> Accounts {
        Accounts {
            deployer: PrivateKeySigner::random(),
            sender: PrivateKeySigner::random(),
            chameleon_key: keccak256(b"vitalis chain-load chameleon key"),
        }
    }

    /// Where the identity registry is deployed on both chains.
    pub(crate) fn registry(&self) -> Address {
        self.deployer.address().create(0)
    }

    /// Where the anchors contract is deployed on both chains.
    pub(crate) fn anchors(&self) -> Address {
        self.deployer.address().create(1)
    }
}

/// Signs an EIP-1559 transaction and returns its EIP-2718 encoding.
pub(crate) fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    input: Bytes,
    gas_limit: u64,
) -> Result<Bytes> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: MAX_FEE_PER_GAS,
        max_priority_fee_per_gas: PRIORITY_FEE,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_transaction_sync(&mut tx)?;
    Ok(TxEnvelope::from(tx.into_signed(signature))
        .encoded_2718()
        .into())
}

/// The root anchored by transaction `i`: distinct and nonzero for every `i`.
pub(crate) fn root(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

/// The calldata of anchor `i`: `anchor(root_i, 1, i, i)`.
pub(crate) fn anchor_input(i: u64) -> Bytes {
    Anchors::anchorCall {
        root: root(i),
        recordCount: 1,
        intervalStart: i,
        intervalEnd: i,
    }
    .abi_encode()
    .into()
}

/// `n` signed anchors from `accounts.sender`, nonces `0..n`, with their hashes.
#[derive(Debug)]
pub(crate) struct SignedAnchors {
    pub(crate) raw: Vec<Bytes>,
    pub(crate) hashes: Vec<B256>,
}

/// Signs `n` anchors on all cores (the signing is not measured).
pub(crate) fn sign_anchors(accounts: &Accounts, n: u64) -> Result<SignedAnchors> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()) as u64;
    let per_thread = n.div_ceil(threads).max(1);
    let anchors = TxKind::Call(accounts.anchors());
    let parts: Vec<Result<Vec<Bytes>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n)
            .step_by(per_thread as usize)
            .map(|from| {
                let to = (from + per_thread).min(n);
                let signer = &accounts.sender;
                scope.spawn(move || {
                    (from..to)
                        .map(|i| sign(signer, i, anchors, anchor_input(i), ANCHOR_GAS_LIMIT))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("signing does not panic"))
            .collect()
    });
    let mut raw = Vec::with_capacity(n as usize);
    for part in parts {
        raw.extend(part?);
    }
    // The hash of a typed transaction is the hash of its EIP-2718 encoding.
    let hashes = raw.iter().map(keccak256).collect();
    Ok(SignedAnchors { raw, hashes })
}
