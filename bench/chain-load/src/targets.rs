//! What is measured: the embedded node (in this process, on a fresh chain in a temporary
//! directory) and anvil (a child process on a free loopback port, started and killed on
//! drop by `vitalis_chain::foundry::Anvil`), with the contracts deployed on it.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::sol_types::{SolCall, SolConstructor};
use anyhow::{Result, bail, ensure};
use serde_json::json;
use vitalis_chain::contracts::{Anchors, IdentityRegistry};
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::rpc::{self, RpcServer};

use crate::jsonrpc::{RpcClient, batch_body};
use crate::workload::{Accounts, CHAIN_ID, sign};

/// The embedded node on a fresh chain whose genesis matches the workload's accounts.
#[derive(Debug)]
pub(crate) struct Embedded {
    pub(crate) node: Node,
    miner: Option<tokio::task::JoinHandle<()>>,
    rpc: Option<RpcServer>,
    _dir: tempfile::TempDir,
}

impl Embedded {
    /// Opens the node; with `serve`, also starts its miner and JSON-RPC on 127.0.0.1.
    pub(crate) async fn start(
        accounts: &Accounts,
        block_time: BlockTime,
        gas_limit: u64,
        serve: bool,
    ) -> Result<Embedded> {
        let dir = tempfile::tempdir()?;
        let config = NodeConfig {
            chain_id: CHAIN_ID,
            block_time,
            gas_limit,
            sealer: accounts.sender.clone(),
            supervisor: accounts.deployer.address(),
            chameleon_public_key: accounts.chameleon_key,
            alloc: Vec::new(),
        };
        let node = Node::open(&dir.path().join("chain.db"), config).await?;
        ensure!(
            node.deployment().anchors == accounts.anchors(),
            "genesis put the anchors contract at {}, expected {}",
            node.deployment().anchors,
            accounts.anchors()
        );
        let (miner, rpc) = if serve {
            let miner = node.spawn_miner();
            let rpc = rpc::serve(node.clone(), "127.0.0.1:0".parse()?).await?;
            (Some(miner), Some(rpc))
        } else {
            (None, None)
        };
        Ok(Embedded {
            node,
            miner,
            rpc,
            _dir: dir,
        })
    }

    /// The JSON-RPC URL, when serving.
    pub(crate) fn url(&self) -> Option<String> {
        self.rpc.as_ref().map(RpcServer::url)
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(miner) = &self.miner {
            miner.abort();
        }
    }
}

/// The process id of this process's child named `name` (anvil, to account for its CPU
/// time and memory apart).
pub(crate) fn child_pid(name: &str) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == me && comm == name).then_some(pid)
    })
}

/// On anvil: funds the accounts, deploys `IdentityRegistry(deployer, key)` and
/// `Anchors(registry)` from the deployer, and registers the sender as anchoring node.
pub(crate) async fn deploy_on_anvil(client: &RpcClient, accounts: &Accounts) -> Result<()> {
    let million_ether = U256::from(10u64).pow(U256::from(24u64));
    for who in [accounts.deployer.address(), accounts.sender.address()] {
        client
            .call("anvil_setBalance", json!([who, million_ether]))
            .await?;
    }
    let registry_init = [
        IdentityRegistry::BYTECODE.as_ref(),
        &IdentityRegistry::constructorCall {
            supervisor_: accounts.deployer.address(),
            chameleonPublicKey_: accounts.chameleon_key,
        }
        .abi_encode(),
    ]
    .concat();
    let anchors_init = [
        Anchors::BYTECODE.as_ref(),
        &Anchors::constructorCall {
            registry_: accounts.registry(),
        }
        .abi_encode(),
    ]
    .concat();
    let add_node = IdentityRegistry::addAnchoringNodeCall {
        node: accounts.sender.address(),
    }
    .abi_encode();
    let txs = [
        sign(
            &accounts.deployer,
            0,
            TxKind::Create,
            registry_init.into(),
            5_000_000,
        )?,
        sign(
            &accounts.deployer,
            1,
            TxKind::Create,
            anchors_init.into(),
            5_000_000,
        )?,
        sign(
            &accounts.deployer,
            2,
            TxKind::Call(accounts.registry()),
            add_node.into(),
            200_000,
        )?,
    ];
    let calls: Vec<(&str, serde_json::Value)> = txs
        .iter()
        .map(|tx: &Bytes| ("eth_sendRawTransaction", json!([tx])))
        .collect();
    let hashes = client.batch(&batch_body(&calls)).await?;
    let last = serde_json::from_value(hashes[2].clone())?;
    client
        .wait_for_receipt(last, Instant::now() + Duration::from_secs(30))
        .await?;
    let expected: [Option<Address>; 3] =
        [Some(accounts.registry()), Some(accounts.anchors()), None];
    for (hash, expected) in hashes.iter().zip(expected) {
        let receipt = client
            .call("eth_getTransactionReceipt", json!([hash]))
            .await?;
        if receipt["status"] != "0x1" {
            bail!("deployment transaction failed: {receipt}");
        }
        if let Some(address) = expected {
            let got: Address = serde_json::from_value(receipt["contractAddress"].clone())?;
            ensure!(got == address, "contract at {got}, expected {address}");
        }
    }
    Ok(())
}
