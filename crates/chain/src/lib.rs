//! The Vitalis ledger: contract bindings and the embedded EVM chain.
//!
//! The embedded chain is a single-sealer Ethereum-compatible chain in the server's own
//! process, built the way a development node is: a world [`state`], a transaction
//! [`pool`], a miner ([`node::Node::mine_block`]) that executes ready transactions with
//! revm into a [`block`], a [`blockstore`] that keeps blocks, receipts, logs and state on
//! disk, and a JSON-[`rpc`] layer that serves the standard Ethereum methods, so that any
//! Ethereum tool can read the chain and check anchors independently.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use vitalis_chain::node::{BlockTime, Node, NodeConfig};
//! let config = NodeConfig::dev(BlockTime::Instant);
//! let node = Node::open(std::path::Path::new("chain.db"), config).await?;
//! let _miner = node.spawn_miner();
//! let rpc = vitalis_chain::rpc::serve(node.clone(), "127.0.0.1:0".parse()?).await?;
//! println!("JSON-RPC on {}", rpc.url());
//! # Ok(()) }
//! ```

pub mod block;
pub mod blockstore;
pub mod call;
pub mod contracts;
pub mod foundry;
pub mod genesis;
pub mod ledger;
pub mod node;
pub mod permissions;
pub mod pool;
pub mod rpc;
pub mod state;
