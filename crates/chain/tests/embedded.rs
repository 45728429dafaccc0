//! The embedded chain end to end: genesis, signed transactions through JSON-RPC with an
//! ordinary Ethereum client (alloy's provider), receipts and logs, restart persistence,
//! pool refusals and malformed JSON-RPC.

use std::path::Path;
use std::time::Duration;

use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use serde_json::{Value, json};
use vitalis_chain::contracts::{Anchors, IdentityRegistry};
use vitalis_chain::node::{BlockTime, Node, NodeConfig};
use vitalis_chain::rpc::{self, RpcServer};

async fn start(path: &Path, config: NodeConfig) -> (Node, RpcServer, tokio::task::JoinHandle<()>) {
    let node = Node::open(path, config).await.unwrap();
    let miner = node.spawn_miner();
    let server = rpc::serve(node.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (node, server, miner)
}

fn provider(url: &str, key: &PrivateKeySigner) -> impl Provider + Clone + use<> {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(url.parse().unwrap())
}

async fn rpc_call(url: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn genesis_deploys_the_contracts_and_registers_the_sealer() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(BlockTime::Instant);
    let (node, server, _miner) = start(&dir.path().join("chain.db"), config.clone()).await;
    let p = provider(&server.url(), &config.sealer);
    let deployment = node.deployment();

    assert_eq!(p.get_chain_id().await.unwrap(), config.chain_id);
    assert_eq!(p.get_block_number().await.unwrap(), 0);
    assert!(!p.get_code_at(deployment.anchors).await.unwrap().is_empty());

    let registry = IdentityRegistry::new(deployment.registry, &p);
    assert!(
        registry
            .isAnchoringNode(config.sealer.address())
            .call()
            .await
            .unwrap()
    );
    assert!(
        !registry
            .isAnchoringNode(Address::repeat_byte(7))
            .call()
            .await
            .unwrap()
    );
    assert_eq!(
        registry.supervisor().call().await.unwrap(),
        config.supervisor
    );
    assert_eq!(
        registry.chameleonPublicKey().call().await.unwrap(),
        config.chameleon_public_key
    );
}

#[tokio::test]
async fn an_anchor_is_mined_logged_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.db");
    let config = NodeConfig::dev(BlockTime::Instant);
    let root = B256::repeat_byte(0xab);
    let (anchors_address, block_of_anchor) = {
        let (node, server, miner) = start(&path, config.clone()).await;
        let p = provider(&server.url(), &config.sealer);
        let anchors = Anchors::new(node.deployment().anchors, &p);
        let receipt = anchors
            .anchor(root, 12, 1_000, 2_000)
            .send()
            .await
            .unwrap()
            .with_timeout(Some(Duration::from_secs(20)))
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        let block = receipt.block_number.unwrap();
        assert!(block >= 1);

        let logs = p
            .get_logs(
                &Filter::new()
                    .address(node.deployment().anchors)
                    .event_signature(Anchors::Anchored::SIGNATURE_HASH)
                    .from_block(0),
            )
            .await
            .unwrap();
        assert_eq!(logs.len(), 1);
        let event = Anchors::Anchored::decode_log(&logs[0].inner).unwrap();
        assert_eq!(event.root, root);
        assert_eq!(event.recordCount, 12);
        assert_eq!(event.node, config.sealer.address());
        assert_eq!(logs[0].transaction_hash, Some(receipt.transaction_hash));

        let full = p
            .get_block_by_number(block.into())
            .full()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(full.transactions.len(), 1);
        assert_eq!(full.header.hash, receipt.block_hash.unwrap());
        miner.abort();
        drop(server);
        (node.deployment().anchors, block)
    };

    // Same file, same keys: the chain continues from the same head and state.
    let (node, server, _miner) = start(&path, config.clone()).await;
    assert_eq!(node.head().header.number, block_of_anchor);
    let p = provider(&server.url(), &config.sealer);
    let anchors = Anchors::new(anchors_address, &p);
    assert_eq!(anchors.anchorCount().call().await.unwrap(), U256::from(1));
    assert!(anchors.isAnchored(root).call().await.unwrap());

    // The same root again reverts on chain (AlreadyAnchored), found by estimation.
    let again = anchors.anchor(root, 12, 1_000, 2_000).send().await;
    let message = format!("{:?}", again.unwrap_err());
    assert!(message.contains("revert"), "{message}");

    // A new anchor after the restart lands in the next block with nonce 1.
    let receipt = anchors
        .anchor(B256::repeat_byte(0xcd), 3, 2_000, 3_000)
        .send()
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.block_number, Some(block_of_anchor + 1));
    assert_eq!(anchors.anchorCount().call().await.unwrap(), U256::from(2));
}

