//! Stored blocks, transactions, receipts and logs as their JSON-RPC shapes (alloy's RPC
//! types, so that field names and encodings are exactly what Ethereum tools expect).

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::primitives::{B256, TxKind, U256};
use alloy::rlp::Encodable;
use alloy::rpc::types::{
    Block, BlockTransactions, Header as RpcHeader, Log as RpcLog, Transaction, TransactionReceipt,
};

use crate::blockstore::{StoredHeader, StoredLog, StoredTx};

/// A stored transaction as `eth_getTransactionByHash` returns it.
pub(super) fn transaction(tx: &StoredTx, block: &StoredHeader) -> Transaction {
    Transaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: Some(block.hash),
        block_number: Some(tx.block_number),
        transaction_index: Some(tx.index),
        effective_gas_price: Some(tx.receipt.effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    }
}

/// A pooled, not yet mined transaction.
pub(super) fn pending_transaction(
    envelope: TxEnvelope,
    sender: alloy::primitives::Address,
) -> Transaction {
    Transaction {
        inner: Recovered::new_unchecked(envelope, sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A stored transaction's receipt.
pub(super) fn receipt(tx: &StoredTx, block: &StoredHeader) -> TransactionReceipt {
    let mut log_index = tx.first_log_index;
    let inner = tx.receipt.envelope().map_logs(|log| {
        let rpc = RpcLog {
            inner: log,
            block_hash: Some(block.hash),
            block_number: Some(tx.block_number),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(*tx.envelope.tx_hash()),
            transaction_index: Some(tx.index),
            log_index: Some(log_index),
            removed: false,
        };
        log_index += 1;
        rpc
    });
    TransactionReceipt {
        inner,
        transaction_hash: *tx.envelope.tx_hash(),
        transaction_index: Some(tx.index),
        block_hash: Some(block.hash),
        block_number: Some(tx.block_number),
        gas_used: tx.receipt.gas_used,
        effective_gas_price: tx.receipt.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.sender,
        to: match tx.envelope.kind() {
            TxKind::Call(to) => Some(to),
            TxKind::Create => None,
        },
        contract_address: tx.receipt.contract_address,
    }
}

/// A stored log as `eth_getLogs` returns it.
pub(super) fn log(log: StoredLog, block: &StoredHeader, tx_hash: B256) -> RpcLog {
    RpcLog {
        inner: log.log,
        block_hash: Some(block.hash),
        block_number: Some(log.block_number),
        block_timestamp: Some(block.header.timestamp),
        transaction_hash: Some(tx_hash),
        transaction_index: Some(log.tx_index),
        log_index: Some(log.log_index),
        removed: false,
    }
}

/// A block with either transaction hashes or full transactions.
pub(super) fn block(
    header: &StoredHeader,
    transactions: BlockTransactions<Transaction>,
) -> Block<Transaction> {
    let mut rpc_header = RpcHeader::new(header.header.clone());
    rpc_header.hash = header.hash;
    rpc_header.total_difficulty = Some(U256::ZERO);
    let mut size = header.header.length();
    if let BlockTransactions::Full(txs) = &transactions {
        size += txs.iter().map(|t| t.inner.inner().length()).sum::<usize>();
    }
    rpc_header.size = Some(U256::from(size));
    Block {
        header: rpc_header,
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}
