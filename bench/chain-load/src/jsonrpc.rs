//! The one JSON-RPC client used against every target: plain HTTP POSTs of JSON-RPC 2.0
//! requests and batches, so that both nodes see exactly the same traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use vitalis_chain::contracts::Anchors;

/// How often the sender of the last transaction polls for its receipt.
const RECEIPT_POLL: Duration = Duration::from_millis(2);

/// A JSON-RPC endpoint over HTTP (one connection pool per client).
#[derive(Debug, Clone)]
pub(crate) struct RpcClient {
    http: reqwest::Client,
    url: String,
}

impl RpcClient {
    pub(crate) fn new(url: &str) -> Result<RpcClient> {
        Ok(RpcClient {
            http: reqwest::Client::builder()
                .tcp_nodelay(true)
                .timeout(Duration::from_secs(120))
                .build()?,
            url: url.to_owned(),
        })
    }

    async fn post(&self, body: reqwest::Body) -> Result<Value> {
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// One request; its `result`, or its error as a failure.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.post(body.to_string().into()).await?;
        result(response).with_context(|| method.to_owned())
    }

    /// A prebuilt batch; the results in request order, or the first error as a failure.
    pub(crate) async fn batch(&self, body: &Bytes) -> Result<Vec<Value>> {
        let response = self.post(body.0.clone().into()).await?;
        let Value::Array(mut responses) = response else {
            bail!("a batch was answered with {response}");
        };
        // Answers to a batch may come in any order; put them back in request order.
        responses.sort_by_key(|r| r["id"].as_u64());
        responses.into_iter().map(result).collect()
    }

    /// Polls the receipt of `hash` until it exists or `deadline` passes.
    pub(crate) async fn wait_for_receipt(&self, hash: B256, deadline: Instant) -> Result<Value> {
        loop {
            let receipt = self
                .call("eth_getTransactionReceipt", json!([hash]))
                .await?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            if Instant::now() > deadline {
                bail!("no receipt for {hash} before the deadline");
            }
            tokio::time::sleep(RECEIPT_POLL).await;
        }
    }

    /// `anchorCount()` of the anchors contract at `anchors`, in the latest block.
    pub(crate) async fn anchor_count(&self, anchors: Address) -> Result<U256> {
        let data = Bytes::from(Anchors::anchorCountCall {}.abi_encode());
        let out: Bytes = serde_json::from_value(
            self.call("eth_call", json!([{"to": anchors, "data": data}, "latest"]))
                .await?,
        )?;
        Ok(Anchors::anchorCountCall::abi_decode_returns(&out)?)
    }

    /// Checks that every transaction has a receipt with status 1; returns their total gas.
    pub(crate) async fn check_receipts(&self, hashes: &[B256], batch: usize) -> Result<u64> {
        let mut gas = 0u64;
        for chunk in hashes.chunks(batch) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|h| ("eth_getTransactionReceipt", json!([h])))
                .collect();
            let receipts = self.batch(&batch_body(&calls)).await?;
            for (hash, receipt) in chunk.iter().zip(&receipts) {
                if receipt["status"] != "0x1" {
                    bail!("transaction {hash}: receipt {receipt}");
                }
                gas += quantity(&receipt["gasUsed"])?;
            }
        }
        Ok(gas)
    }
}

fn result(mut response: Value) -> Result<Value> {
    if let Some(error) = response.get("error") {
        bail!("JSON-RPC error {error}");
    }
    match response.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => bail!("malformed JSON-RPC response {response}"),
    }
}

/// A hexadecimal JSON-RPC quantity.
pub(crate) fn quantity(value: &Value) -> Result<u64> {
    let s = value.as_str().context("quantity is not a string")?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

/// The body of a JSON-RPC batch, with ids `0..`.
pub(crate) fn batch_body(calls: &[(&str, Value)]) -> Bytes {
    let requests: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(id, (method, params))| {
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        })
        .collect();
    Bytes::from(serde_json::to_vec(&requests).expect("JSON values serialise"))
}

/// Batches of `eth_sendRawTransaction`, `batch` transactions each, built before the clock.
pub(crate) fn send_bodies(raw: &[Bytes], batch: usize) -> Vec<Bytes> {
    raw.chunks(batch)
        .map(|chunk| {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|tx| ("eth_sendRawTransaction", json!([tx])))
                .collect();
            batch_body(&calls)
        })
        .collect()
}

/// Sends every batch over `connections` connections at once, each taking the next
/// unsent batch when its previous one is answered. Every transaction must be accepted.
pub(crate) async fn send_all(url: &str, bodies: Arc<Vec<Bytes>>, connections: usize) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut lanes = Vec::with_capacity(connections);
    for _ in 0..connections {
        // A client each: its own connection, kept alive between batches.
        let client = RpcClient::new(url)?;
        let (bodies, next) = (bodies.clone(), next.clone());
        lanes.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                client
                    .batch(body)
                    .await
                    .with_context(|| format!("sending batch {i}"))?;
            }
        }));
    }
    for lane in lanes {
        lane.await??;
    }
    Ok(())
}
