//! World state: accounts, storage and code, held in memory and changed block by block.
//!
//! The whole state lives in a revm [`CacheDB`] over an empty backing database: the chain
//! holds the registry, the anchors contract and a handful of accounts, so it fits in
//! memory many times over. What a block changed is captured as a [`StateDiff`], which the
//! block store persists in the same transaction as the block, and which is folded into
//! the block header's state commitment ([`StateDiff::digest`]).

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use revm::bytecode::Bytecode;
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::KECCAK_EMPTY;
use revm::state::{AccountInfo, EvmState};
use revm::{DatabaseCommit, DatabaseRef};

/// The in-memory world state.
pub type WorldState = CacheDB<EmptyDB>;

/// An account as the block store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// The account.
    pub address: Address,
    /// Its nonce.
    pub nonce: u64,
    /// Its balance in wei.
    pub balance: U256,
    /// Hash of its code ([`KECCAK_EMPTY`] for none).
    pub code_hash: B256,
}

/// What one block changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Accounts whose storage was wiped (destroyed, or created anew), before the writes below.
    pub cleared: Vec<Address>,
    /// Accounts as they are after the block (destroyed ones with nonce 0, balance 0, no code).
    pub accounts: Vec<AccountRow>,
    /// Storage slots as they are after the block.
    pub storage: Vec<(Address, U256, U256)>,
    /// New contract code by hash.
    pub code: Vec<(B256, Bytes)>,
}

impl StateDiff {
    /// Turns revm's per-block state changes into a diff, in a deterministic order.
    pub fn from_evm(changes: &EvmState) -> StateDiff {
        let mut diff = StateDiff::default();
        for (address, account) in changes.iter() {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() || account.is_created() {
                diff.cleared.push(*address);
            }
            if account.is_selfdestructed() {
                diff.accounts.push(AccountRow {
                    address: *address,
                    nonce: 0,
                    balance: U256::ZERO,
                    code_hash: KECCAK_EMPTY,
                });
                continue;
            }
            diff.accounts.push(AccountRow {
                address: *address,
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            });
            if let Some(code) = &account.info.code
                && account.info.code_hash != KECCAK_EMPTY
                && account.is_created()
            {
                diff.code
                    .push((account.info.code_hash, code.original_bytes()));
            }
            for (slot, value) in account.changed_storage_slots() {
                diff.storage.push((*address, *slot, value.present_value()));
            }
        }
        diff.cleared.sort();
        diff.accounts.sort_by_key(|a| a.address);
        diff.storage.sort_by_key(|(a, s, _)| (*a, *s));
        diff.code.sort_by_key(|(h, _)| *h);
        diff
    }

    /// `keccak256` over the diff's canonical encoding. Chained through block headers
    /// (`stateRoot = keccak256(parent.stateRoot ‖ digest)`), it commits to the whole
    /// history of state changes; it is not a Merkle-Patricia root.
    pub fn digest(&self) -> B256 {
        let mut buf = Vec::with_capacity(
            8 + self.cleared.len() * 20 + self.accounts.len() * 92 + self.storage.len() * 84,
        );
        buf.extend_from_slice(&(self.cleared.len() as u32).to_be_bytes());
        for a in &self.cleared {
            buf.extend_from_slice(a.as_slice());
        }
        buf.extend_from_slice(&(self.accounts.len() as u32).to_be_bytes());
        for a in &self.accounts {
            buf.extend_from_slice(a.address.as_slice());
            buf.extend_from_slice(&a.nonce.to_be_bytes());
            buf.extend_from_slice(&a.balance.to_be_bytes::<32>());
            buf.extend_from_slice(a.code_hash.as_slice());
        }
        buf.extend_from_slice(&(self.storage.len() as u32).to_be_bytes());
        for (a, slot, value) in &self.storage {
            buf.extend_from_slice(a.as_slice());
            buf.extend_from_slice(&slot.to_be_bytes::<32>());
            buf.extend_from_slice(&value.to_be_bytes::<32>());
        }
        keccak256(&buf)
    }
}

/// Folds a block's changes into the state.
pub fn apply(state: &mut WorldState, changes: EvmState) {
    state.commit(changes);
}

/// Rebuilds the state from persisted rows (accounts, then storage, then code).
pub fn restore(
    accounts: impl IntoIterator<Item = AccountRow>,
    storage: impl IntoIterator<Item = (Address, U256, U256)>,
    code: impl IntoIterator<Item = (B256, Bytes)>,
) -> WorldState {
    let mut state = WorldState::default();
    for (hash, bytes) in code {
        state.cache.contracts.insert(hash, Bytecode::new_raw(bytes));
    }
    for row in accounts {
        let code = state.cache.contracts.get(&row.code_hash).cloned();
        state.insert_account_info(
            row.address,
            AccountInfo {
                balance: row.balance,
                nonce: row.nonce,
                code_hash: row.code_hash,
                code,
                ..Default::default()
            },
        );
    }
    for (address, slot, value) in storage {
        // The account was inserted above; storage of unknown accounts is ignored.
        if let Some(account) = state.cache.accounts.get_mut(&address) {
            account.storage.insert(slot, value);
        }
    }
    state
}

/// Nonce, balance and code of an account (zeroes for an unknown one).
pub fn account(state: &WorldState, address: Address) -> AccountInfo {
    state.basic_ref(address).ok().flatten().unwrap_or_default()
}

/// The code of an account, or empty.
pub fn code(state: &WorldState, address: Address) -> Bytes {
    let info = account(state, address);
    if info.code_hash == KECCAK_EMPTY {
        return Bytes::new();
    }
    match info.code {
        Some(code) => code.original_bytes(),
        None => state
            .code_by_hash_ref(info.code_hash)
            .map(|c| c.original_bytes())
            .unwrap_or_default(),
    }
}

/// One storage slot (zero when unset).
pub fn storage(state: &WorldState, address: Address, slot: U256) -> U256 {
    state.storage_ref(address, slot).unwrap_or_default()
}