#[tokio::test]
async fn another_configuration_cannot_open_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.db");
    let (node, _server, miner) = start(&path, NodeConfig::dev(BlockTime::Instant)).await;
    miner.abort();
    drop(node);
    let err = Node::open(&path, NodeConfig::dev(BlockTime::Instant))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another chain"), "{err}");
}

#[tokio::test]
async fn the_pool_refuses_what_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::dev(BlockTime::Instant);
    let (node, server, _miner) = start(&dir.path().join("chain.db"), config.clone()).await;
    let url = server.url();
    let sealer = config.sealer.clone();
    let transfer = |nonce: u64, chain_id: u64, from: &PrivateKeySigner| {
        let req = TransactionRequest::default()
            .with_to(Address::repeat_byte(1))
            .with_value(U256::from(1))
            .with_nonce(nonce)
            .with_chain_id(chain_id)
            .with_gas_limit(21_000)
            .with_max_fee_per_gas(10_000_000_000)
            .with_max_priority_fee_per_gas(1);
        let wallet = EthereumWallet::from(from.clone());
        async move {
            let envelope = <TransactionRequest as NetworkTransactionBuilder<
                alloy::network::Ethereum,
            >>::build(req, &wallet)
            .await
            .unwrap();
            alloy::eips::Encodable2718::encoded_2718(&envelope)
        }
    };
    let send = |raw: Vec<u8>| {
        let url = url.clone();
        async move {
            rpc_call(
                &url,
                json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                       "params": [format!("0x{}", alloy::hex::encode(raw))]}),
            )
            .await
        }
    };

    let ok = send(transfer(0, config.chain_id, &sealer).await).await;
    assert!(ok["result"].is_string(), "{ok}");
    node.wait_for_block(1).await;

    let low = send(transfer(0, config.chain_id, &sealer).await).await;
    assert_eq!(low["error"]["code"], -32000);
    assert!(
        low["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce too low"),
        "{low}"
    );

    let other_chain = send(transfer(1, config.chain_id + 1, &sealer).await).await;
    assert!(
        other_chain["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chain id"),
        "{other_chain}"
    );

    let broke = PrivateKeySigner::random();
    let poor = send(transfer(0, config.chain_id, &broke).await).await;
    assert!(
        poor["error"]["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds"),
        "{poor}"
    );

    let garbage = send(vec![0x02, 0xff, 0x00]).await;
    assert!(
        garbage["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid transaction"),
        "{garbage}"
    );
}

#[tokio::test]
async fn malformed_json_rpc_gets_json_rpc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, server, _miner) = start(
        &dir.path().join("chain.db"),
        NodeConfig::dev(BlockTime::Instant),
    )
    .await;
    let url = server.url();
    let client = reqwest::Client::new();
    let raw = |body: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(raw("{not json").await["error"]["code"], -32700);
    assert_eq!(raw("[]").await["error"]["code"], -32600);
    assert_eq!(raw("42").await["error"]["code"], -32600);
    assert_eq!(
        raw(r#"{"jsonrpc":"2.0","id":1}"#).await["error"]["code"],
        -32600
    );
    assert_eq!(
        raw(r#"{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}"#).await["error"]["code"],
        -32601
    );
    assert_eq!(
        raw(r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}"#).await["error"]
            ["code"],
        -32602
    );
    assert_eq!(
        raw(r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":{}}"#).await["error"]
            ["code"],
        -32602
    );
    // A batch answers each request in order, errors beside results.
    let batch = raw(r#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},
            {"jsonrpc":"2.0","id":2,"method":"eth_nope"},
            {"jsonrpc":"2.0","id":3,"method":"net_version"}]"#)
    .await;
    assert_eq!(batch[0]["result"], "0x0");
    assert_eq!(batch[1]["error"]["code"], -32601);
    assert_eq!(batch[2]["result"], "22100");
    // Old state is refused, not answered wrongly.
    let old = raw(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000001","0x5"]}"#,
    )
    .await;
    assert_eq!(old["error"]["code"], -32000);
}
