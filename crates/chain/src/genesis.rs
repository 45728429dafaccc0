//! The genesis block: funded accounts and the Vitalis contracts, deployed before block 1.
//!
//! Genesis deploys, from the supervisor's account, the identity registry (with the
//! supervisor's address and chameleon-hash public key, both fixed from then on), the
//! anchors contract, registers the sealer as an anchoring node, then deploys the consent
//! contract and the access log. These run as
//! unsigned system transactions at a zero base fee; block 0 carries no transactions,
//! only the resulting state (as `alloc` does on other chains). The same inputs always
//! give the same genesis hash.

use alloy::consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy::primitives::{Address, B64, B256, Bytes, TxKind, U256, keccak256};
use alloy::sol_types::{SolCall, SolConstructor};
use revm::context::result::ExecutionResult;
use revm::context::{BlockEnv, TxEnv};
use revm::state::AccountInfo;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

use crate::block::{EMPTY_ROOT, MinedBlock, cfg_env};
use crate::contracts::{AccessLog, Anchors, Consent, IdentityRegistry};
use crate::state::{StateDiff, WorldState, apply};

/// Everything genesis depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisSpec {
    /// Chain id.
    pub chain_id: u64,
    /// Genesis timestamp (seconds).
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// The sealer: signs nothing yet, receives fees, anchors.
    pub sealer: Address,
    /// The supervisor's account (owner of the identity registry).
    pub supervisor: Address,
    /// The supervisor's chameleon-hash public key (compressed ristretto255).
    pub chameleon_public_key: B256,
    /// Accounts funded at genesis, with their balances (the sealer and the supervisor are
    /// funded in any case).
    pub alloc: Vec<(Address, U256)>,
}

/// Where genesis put the contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The identity registry.
    pub registry: Address,
    /// The anchors contract.
    pub anchors: Address,
    /// The consent contract (patient-signed grants and revocations).
    pub consent: Address,
    /// The access log (batched roots of access-log entries).
    pub access_log: Address,
}

/// Balance given to the sealer, the supervisor and accounts without a stated balance:
/// one billion ether, in wei.
pub fn default_balance() -> U256 {
    U256::from(10u64).pow(U256::from(27u64))
}

/// Genesis failed: a contract did not deploy. Only a broken artifact can cause this.
#[derive(Debug, thiserror::Error)]
#[error("genesis: {0}")]
pub struct GenesisError(String);

/// Builds the genesis state and block.
pub fn build(spec: &GenesisSpec) -> Result<(WorldState, MinedBlock, Deployment), GenesisError> {
    let mut state = WorldState::default();
    let mut funded = vec![
        (spec.sealer, default_balance()),
        (spec.supervisor, default_balance()),
    ];
    funded.extend(spec.alloc.iter().copied());
    for (address, balance) in funded {
        state.insert_account_info(
            address,
            AccountInfo {
                balance,
                ..Default::default()
            },
        );
    }

    let registry = spec.supervisor.create(0);
    let anchors = spec.supervisor.create(1);
    let registry_init = [
        IdentityRegistry::BYTECODE.as_ref(),
        &IdentityRegistry::constructorCall {
            supervisor_: spec.supervisor,
            chameleonPublicKey_: spec.chameleon_public_key,
        }
        .abi_encode(),
    ]
    .concat();
    let anchors_init = [
        Anchors::BYTECODE.as_ref(),
        &Anchors::constructorCall {
            registry_: registry,
        }
        .abi_encode(),
    ]
    .concat();
    let add_node = IdentityRegistry::addAnchoringNodeCall { node: spec.sealer }.abi_encode();
    let consent = spec.supervisor.create(3);
    let consent_init = [
        Consent::BYTECODE.as_ref(),
        &Consent::constructorCall {
            registry_: registry,
        }
        .abi_encode(),
    ]
    .concat();
    let access_log = spec.supervisor.create(4);
    let access_log_init = [
        AccessLog::BYTECODE.as_ref(),
        &AccessLog::constructorCall {
            registry_: registry,
        }
        .abi_encode(),
    ]
    .concat();
    let system_txs = [
        (TxKind::Create, registry_init),
        (TxKind::Create, anchors_init),
        (TxKind::Call(registry), add_node),
        (TxKind::Create, consent_init),
        (TxKind::Create, access_log_init),
    ];

    let changes = {
        let mut evm = Context::mainnet()
            .with_ref_db(&state)
            .with_cfg(cfg_env(spec.chain_id))
            .with_block(BlockEnv {
                number: U256::ZERO,
                timestamp: U256::from(spec.timestamp),
                gas_limit: spec.gas_limit,
                basefee: 0,
                ..Default::default()
            })
            .build_mainnet();
        for (nonce, (kind, data)) in (0u64..).zip(system_txs) {
            let tx = TxEnv {
                caller: spec.supervisor,
                kind,
                data: Bytes::from(data),
                nonce,
                gas_limit: 30_000_000,
                gas_price: 0,
                chain_id: Some(spec.chain_id),
                ..Default::default()
            };
            let result = evm
                .transact_one(tx)
                .map_err(|e| GenesisError(format!("system transaction {nonce}: {e}")))?;
            if !matches!(result, ExecutionResult::Success { .. }) {
                return Err(GenesisError(format!(
                    "system transaction {nonce} failed: {result:?}"
                )));
            }
        }
        evm.finalize()
    };
    let mut diff = StateDiff::from_evm(&changes);
    apply(&mut state, changes);
    // Funded accounts untouched by the system transactions are part of genesis too.
    for (address, account) in &state.cache.accounts {
        if !diff.accounts.iter().any(|a| a.address == *address) {
            diff.accounts.push(crate::state::AccountRow {
                address: *address,
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            });
        }
    }
    diff.accounts.sort_by_key(|a| a.address);

    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: spec.sealer,
        state_root: keccak256(diff.digest()),
        transactions_root: EMPTY_ROOT,
        receipts_root: EMPTY_ROOT,
        number: 0,
        gas_limit: spec.gas_limit,
        gas_used: 0,
        timestamp: spec.timestamp,
        extra_data: Bytes::from_static(b"vitalis genesis"),
        nonce: B64::ZERO,
        base_fee_per_gas: Some(alloy::eips::eip1559::INITIAL_BASE_FEE),
        withdrawals_root: Some(EMPTY_ROOT),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    };
    let hash = header.hash_slow();
    let block = MinedBlock {
        header,
        hash,
        transactions: Vec::new(),
        diff,
    };
    Ok((
        state,
        block,
        Deployment {
            registry,
            anchors,
            consent,
            access_log,
        },
    ))
}
