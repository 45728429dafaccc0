//! The embedded chain through an independent Ethereum client: Foundry's `cast`, installed
//! from npm. Block number, a block, a view call on the anchors contract, the `Anchored`
//! logs, and sending transactions (a contract call and a plain transfer).

mod support;

use std::path::Path;
use std::process::Command;

use alloy::primitives::{B256, U256, utils::parse_ether};
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;
use vitalis_chain::node::{BlockTime, Node, NodeConfig};

fn cast(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cast {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn cast_reads_and_writes_the_embedded_chain() {
    let Some(bin) = support::foundry_tool("cast") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let user = PrivateKeySigner::random();
    let mut config = NodeConfig::dev(BlockTime::Instant);
    config.alloc = vec![(user.address(), parse_ether("10").unwrap())];
    let node = Node::open(&dir.path().join("chain.db"), config.clone())
        .await
        .unwrap();
    let _miner = node.spawn_miner();
    let server = vitalis_chain::rpc::serve(node.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let anchors = node.deployment().anchors.to_string();
    let sealer_key = format!("0x{}", alloy::hex::encode(config.sealer.to_bytes()));
    let user_key = format!("0x{}", alloy::hex::encode(user.to_bytes()));

    // cast runs blocking; the node serves on this runtime's other worker meanwhile.
    let run = |args: Vec<String>| {
        let bin = bin.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cast(&bin, &args)
        })
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    assert_eq!(
        run(s(&["block-number", "--rpc-url", &url])).await.unwrap(),
        "0"
    );
    assert_eq!(
        run(s(&["chain-id", "--rpc-url", &url])).await.unwrap(),
        config.chain_id.to_string()
    );
    let count = s(&[
        "call",
        &anchors,
        "anchorCount()(uint256)",
        "--rpc-url",
        &url,
    ]);
    assert_eq!(run(count.clone()).await.unwrap(), "0");

    let root = B256::repeat_byte(0x5a).to_string();
    let sent = run(s(&[
        "send",
        &anchors,
        "anchor(bytes32,uint32,uint64,uint64)",
        &root,
        "7",
        "1000",
        "2000",
        "--private-key",
        &sealer_key,
        "--rpc-url",
        &url,
        "--json",
    ]))
    .await
    .unwrap();
    let receipt: Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(run(count).await.unwrap(), "1");
    assert_eq!(
        run(s(&["block-number", "--rpc-url", &url])).await.unwrap(),
        "1"
    );

    let block: Value = serde_json::from_str(
        &run(s(&["block", "1", "--rpc-url", &url, "--json"]))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(block["hash"], receipt["blockHash"], "{block}");
    assert_eq!(block["transactions"][0], receipt["transactionHash"]);

    let logs: Value = serde_json::from_str(
        &run(s(&[
            "logs",
            "--address",
            &anchors,
            "Anchored(uint256,bytes32,address,uint32,uint64,uint64)",
            "--from-block",
            "0",
            "--rpc-url",
            &url,
            "--json",
        ]))
        .await
        .unwrap(),
    )
    .unwrap();
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["topics"][2], root.as_str());
    assert_eq!(logs[0]["transactionHash"], receipt["transactionHash"]);

    // A plain transfer from a genesis-funded account.
    let to = PrivateKeySigner::random().address().to_string();
    run(s(&[
        "send",
        &to,
        "--value",
        "12345",
        "--private-key",
        &user_key,
        "--rpc-url",
        &url,
    ]))
    .await
    .unwrap();
    assert_eq!(
        run(s(&["balance", &to, "--rpc-url", &url])).await.unwrap(),
        "12345"
    );
    assert_eq!(node.balance(to.parse().unwrap()), U256::from(12345));
}
